"""A real headless browser on the web cockpit: Debian's chromium driven by Playwright, a demo
engine on the simulator and `weekly-er-tui web` as the trader runs them (subprocesses).

Shared by tests/web/test_browser.py, bench/bench_web.py and the screenshot script. The page
draws the terminal on a canvas (xterm.js), so the text is read from xterm's own buffer: an
init script keeps a reference to textual.js's terminal object as it is built (the first object
given a `fitAddon`), and `SCREEN_JS` returns its visible lines.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
HOOK_JS = """
window.__werTerminals = [];
Object.defineProperty(Object.prototype, 'fitAddon', {
  configurable: true,
  set(value) {
    window.__werTerminals.push(this);
    Object.defineProperty(this, 'fitAddon', {value, writable: true, configurable: true});
  },
});
window.__werScreen = () => {
  const t = window.__werTerminals[0];
  if (!t || !t.terminal) return '';
  const buffer = t.terminal.buffer.active, lines = [];
  for (let i = 0; i < t.terminal.rows; i++) {
    const line = buffer.getLine(buffer.viewportY + i);
    lines.push(line ? line.translateToString(true) : '');
  }
  return lines.join('\\n');
};
"""
SCREEN_JS = "window.__werScreen()"
FULL_COCKPIT = "Positions (10)"  # the demo's ten positions, drawn
# In the page itself, every 5 ms until it holds: when the terminal's buffer first held the full
# cockpit, in ms since the page was opened (performance.now() counts from the navigation's
# start). Measured where it happens, so a driver's round trips are not counted as the page's.
FULL_AT_JS = ("(function tick() {\n"
              f"  if (window.__werScreen().includes({json.dumps(FULL_COCKPIT)})) {{\n"
              "    window.__werFullAt = performance.now(); return; }\n"
              "  setTimeout(tick, 5);\n"
              "})();\n")


def chromium_or_skip() -> str:
    """Debian's chromium and Playwright, or a skip saying what is missing; under CI=true a
    failure (the Makefile installs chromium there: a missing one is a broken set-up)."""
    missing = []
    path = CHROMIUM if os.access(CHROMIUM, os.X_OK) else shutil.which("chromium")
    if path is None:
        missing.append("Debian's chromium (apt-get install -y chromium; `make test` installs "
                       "it when run as root or with CI=true)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("Playwright's Python package (pip install -e '.[dev]')")
    if missing:
        why = "the browser test needs " + " and ".join(missing)
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true: {why}", pytrace=False)
        pytest.skip(why)
    assert path is not None
    return path


def engine_status(data_dir: Path) -> dict[str, Any] | None:
    """The engine's `status` reply over its control socket, or None while none answers.
    Blocking on purpose: Playwright's sync API keeps an event loop running in this thread."""
    import socket

    from weekly_er_tui.control.protocol import decode, encode, short_address, socket_path

    path = socket_path(data_dir)
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(5)
            with short_address(path) as address:
                sock.connect(address)
            sock.sendall(encode({"cmd": "status"}))
            with sock.makefile("rb") as stream:
                line = stream.readline()
    except OSError:
        return None
    return decode(line) if line else None


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "weekly_er_tui.cli", *args]


@dataclass
class Demo:
    data_dir: Path
    process: subprocess.Popen[bytes]


@contextmanager
def demo_engine(data_dir: Path, timeout: float = 60.0) -> Iterator[Demo]:
    """`weekly-er-tui demo --headless`: the engine on the embedded simulator, on the wall clock,
    serving its control socket; yields once it is connected."""
    log = open(data_dir.parent / "demo.log", "wb")
    process = subprocess.Popen(cli("demo", "--headless", "--data-dir", str(data_dir)),
                               stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + timeout
        while True:
            status = engine_status(data_dir)
            if status and status["status"]["connection_state"] == "CONNECTED":
                break
            assert process.poll() is None, (data_dir.parent / "demo.log").read_text()
            assert time.monotonic() < deadline, "the demo engine never connected"
            time.sleep(0.2)
        yield Demo(data_dir, process)
    finally:
        stop(process)
        log.close()


@dataclass
class Web:
    port: int
    process: subprocess.Popen[str]
    lines: list[str]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"


@contextmanager
def web_server(*args: str, timeout: float = 30.0) -> Iterator[Web]:
    """`weekly-er-tui web ARGS --port 0`; yields once it printed its start-up lines."""
    process = subprocess.Popen(cli("web", "--port", "0", *args), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first, process.stderr.read() if process.stderr else "web server died"
        lines = [first, process.stdout.readline()]
        port = int(first.split(" on http://", 1)[1].split("/", 1)[0].rsplit(":", 1)[1])
        yield Web(port, process, lines)
    finally:
        stop(process)


def stop(process: subprocess.Popen[Any]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)


def launch(playwright: Any, executable: str) -> Any:
    # --no-sandbox: chromium's sandbox refuses to start as root (CI runs as root).
    return playwright.chromium.launch(executable_path=executable, headless=True,
                                      args=["--no-sandbox", "--disable-gpu"])


def open_cockpit(browser: Any, url: str, timeout_s: float = 60.0) -> tuple[Any, float]:
    """A new page on `url`, waited on until the full cockpit is drawn; (page, seconds from
    opening the page to the full cockpit, as the page's own clock saw it)."""
    page = browser.new_page(viewport={"width": 1500, "height": 950})
    page.add_init_script(HOOK_JS + FULL_AT_JS)
    page.goto(url)
    page.wait_for_function(f"{SCREEN_JS}.includes({json.dumps(FULL_COCKPIT)})",
                           timeout=timeout_s * 1000, polling=50)
    page.wait_for_function("window.__werFullAt !== undefined", timeout=5000)
    return page, float(page.evaluate("window.__werFullAt")) / 1000


def screen(page: Any) -> str:
    return str(page.evaluate(SCREEN_JS))
