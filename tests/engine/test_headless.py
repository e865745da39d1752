"""`weekly-er-tui run --headless` and `demo --headless` as a trader runs them (a subprocess under
tmux or systemd): SIGTERM stops them cleanly, exit 0, orders and positions left as they are, a
"monitoring stopped" event, and every journal CSV intact."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.engine.rig import ACCOUNT, scenario_data
from tests.fixtures_sim import wait_until
from weekly_er_tui.clock import WallClock
from weekly_er_tui.journal import EVENT_COLUMNS, TRADE_COLUMNS
from weekly_er_tui.sim import SimulatedGateway, parse_scenario

BOUND = 60.0  # real seconds for a subprocess to start, connect or stop (a loaded CI machine)


class Proc:
    def __init__(self, args: list[str], cwd: Path) -> None:
        self.stderr_path = cwd / "stderr.txt"
        self._err = open(self.stderr_path, "w")  # closed in stop()
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.p = subprocess.Popen(
            [sys.executable, "-m", "weekly_er_tui.cli", *args], cwd=cwd, env=env,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self._err,
        )

    def output(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    async def wait_for(self, predicate: Callable[[], object], what: str) -> None:
        def check() -> object:
            if self.p.poll() is not None:
                raise AssertionError(f"exited {self.p.returncode} before {what}:\n"
                                     + self.output()[-3000:])
            return predicate()

        await wait_until(check, timeout=BOUND, interval=0.05)

    async def terminate(self, sig: signal.Signals = signal.SIGTERM) -> int:
        self.p.send_signal(sig)
        await wait_until(lambda: self.p.poll() is not None, timeout=BOUND, interval=0.05)
        return self.p.returncode

    def stop(self) -> None:
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait(10)
        self._err.close()


@pytest.fixture
def procs() -> Iterator[list[Proc]]:
    made: list[Proc] = []
    yield made
    for p in made:
        p.stop()


def read_strict(path: Path, columns: tuple[str, ...]) -> list[dict[str, str]]:
    """Parse a journal CSV: the header, and every row with exactly its columns."""
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert tuple(rows[0]) == columns, path
    for n, row in enumerate(rows[1:], start=2):
        assert len(row) == len(columns), f"{path.name} line {n} is torn: {row}"
    return [dict(zip(columns, r, strict=True)) for r in rows[1:]]


def assert_journal_intact(logs: Path) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    events = read_strict(logs / "events_log.csv", EVENT_COLUMNS)
    for e in events:
        json.loads(e["details"])
    trades = read_strict(logs / "trade_journal.csv", TRADE_COLUMNS)
    ids = [t["exec_id"] for t in trades]
    assert len(ids) == len(set(ids))
    assert (logs / "enhanced_trading.log").stat().st_size > 0
    return events, trades


def assert_stopped_cleanly(events: list[dict[str, str]], sig: str = "SIGTERM") -> None:
    messages = [e["message"] for e in events]
    i = messages.index(f"{sig} received: stopping cleanly")
    stopped = [m for m in messages[i:] if m.startswith("Monitoring stopped")]
    assert len(stopped) == 1 and "left as they are" in stopped[0]
    alerts = [e for e in events[i:] if json.loads(e["details"]).get("key") == "monitoring_stopped"]
    assert alerts, "the 'monitoring stopped' alert was sent"
    # Never a surprise flatten on shutdown.
    assert not [e for e in events[i:] if e["event_type"] in ("ORDER_SUBMITTED", "EMERGENCY_CLOSE",
                                                             "FRIDAY_CLOSE")]


async def test_demo_headless_stops_cleanly_on_sigterm_with_the_journal_intact(
    tmp_path: Path, procs: list[Proc]
) -> None:
    # The demo on this suite's scenario, Monday 09:59:30 ET at 60x: the two entries of the
    # calendar (JNJ reports Monday after the close, MSFT Tuesday before the open) go at 10:00,
    # half a second in.
    scenario = tmp_path / "scenario.json"
    scenario.write_text(json.dumps(scenario_data() | {"earnings": [
        {"symbol": "JNJ", "weekday": "mon", "timing": "AMC"},
        {"symbol": "MSFT", "weekday": "tue", "timing": "BMO"},
    ]}))
    data = tmp_path / "data"
    proc = Proc(["demo", "--headless", "--scenario", str(scenario), "--data-dir", str(data),
                 "--clock-speed", "60", "--clock-start", "2026-11-16T09:59:30", "--run-for", "3h"],
                tmp_path)
    procs.append(proc)
    await proc.wait_for(lambda: "Demo: simulated gateway on" in proc.output(), "it ran")
    trades = data / "logs" / "trade_journal.csv"
    await proc.wait_for(lambda: trades.exists() and trades.read_text().count(",ENTRY\n") == 2,
                        "both entries filled")
    assert await proc.terminate() == 0, proc.output()[-3000:]

    events, rows = assert_journal_intact(data / "logs")
    assert_stopped_cleanly(events)
    assert sorted((r["symbol"], r["side"], r["reason"]) for r in rows) == [
        ("JNJ", "BOT", "ENTRY"), ("MSFT", "BOT", "ENTRY")]
    assert "Traceback" not in proc.output()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP],
                         ids=lambda s: s.name)
async def test_run_headless_stops_cleanly_on_a_signal(
    tmp_path: Path, procs: list[Proc], sig: signal.Signals
) -> None:
    """The literal `run --headless --config PATH --data-dir DIR` on the wall clock, against a
    simulated gateway in this process."""
    gw = SimulatedGateway(parse_scenario(scenario_data()), WallClock(), port=0, seed=3)
    await gw.start()
    try:
        config = tmp_path / "config.json"
        config.write_text(json.dumps({
            "ib_host": "127.0.0.1", "ib_port": gw.port, "ib_client_id": 11, "account": ACCOUNT,
            "connection_monitoring": {"heartbeat_interval": 1, "heartbeat_timeout": 3,
                                      "connect_timeout": 5},
        }))
        data = tmp_path / "data"
        proc = Proc(["run", "--headless", "--config", str(config), "--data-dir", str(data)],
                    tmp_path)
        procs.append(proc)
        events_csv = data / "logs" / "events_log.csv"
        await proc.wait_for(lambda: events_csv.exists() and ",CONNECTED," in events_csv.read_text(),
                            "it connected")
        await proc.wait_for(lambda: 11 in gw.clients, "the gateway saw it")
        assert await proc.terminate(sig) == 0, proc.output()[-3000:]
        await gw.wait_for(lambda: 11 not in gw.clients)  # it disconnected
        assert gw.account.positions["KO"][0] == 100 and not gw.order_refs_received
        events, rows = assert_journal_intact(data / "logs")
        assert_stopped_cleanly(events, sig.name)
        assert rows == []
        assert "Traceback" not in proc.output()
    finally:
        await gw.stop()
