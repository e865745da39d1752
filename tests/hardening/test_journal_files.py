"""A journal file deleted or replaced under the running app, and a row torn inside a quote."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.engine.rig import Rig, close_rig, et, open_rig
from weekly_er_tui.clock import ManualClock
from weekly_er_tui.journal import EVENT_COLUMNS, Fill, Journal, read_csv
from weekly_er_tui.model import EventType, Severity

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    r = await open_rig(tmp_path, ManualClock(et(2026, 11, 18, 9, 0)), [
        "AAPL,2026-11-18,AMC,,",  # entry Wed 10:00
        "JNJ,2026-11-19,AMC,,", "NVDA,2026-11-20,BMO,,",  # entries Thu 10:00
    ])
    try:
        yield r
    finally:
        await close_rig(r)


async def test_a_trade_journal_deleted_while_running_gets_every_later_fill(rig: Rig) -> None:
    await rig.start_engine()
    await rig.enter(et(2026, 11, 18, 10))
    trades = rig.data_dir / "logs" / "trade_journal.csv"
    assert [r["symbol"] for r in read_csv(trades)] == ["AAPL"]
    trades.unlink()
    first = {x.exec_id for x in rig.ours()}

    def later_all_in_new_journal() -> bool:
        later = {x.exec_id for x in rig.ours()} - first
        return bool(later) and trades.exists() and later <= {
            r["exec_id"] for r in read_csv(trades)}

    await rig.step_to_entry(et(2026, 11, 19, 10))
    await rig.until(lambda: len(rig.ours()) == 3 and later_all_in_new_journal())
    fc = rig.close_state()
    rig.manual.set(fc.close_at)
    await rig.until(lambda: len(rig.ours()) == 6 and later_all_in_new_journal())
    rows = read_csv(trades)
    assert sorted(r["symbol"] for r in rows) == ["AAPL", "JNJ", "JNJ", "NVDA", "NVDA"]
    assert {r["reason"] for r in rows} == {"ENTRY", "FRIDAY_CLOSE"}
    assert not {r["exec_id"] for r in rows} & first
    reopened = [e for e in rig.events(EventType.SYSTEM) if e["details"].get("what") == "deleted"]
    assert len(reopened) == 1 and reopened[0]["severity"] == "HIGH"
    assert "trade_journal.csv was deleted" in reopened[0]["message"]


def test_a_journal_replaced_under_the_app_is_reopened(tmp_path: Path) -> None:
    journal = Journal(tmp_path, ManualClock(NOW))
    events = tmp_path / "logs" / "events_log.csv"
    journal.event(EventType.SYSTEM, Severity.INFO, "first")
    # Log rotation by hand: the file is moved away and an empty one put in its place.
    events.rename(events.with_suffix(".old"))
    events.write_text("")
    journal.event(EventType.SYSTEM, Severity.INFO, "second")
    rows = read_csv(events)
    assert rows[0]["message"] == "second"
    assert any("events_log.csv was replaced" in r["message"] for r in rows)
    assert [r["message"] for r in read_csv(events.with_suffix(".old"))] == ["first"]
    journal.close()


def test_an_events_row_torn_inside_a_quote_does_not_swallow_the_next_event(
    tmp_path: Path
) -> None:
    journal = Journal(tmp_path, ManualClock(NOW))
    journal.event(EventType.SYSTEM, Severity.INFO, "whole")
    journal.close()
    events = tmp_path / "logs" / "events_log.csv"
    # Killed mid-write inside the quoted message field.
    with open(events, "ab") as fh:
        fh.write(b'2026-11-20T10:00:01.000-05:00,SYSTEM,INFO,"a message, cut sh')
    journal = Journal(tmp_path, ManualClock(NOW))
    journal.event(EventType.SYSTEM, Severity.INFO, "after the restart")
    journal.close()
    rows = read_csv(events)
    messages = [r["message"] for r in rows]
    assert messages[0] == "whole"
    assert messages[1].startswith("a message, cut sh")
    assert "after the restart" in messages, messages
    after = rows[messages.index("after the restart")]
    assert after["event_type"] == "SYSTEM" and after["severity"] == "INFO"
    assert list(after) == list(EVENT_COLUMNS)
    repaired = [r for r in rows if r["details"] and "torn inside a quoted field" in r["details"]]
    assert repaired, "the repair is itself an event"


def test_a_trade_row_torn_inside_a_quote_keeps_the_next_fill(tmp_path: Path) -> None:
    journal = Journal(tmp_path, ManualClock(NOW))
    journal.close()
    trades = tmp_path / "logs" / "trade_journal.csv"
    with open(trades, "ab") as fh:
        fh.write(b'2026-11-20T10:00:01.000-05:00,r1,1,2,e1,AAPL,BOT,10,200,,,"ENT')
    journal = Journal(tmp_path, ManualClock(NOW))
    assert journal.record_fill(Fill("e2", "MSFT", "BOT", 5, 400.0, reason="ENTRY"))
    journal.close()
    assert [r["exec_id"] for r in read_csv(trades)] == ["e1", "e2"]
    assert os.path.getsize(trades) > 0
