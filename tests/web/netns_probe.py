"""Run inside a network namespace of its own (`unshare -n`, made by test_browser.py): give its
loopback device a non-loopback address, serve `weekly-er-tui web --host 0.0.0.0` there, and open
it in chromium at that address, first without the token, then with it. Prints what the browser
saw as one JSON line. All of its traffic stays inside that namespace.

    unshare -n python tests/web/netns_probe.py DATA_DIR TOKEN_FILE CHROMIUM
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.web.browser import FULL_COCKPIT, launch, open_cockpit, screen, web_server

ADDRESS = "10.77.0.1"


def main(data_dir: str, token_file: str, chromium: str) -> int:
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    subprocess.run(["ip", "addr", "add", f"{ADDRESS}/32", "dev", "lo"], check=True)
    from playwright.sync_api import sync_playwright

    seen: dict[str, object] = {}
    with web_server("--host", "0.0.0.0", "--data-dir", data_dir, "--token-file",
                    token_file) as web, sync_playwright() as p:
        url = f"http://{ADDRESS}:{web.port}/"
        browser = launch(p, chromium)
        try:
            page = browser.new_page()
            response = page.goto(url)
            seen["without_token_status"] = response.status if response else None
            seen["without_token_text"] = page.inner_text("body")
            asset = page.goto(f"http://{ADDRESS}:{web.port}/static/js/textual.js")
            seen["asset_without_token_status"] = asset.status if asset else None
            token = Path(token_file).read_text().strip()
            cockpit, seconds = open_cockpit(browser, f"{url}?token={token}")
            seen["with_token_cockpit"] = FULL_COCKPIT in screen(cockpit)
            seen["with_token_url"] = cockpit.url
            seen["seconds"] = seconds
        finally:
            browser.close()
    print(json.dumps(seen))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(*sys.argv[1:4]))
