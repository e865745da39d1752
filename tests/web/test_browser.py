"""The web cockpit in a real headless browser (Debian's chromium, driven by Playwright), on a
real `weekly-er-tui demo --headless` engine and a real `weekly-er-tui web`: the page shows the
demo's positions and a heartbeat that moves; a key that acts is refused in read-only mode, on
the page; bound to a non-loopback address, a request without the token is refused.

A missing browser skips (with the reason) outside CI and fails under CI=true."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.web.browser import (
    SCREEN_JS,
    Demo,
    chromium_or_skip,
    demo_engine,
    engine_status,
    launch,
    open_cockpit,
    screen,
    web_server,
)

HERE = Path(__file__).resolve().parent
HEARTBEAT = re.compile(r"heartbeat (\S+ ago)")

# One demo engine for the module: it takes ~5 s to start; the tests only watch it.
pytestmark = pytest.mark.xdist_group("web-browser")


@pytest.fixture(scope="module")
def chromium() -> str:
    return chromium_or_skip()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory, chromium: str) -> Iterator[Demo]:
    locks = tmp_path_factory.mktemp("web-locks")
    locks.chmod(0o700)
    before = os.environ.get("WEEKLY_ER_TUI_RUNTIME_DIR")
    os.environ["WEEKLY_ER_TUI_RUNTIME_DIR"] = str(locks)
    try:
        with demo_engine(tmp_path_factory.mktemp("web-demo") / "demo-data") as d:
            yield d
    finally:
        if before is None:
            os.environ.pop("WEEKLY_ER_TUI_RUNTIME_DIR", None)
        else:
            os.environ["WEEKLY_ER_TUI_RUNTIME_DIR"] = before


@pytest.fixture
def browser(chromium: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = launch(p, chromium)
        try:
            yield b
        finally:
            b.close()


def heartbeat(page: Any) -> str:
    found = HEARTBEAT.search(screen(page))
    assert found, screen(page)
    return found.group(1)


def test_the_page_shows_the_demo_cockpit_and_refuses_a_key_that_acts(
    demo: Demo, browser: Any,
) -> None:
    with web_server("--data-dir", str(demo.data_dir)) as web:
        page, _seconds = open_cockpit(browser, web.url)
        shown = screen(page)
        for symbol in ("AAPL", "MSFT", "NVDA", "JPM", "XOM"):
            assert re.search(rf"│ {symbol}\s", shown), symbol
        assert "Weekly ER" in page.title() and "read-only" in page.title()

        # The heartbeat moves: its age (or a new beat) differs a moment later.
        first = heartbeat(page)
        page.wait_for_function(
            f"(() => {{ const m = {SCREEN_JS}.match(/heartbeat (\\S+ ago)/);"
            f" return m && m[1] !== {json.dumps(first)}; }})()", timeout=15_000, polling=100)
        assert heartbeat(page) != first

        page.click("#terminal")
        page.keyboard.press("p")
        page.wait_for_function(f"{SCREEN_JS}.includes('refused, nothing sent')",
                               timeout=15_000, polling=100)
        told = re.sub(r"[\s▌│]+", " ", screen(page))
        assert "Read-only: p (pause) refused, nothing sent." in told
        assert "This web page is read-only" in told and "--allow-control" in told
        status = engine_status(demo.data_dir)
        assert status is not None and status["status"]["trading_state"] == "ACTIVE"


def test_with_no_engine_the_page_says_how_to_start_one(tmp_path: Path, browser: Any,
                                                       chromium: str) -> None:
    nothing = tmp_path / "no-engine"
    with web_server("--data-dir", str(nothing)) as web:
        page = browser.new_page()
        response = page.goto(web.url)
        assert response is not None and response.status == 503
        text = page.inner_text("body")
        assert "No engine is running" in text and "make demo" in text
        assert f"weekly-er-tui run --headless --data-dir {nothing}" in text


def _netns_or_skip() -> None:
    if shutil.which("unshare") and shutil.which("ip"):
        probe = subprocess.run(["unshare", "-n", "ip", "link", "set", "lo", "up"],
                               capture_output=True, text=True, timeout=30)
        if probe.returncode == 0:
            return
        why = f"`unshare -n` refused here ({probe.stderr.strip()}): it needs root"
    else:
        why = "`unshare` (util-linux) and `ip` (iproute2) are needed"
    why = (f"{why}; the non-loopback case runs in a network namespace of its own, so that its "
           f"traffic never leaves this machine")
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true: {why}", pytrace=False)
    pytest.skip(why)


def test_on_a_non_loopback_address_a_request_without_the_token_is_refused(
    demo: Demo, chromium: str, tmp_path: Path,
) -> None:
    _netns_or_skip()
    token_file = tmp_path / "web_token"
    result = subprocess.run(
        ["unshare", "-n", sys.executable, str(HERE / "netns_probe.py"), str(demo.data_dir),
         str(token_file), chromium], capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr[-3000:]
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["without_token_status"] == 403
    assert "needs its token" in seen["without_token_text"]
    assert seen["asset_without_token_status"] == 403
    # With the token once: the cookie, the address bar cleaned, the full cockpit.
    assert seen["with_token_cockpit"] is True
    assert "token=" not in seen["with_token_url"]
