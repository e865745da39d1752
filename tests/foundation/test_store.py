from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from weekly_er_tui.model import TradingState
from weekly_er_tui.store import SCHEMA_VERSION, Store, StoreError

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


def test_first_baseline_of_a_period_wins(tmp_path: Path) -> None:
    s = Store.in_data_dir(tmp_path)
    assert s.set_baseline_if_absent("week_nlv", "2026-W48", 100.0, T0) == 100.0
    assert s.set_baseline_if_absent("week_nlv", "2026-W48", 90.0, T0) == 100.0


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


def test_open_intent_symbols(tmp_path: Path) -> None:
    s = Store.in_data_dir(tmp_path)
    s.record_intent("e1", "AAPL", "BUY", 10, "MKT", "ENTRY", T0)
    s.record_intent("e2", "MSFT", "BUY", 10, "MKT", "ENTRY", T0)
    s.record_intent("x1", "JPM", "SELL", 10, "MKT", "EMERGENCY", T0)
    s.update_intent("e2", "FILLED", T0)
    assert s.open_intent_symbols("ENTRY") == {"AAPL"}
    assert s.open_intent_symbols("EMERGENCY") == {"JPM"}
