from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from weekly_er_tui.model import TradingState
from weekly_er_tui.order_life import (
    TRANSITIONS,
    ExecutionRecord,
    IllegalTransition,
    IntentStatus,
    OrderIntentRecord,
    check_transition,
    tracked_after,
)
from weekly_er_tui.store import SCHEMA_VERSION, Store, StoreError, UnknownIntent

T0 = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)


def test_state_survives_reopen(tmp_path: Path) -> None:
    s = Store.in_data_dir(tmp_path)
    assert s.trading_state() == (TradingState.ACTIVE, "")
    s.set_trading_state(TradingState.HALTED, "emergency stop: portfolio -10.4%", T0)
    s.track_position("AAPL", 50, "wer-1", T0)
    s.track_position("AAPL", 25, "wer-2", T0)
    assert s.record_intent("wer-1", "AAPL", "BUY", 50, "MKT", "ENTRY", T0)
    s.update_intent("wer-1", "FILLED", T0, order_id=11, perm_id=77, filled=50)
    s.set_baseline("session_nlv", "2026-11-23", 250_000.0, T0)
    s.close()

    s2 = Store.in_data_dir(tmp_path)
    assert s2.schema_version == SCHEMA_VERSION
    assert s2.trading_state() == (TradingState.HALTED, "emergency stop: portfolio -10.4%")
    assert s2.tracked_positions()["AAPL"].quantity == 75
    rec = s2.intent("wer-1")
    assert rec is not None and rec.status == "FILLED" and rec.order_id == 11 and rec.filled == 50
    assert s2.baseline("session_nlv", "2026-11-23") == 250_000.0
    s2.close()


def test_intent_is_recorded_once(tmp_path: Path) -> None:
    s = Store.in_data_dir(tmp_path)
    assert s.record_intent("wer-9", "NVDA", "BUY", 10, "MKT", "ENTRY", T0) is True
    assert s.record_intent("wer-9", "NVDA", "BUY", 10, "MKT", "ENTRY", T0) is False
    assert [i.order_ref for i in s.intents()] == ["wer-9"]
    assert s.intents()[0].is_open


def test_tracked_position_closes_at_zero(tmp_path: Path) -> None:
    s = Store.in_data_dir(tmp_path)
    s.track_position("TSLA", 10, "r", T0)
    s.track_position("TSLA", -10, "r", T0)
    assert s.tracked_positions() == {}


def test_wal_mode(tmp_path: Path) -> None:
    s = Store.in_data_dir(tmp_path)
    assert s._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_corrupt_file_is_reported_and_moved_aside_not_replaced(tmp_path: Path) -> None:
    path = tmp_path / "state" / "weekly_er.sqlite"
    path.parent.mkdir()
    garbage = b"this is not a database " * 200
    path.write_bytes(garbage)
    with pytest.raises(StoreError) as info:
        Store(path)
    message = str(info.value)
    assert "cannot be read" in message and "moved aside" in message
    assert not path.exists()  # nothing silently created in its place
    aside = list(path.parent.glob("weekly_er.sqlite.corrupt-*"))
    assert len(aside) == 1 and aside[0].read_bytes() == garbage
    assert str(aside[0]) in message


# -- the order's life: one typed state machine, one writer --------------------------------------

def _intent(s: Store, ref: str = "wer-1", qty: float = 10, reason: str = "ENTRY") -> None:
    assert s.record_intent(ref, "AAPL", "BUY", qty, "MKT", reason, T0)


def test_intents_come_back_typed(tmp_path: Path) -> None:
    s = Store.in_data_dir(tmp_path)
    _intent(s)
    rec = s.update_intent("wer-1", IntentStatus.SUBMITTED, T0, order_id=5)
    assert isinstance(rec, OrderIntentRecord) and rec.status is IntentStatus.SUBMITTED
    assert rec.order_id == 5 and rec.is_open
    assert [r.status for r in s.intents(IntentStatus.SUBMITTED)] == [IntentStatus.SUBMITTED]
    # The values are the strings the store kept before: old rows and old callers still work.
    assert IntentStatus.SUBMITTED == "SUBMITTED" and s.intents("SUBMITTED") == [rec]


def test_a_table_with_a_later_column_still_reads(tmp_path: Path) -> None:
    """Rows are read by column name, not unpacked by position: a column added later (or in
    another order) cannot shift a status into a quantity."""
    s = Store.in_data_dir(tmp_path)
    _intent(s)
    s._db.execute("ALTER TABLE order_intents ADD COLUMN note TEXT NOT NULL DEFAULT ''")
    rec = s.intent("wer-1")
    assert rec is not None and rec.status is IntentStatus.RECORDED and rec.quantity == 10


@pytest.mark.parametrize(("path", "illegal"), [
    (["SUBMITTED", "REJECTED"], "CANCELLED"),   # IB's refusal is never overwritten as a cancel
    (["SUBMITTED", "FILLED"], "PARTIAL"),
    (["SUBMITTED", "CANCELLED"], "SUBMITTED"),
    (["UNSENT"], "SUBMITTED"),                  # an order that never left is never "sent"
    (["SUBMITTED"], "RECORDED"),
    (["SUBMITTED"], "DENIED"),                  # DENIED is our gate's, before anything is sent
])
def test_an_illegal_transition_raises_and_writes_nothing(
    tmp_path: Path, path: list[str], illegal: str
) -> None:
    s = Store.in_data_dir(tmp_path)
    _intent(s)
    for status in path:
        s.update_intent("wer-1", status, T0)
    with pytest.raises(IllegalTransition) as info:
        s.update_intent("wer-1", illegal, T0)
    assert f"{path[-1]} -> {illegal} is not allowed" in str(info.value)
    rec = s.intent("wer-1")
    assert rec is not None and rec.status == path[-1]


def test_the_transition_table_covers_every_status() -> None:
    assert set(TRANSITIONS) == set(IntentStatus)
    for status, targets in TRANSITIONS.items():
        for target in targets:
            check_transition("r", status, target)  # every listed move is allowed
    # The ends only ever "move" to themselves (a figure changes, not the fate).
    for end in (IntentStatus.FILLED, IntentStatus.CANCELLED, IntentStatus.REJECTED):
        assert TRANSITIONS[end] == {end}
    assert TRANSITIONS[IntentStatus.DENIED] == set()


def test_a_status_for_an_unknown_ref_raises(tmp_path: Path) -> None:
    s = Store.in_data_dir(tmp_path)
    with pytest.raises(UnknownIntent):
        s.update_intent("never-recorded", IntentStatus.SUBMITTED, T0)


def _exec(exec_id: str, qty: float, price: float = 100.0, ref: str = "wer-1") -> ExecutionRecord:
    return ExecutionRecord(exec_id, ref, "AAPL", qty, price, T0.isoformat())


def test_an_execution_counts_once(tmp_path: Path) -> None:
    s = Store.in_data_dir(tmp_path)
    _intent(s)
    s.update_intent("wer-1", IntentStatus.SUBMITTED, T0)
    applied = s.apply_execution(_exec("e.01.01", 4), T0)
    assert applied is not None and applied.delta == 4
    assert applied.intent is not None and applied.intent.status is IntentStatus.PARTIAL
    assert s.apply_execution(_exec("e.01.01", 4), T0) is None  # the same execId again
    applied = s.apply_execution(_exec("e.02.01", 6), T0)
    assert applied is not None and applied.intent is not None
    assert applied.intent.status is IntentStatus.FILLED and applied.intent.filled == 10
    assert s.tracked_positions()["AAPL"].quantity == 10


def test_a_correction_replaces_the_execution_it_corrects(tmp_path: Path) -> None:
    """A 10-share order corrected .01 -> .02: filled 10 and a tracked position of 10, not 20."""
    s = Store.in_data_dir(tmp_path)
    _intent(s)
    s.update_intent("wer-1", IntentStatus.SUBMITTED, T0)
    s.apply_execution(_exec("0000e0d5.6564f2b5.01.01", 10, 100.00), T0)
    applied = s.apply_execution(_exec("0000e0d5.6564f2b5.01.02", 10, 100.05), T0)
    assert applied is not None and applied.delta == 0
    assert applied.replaced is not None and applied.replaced.exec_id.endswith(".01.01")
    rec = s.intent("wer-1")
    assert rec is not None and rec.filled == 10 and rec.status is IntentStatus.FILLED
    assert s.tracked_positions()["AAPL"].quantity == 10
    [standing] = s.executions("wer-1")
    assert standing.exec_id.endswith(".01.02") and standing.corrects.endswith(".01.01")
    assert [x.superseded_by for x in s.executions("wer-1", standing=False)] == [
        standing.exec_id, ""]
    # A correction of shares adds only the difference.
    s.apply_execution(_exec("0000e0d5.6564f2b5.01.03", 8, 100.05), T0)
    rec = s.intent("wer-1")
    assert rec is not None and rec.filled == 8
    assert s.tracked_positions()["AAPL"].quantity == 8


def test_the_commission_comes_later(tmp_path: Path) -> None:
    s = Store.in_data_dir(tmp_path)
    _intent(s)
    s.apply_execution(_exec("e.01.01", 10), T0)
    s.set_execution_costs("e.01.01", 1.0, None)
    x = s.execution("e.01.01")
    assert x is not None and x.commission == 1.0 and x.realized_pnl is None


def test_closing_fills_never_turn_a_tracked_long_short(tmp_path: Path) -> None:
    s = Store.in_data_dir(tmp_path)
    s.track_position("AAPL", 10, "wer-1", T0)
    _intent(s, "wer-close", 15, "EMERGENCY")
    s.apply_execution(_exec("c.01.01", -15, ref="wer-close"), T0)
    assert s.tracked_positions() == {}
    assert tracked_after(None, 5, opening=False) is None  # not the strategy's: not tracked
    assert tracked_after(None, 5, opening=True) == 5
