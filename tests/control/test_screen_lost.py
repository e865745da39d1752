"""The cockpit in a real terminal (a tmux pane), on the wall clock, against a simulated gateway:
the terminal is closed (the pane killed, as an SSH drop does), and the engine goes on exactly as
headless would: it still heartbeats and checks, says so (event and MEDIUM alert), answers on its
socket, and SIGTERM later stops it cleanly."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.engine.rig import ACCOUNT, scenario_data
from tests.engine.test_headless import assert_journal_intact, assert_stopped_cleanly
from tests.fixtures_sim import wait_until
from weekly_er_tui.clock import WallClock
from weekly_er_tui.control.client import NoEngine, request
from weekly_er_tui.control.protocol import socket_path
from weekly_er_tui.sim import SimulatedGateway, parse_scenario

BOUND = 60.0
HEARTBEAT_S = 1.0

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")


class Tmux:
    """A tmux server of this test's own (its own socket name): killed by the test, by name."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __call__(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.name, *args], check=True,
                              capture_output=True, text=True).stdout

    def kill(self) -> None:
        subprocess.run(["tmux", "-L", self.name, "kill-server"], capture_output=True)


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[Tmux]:
    t = Tmux(f"wer-test-{os.getpid()}-{tmp_path.name}")
    try:
        yield t
    finally:
        t.kill()


@pytest.fixture
async def gw() -> AsyncIterator[SimulatedGateway]:
    g = SimulatedGateway(parse_scenario(scenario_data()), WallClock(), port=0, seed=3)
    await g.start()
    try:
        yield g
    finally:
        await g.stop()


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture
def pids() -> Iterator[list[int]]:
    """The engines this test started (outside tmux once the pane is gone): killed if the test
    fails before it stops them."""
    made: list[int] = []
    yield made
    for pid in made:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


Status = Callable[[], Awaitable[dict[str, Any]]]


async def start_cockpit(tmp_path: Path, tmux: Tmux, gw: SimulatedGateway,
                        pids: list[int]) -> tuple[Path, int, Status]:
    """`weekly-er-tui run` (the app) in a tmux pane, on the wall clock; returns the data
    directory, the engine's pid, and a status call through its socket."""
    config = tmp_path / "config.json"
    config.write_text(json.dumps({
        "ib_host": "127.0.0.1", "ib_port": gw.port, "ib_client_id": 11, "account": ACCOUNT,
        "connection_monitoring": {"heartbeat_interval": HEARTBEAT_S, "heartbeat_timeout": 3,
                                  "connect_timeout": 5, "safety_check_interval": 1},
    }))
    data = tmp_path / "data"
    env = {k: os.environ[k] for k in ("PYTHONPATH", "WEEKLY_ER_TUI_RUNTIME_DIR", "PATH")
           if k in os.environ}
    command = " ".join(
        ["env", *(f"{k}={v}" for k, v in env.items()), "TERM=xterm-256color",
         sys.executable, "-m", "weekly_er_tui.cli", "run", "--config", str(config),
         "--data-dir", str(data)])
    tmux("new-session", "-d", "-s", "cockpit", "-x", "160", "-y", "48", command)
    sock = socket_path(data)

    async def status() -> dict[str, Any]:
        reply = await request(sock, "status", timeout=10)
        assert reply["ok"], reply
        return reply

    async def connected() -> bool:
        try:
            reply = await status()
        except NoEngine:
            return False
        return reply["status"]["connection_state"] == "CONNECTED"  # type: ignore[index]

    deadline = asyncio.get_running_loop().time() + BOUND
    while not await connected():
        assert asyncio.get_running_loop().time() < deadline, "the app never connected"
        await asyncio.sleep(0.1)
    # The cockpit is on the screen.
    await wait_until(lambda: "Positions (1)" in tmux("capture-pane", "-p", "-t", "cockpit"),
                     timeout=BOUND, interval=0.1)
    pid = int((await status())["engine"]["pid"])  # type: ignore[index]
    pids.append(pid)

    return data, pid, status


async def test_closing_the_terminal_leaves_the_engine_monitoring(
    tmp_path: Path, tmux: Tmux, gw: SimulatedGateway, pids: list[int]
) -> None:
    data, pid, status = await start_cockpit(tmp_path, tmux, gw, pids)
    sock = socket_path(data)
    tmux.kill()  # the terminal goes: tmux closes the pane's pty, the kernel sends SIGHUP

    events_csv = data / "logs" / "events_log.csv"
    # Whichever comes first says it: the SIGHUP, or a write to the gone terminal failing.
    await wait_until(lambda: "Screen lost (" in events_csv.read_text(), timeout=BOUND,
                     interval=0.05)
    assert alive(pid), "the engine died with its terminal"
    # For a few heartbeat intervals the engine answers, and its last heartbeat is never older
    # than one interval (plus the time a beat takes on a loaded machine).
    beats: set[str] = set()
    checks: set[object] = set()
    loop = asyncio.get_running_loop()
    until = loop.time() + 4 * HEARTBEAT_S
    while loop.time() < until:
        st = (await status())["status"]
        conn = st["connection"]  # type: ignore[index]
        assert st["is_running"] and conn["state"] == "CONNECTED", st  # type: ignore[index]
        assert conn["last_heartbeat_age_s"] < HEARTBEAT_S + 1.0, conn
        beats.add(conn["last_heartbeat"])
        checks.add(st["last_safety_check"])
        await asyncio.sleep(0.2)
    assert len(beats) >= 3, beats  # new heartbeats, not one stale answer
    events, _ = assert_journal_intact(data / "logs")
    lost_at = next(i for i, e in enumerate(events) if e["message"].startswith("Screen lost"))
    assert events[lost_at]["severity"] == "MEDIUM"
    after = events[lost_at:]
    alert = [e for e in after if json.loads(e["details"]).get("key") == "screen_lost"]
    assert alert and "attach with `weekly-er-tui attach`" in alert[0]["message"]
    assert alert[0]["severity"] in ("MEDIUM", "INFO", "LOW", "HIGH")
    # Safety checks go on (unchanged timed checks are journaled hourly: safety/check_log.py).
    assert len(checks) >= 2, checks
    assert not [e for e in after if e["message"].startswith("Monitoring stopped")]

    os.kill(pid, signal.SIGTERM)
    await wait_until(lambda: not alive(pid), timeout=BOUND, interval=0.05)
    events, _ = assert_journal_intact(data / "logs")
    assert_stopped_cleanly(events)
    assert not sock.exists()
    log_text = (data / "logs" / "enhanced_trading.log").read_text(errors="replace")
    assert "Traceback" not in log_text, log_text[-3000:]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=lambda s: s.name)
async def test_a_stop_signal_stops_the_cockpit_cleanly_as_headless_does(
    tmp_path: Path, tmux: Tmux, gw: SimulatedGateway, pids: list[int], sig: signal.Signals
) -> None:
    data, pid, _status = await start_cockpit(tmp_path, tmux, gw, pids)
    os.kill(pid, sig)
    await wait_until(lambda: not alive(pid), timeout=BOUND, interval=0.05)
    events, _ = assert_journal_intact(data / "logs")
    assert_stopped_cleanly(events, sig.name)
    assert not [e for e in events if e["message"].startswith("Screen lost")]
    assert not socket_path(data).exists()
