"""The web cockpit's screenshot for the README, taken by Playwright in Debian's chromium: the
demo engine, `weekly-er-tui web` read-only, the page after the trader pressed p (refused).

    .venv/bin/python -m tests.web.screenshot screenshots/web-read-only.png
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

from tests.web.browser import (
    SCREEN_JS,
    chromium_or_skip,
    demo_engine,
    launch,
    open_cockpit,
    web_server,
)


def main(target: str) -> int:
    from playwright.sync_api import sync_playwright

    chromium = chromium_or_skip()
    with tempfile.TemporaryDirectory(prefix="wer-web-shot-") as tmp:
        locks = Path(tmp) / "locks"
        locks.mkdir(mode=0o700)
        os.environ["WEEKLY_ER_TUI_RUNTIME_DIR"] = str(locks)
        with demo_engine(Path(tmp) / "demo-data") as demo, \
                web_server("--data-dir", str(demo.data_dir)) as web, sync_playwright() as p:
            browser = launch(p, chromium)
            page, seconds = open_cockpit(browser, web.url)
            page.click("#terminal")
            page.keyboard.press("p")
            page.wait_for_function(f"{SCREEN_JS}.includes('refused, nothing sent')",
                                   timeout=15_000)
            time.sleep(0.5)  # the notification's fade-in
            page.screenshot(path=target)
            browser.close()
    print(f"{target}: the full cockpit {seconds:.2f} s after opening the page")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1] if len(sys.argv) > 1 else "screenshots/web-read-only.png"))
