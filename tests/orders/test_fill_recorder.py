"""FillRecorder over a real Store and Journal (ib_async's own Fill objects, no socket): an
execution is counted once whatever replays it, and a restart writes the journal row it missed."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from ib_async import IB, CommissionReport, Execution, Fill, Stock

from weekly_er_tui.broker.fills import FillRecorder
from weekly_er_tui.clock import ManualClock
from weekly_er_tui.journal import Fill as JournalFill
from weekly_er_tui.journal import Journal, read_csv
from weekly_er_tui.store import Store

T0 = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)


def ib_fill(exec_id: str, shares: float = 10, commission: float | None = None) -> Fill:
    ex = Execution(execId=exec_id, time=T0, side="BOT", shares=shares, price=150.0, orderId=3,
                   permId=77, orderRef="wer-entry-JNJ")
    report = CommissionReport(execId=exec_id, commission=commission or 0.0) \
        if commission is not None else CommissionReport()
    return Fill(Stock("JNJ", "SMART", "USD"), ex, report, T0)


def recorder(tmp_path: Path) -> tuple[FillRecorder, Store, Journal]:
    clock = ManualClock(T0)
    store = Store.in_data_dir(tmp_path)
    journal = Journal(tmp_path, clock)
    store.record_intent("wer-entry-JNJ", "JNJ", "BUY", 10, "MKT", "ENTRY", T0)
    store.update_intent("wer-entry-JNJ", "SUBMITTED", T0, order_id=3)
    return FillRecorder(IB(), journal, store, clock), store, journal


def test_a_counted_execution_is_journaled_after_a_restart_and_counted_once(
    tmp_path: Path
) -> None:
    fills, store, journal = recorder(tmp_path)
    # The execution arrived and was counted; the process died before its commission report.
    assert fills.count(ib_fill("e.01.01")) is True
    assert store.tracked_positions()["JNJ"].quantity == 10
    fills.close()
    journal.close()
    store.close()

    # The restart's resync sees the day's executions again, now with the commission.
    store = Store.in_data_dir(tmp_path)
    fills = FillRecorder(IB(), Journal(tmp_path, ManualClock(T0)), store, ManualClock(T0))
    fills.record(ib_fill("e.01.01", commission=1.0))
    fills.record(ib_fill("e.01.01", commission=1.0))
    rows = read_csv(tmp_path / "logs" / "trade_journal.csv")
    assert [(r["exec_id"], r["commission"]) for r in rows] == [("e.01.01", "1")]
    assert store.tracked_positions()["JNJ"].quantity == 10
    rec = store.intent("wer-entry-JNJ")
    assert rec is not None and rec.filled == 10
    x = store.execution("e.01.01")
    assert x is not None and x.commission == 1.0


def test_an_execution_journaled_before_the_store_counted_executions_is_not_counted_again(
    tmp_path: Path
) -> None:
    """A journal row from before this version: its quantities are in the store already."""
    fills, store, journal = recorder(tmp_path)
    journal.record_fill(JournalFill("e.01.01", "JNJ", "BOT", 10, 150.0,
                                    order_ref="wer-entry-JNJ", reason="ENTRY"))
    store.track_position("JNJ", 10, "wer-entry-JNJ", T0)
    store.update_intent("wer-entry-JNJ", "FILLED", T0, filled=10)
    assert fills.record(ib_fill("e.01.01", commission=1.0)) is False
    assert store.tracked_positions()["JNJ"].quantity == 10
    assert len(read_csv(tmp_path / "logs" / "trade_journal.csv")) == 1
