from __future__ import annotations

import csv
import logging
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from weekly_er_tui.clock import ManualClock
from weekly_er_tui.journal import (
    EVENT_COLUMNS,
    TRADE_COLUMNS,
    Fill,
    Journal,
    read_csv,
    remove_handlers,
    setup_logging,
)
from weekly_er_tui.model import EventType, Severity

T0 = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)


def test_files_headers_and_iso_timestamps(tmp_path: Path) -> None:
    j = Journal(tmp_path, ManualClock(T0))
    j.event(EventType.CONNECTED, Severity.INFO, "Connected to 127.0.0.1:7497", {"client_id": 7})
    j.record_fill(Fill("e1", "AAPL", "BOT", 10, 190.5, order_ref="wer-1", order_id=3,
                       perm_id=99, commission=1.0, reason="ENTRY"))
    j.close()
    with open(tmp_path / "logs/events_log.csv", newline="") as fh:
        rows = list(csv.reader(fh))
    assert tuple(rows[0]) == EVENT_COLUMNS
    assert rows[1][0] == "2026-11-23T10:00:00.000-05:00"
    assert rows[1][1:4] == ["CONNECTED", "INFO", "Connected to 127.0.0.1:7497"]
    assert rows[1][4] == '{"client_id": 7}'
    trades = read_csv(tmp_path / "logs/trade_journal.csv")
    assert list(trades[0]) == list(TRADE_COLUMNS)
    assert trades[0]["exec_id"] == "e1" and trades[0]["quantity"] == "10"
    assert trades[0]["price"] == "190.5" and trades[0]["reason"] == "ENTRY"


def test_fill_is_journaled_once_across_restart(tmp_path: Path) -> None:
    fill = Fill("exec-42", "MSFT", "SLD", 5, 410.0, reason="FRIDAY_CLOSE")
    j = Journal(tmp_path, ManualClock(T0))
    assert j.record_fill(fill) is True
    assert j.record_fill(fill) is False
    j.close()
    j2 = Journal(tmp_path, ManualClock(T0))
    assert j2.has_fill("exec-42")
    assert j2.record_fill(fill) is False
    assert j2.record_fill(Fill("exec-43", "MSFT", "SLD", 5, 410.0)) is True
    j2.close()
    rows = read_csv(tmp_path / "logs/trade_journal.csv")
    assert [r["exec_id"] for r in rows] == ["exec-42", "exec-43"]


def test_restart_appends_and_never_rewrites_header(tmp_path: Path) -> None:
    for i in range(3):
        j = Journal(tmp_path, ManualClock(T0))
        j.event(EventType.SYSTEM, Severity.INFO, f"start {i}")
        j.close()
    lines = (tmp_path / "logs/events_log.csv").read_text().splitlines()
    assert lines[0].startswith("timestamp,event_type")
    assert sum(1 for line in lines if line.startswith("timestamp,")) == 1
    assert [r["message"] for r in read_csv(tmp_path / "logs/events_log.csv")] == [
        "start 0", "start 1", "start 2",
    ]


WRITER = """
import sys
from weekly_er_tui.journal import Journal, Fill
from weekly_er_tui.model import EventType, Severity
j = Journal(sys.argv[1])
i = 0
while True:
    j.event(EventType.SYSTEM, Severity.INFO, f"row {i}", {"i": i, "text": "a,b\\nc"})
    j.record_fill(Fill(f"x{i}", "AAPL", "BOT", 1, 1.5))
    i += 1
"""


def test_killed_writer_leaves_every_row_parseable(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path)])
    events = tmp_path / "logs/events_log.csv"
    deadline = time.monotonic() + 30
    try:
        # Wait for real progress (not a fixed sleep): at least 300 lines on disk.
        while time.monotonic() < deadline:
            if events.exists() and events.read_bytes().count(b"\n") > 300:
                break
            time.sleep(0.02)
        else:
            raise AssertionError("writer made no progress")
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    # A restart repairs a torn last line and appends after it.
    j = Journal(tmp_path)
    j.event(EventType.SYSTEM, Severity.INFO, "after restart")
    j.close()
    rows = read_csv(events)
    assert len(rows) > 200
    complete = [r for r in rows if r["event_type"] == "SYSTEM" and r["severity"] == "INFO"]
    # Every row but at most one torn row is whole, and they are in order.
    assert len(complete) >= len(rows) - 1
    numbers = [int(r["message"].split()[1]) for r in complete if r["message"].startswith("row")]
    assert numbers == list(range(len(numbers)))
    assert rows[-1]["message"] == "after restart"
    trades = read_csv(tmp_path / "logs/trade_journal.csv")
    whole = [r for r in trades if r["reason"] == "" and r["price"] == "1.5"]
    assert len(whole) >= len(trades) - 1


def test_log_uses_the_guides_phrases(tmp_path: Path) -> None:
    handlers = setup_logging(tmp_path, "INFO", ManualClock(T0))
    try:
        j = Journal(tmp_path, ManualClock(T0))
        j.event(EventType.DISCONNECTED, Severity.HIGH, "peer closed the socket")
        j.event(EventType.SAFETY_VIOLATION, Severity.CRITICAL, "emergency_stop_loss breached")
        j.event(EventType.EMERGENCY_CLOSE, Severity.CRITICAL, "closing 3 positions")
        j.event(EventType.TRADING_PAUSED, Severity.MEDIUM, "by the trader")
        j.close()
    finally:
        remove_handlers(handlers)
    text = (tmp_path / "logs/enhanced_trading.log").read_text()
    for phrase in ("Connection lost", "CRITICAL violations", "Emergency close", "Trading paused"):
        assert phrase in text
    assert "2026-11-23T10:00:00.000-05:00" in text


def test_subscribers_see_events_after_disk(tmp_path: Path) -> None:
    j = Journal(tmp_path, ManualClock(T0))
    seen: list[int] = []

    def on_event(ev: object) -> None:
        # The row must already be on disk when a subscriber hears of it.
        seen.append(len(read_csv(tmp_path / "logs/events_log.csv")))

    def broken(ev: object) -> None:
        raise RuntimeError("subscriber bug")

    j.subscribe(broken)
    unsubscribe = j.subscribe(on_event)
    j.event(EventType.SYSTEM, Severity.INFO, "one")
    unsubscribe()
    j.event(EventType.SYSTEM, Severity.INFO, "two")
    j.close()
    assert seen == [1]
    logging.getLogger("weekly_er_tui").handlers.clear()


@pytest.mark.parametrize("level", ["INFO", "DEBUG"])
def test_ib_async_chatter_stays_out_of_the_log_unless_debug_is_asked(
    tmp_path: Path, level: str
) -> None:
    # 97% of a trader's log was ib_async.wrapper's INFO "updatePortfolio: ..." (2.8 MB/hour).
    handlers = setup_logging(tmp_path, level, ManualClock(T0))
    try:
        wrapper = logging.getLogger("ib_async.wrapper")
        wrapper.info("updatePortfolio: PortfolioItem(contract=Stock(symbol='AAPL'))")
        wrapper.debug("decoded message")
        wrapper.warning("Error 2103, reqId -1: Market data farm connection is broken:usfarm")
        logging.getLogger("weekly_er_tui.engine").info("Engine started")
    finally:
        remove_handlers(handlers)
        logging.getLogger("ib_async").setLevel(logging.NOTSET)
    text = (tmp_path / "logs/enhanced_trading.log").read_text()
    assert "Market data farm connection is broken" in text and "Engine started" in text
    assert ("updatePortfolio" in text) is (level == "DEBUG")
    assert ("decoded message" in text) is (level == "DEBUG")
