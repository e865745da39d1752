"""A whole week, Monday to Friday, against the simulated gateway: entries at their planned times
with their planned sizes, flat before Friday's close, every fill journaled once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.engine.rig import Rig, close_rig, et, open_rig
from weekly_er_tui.clock import ET, ManualClock
from weekly_er_tui.model import EventType, PlanStatus

# The week of Monday 2026-11-16: six reports, entries Monday, Tuesday and Thursday at 10:00 ET.
WEEK = [
    "AAPL,2026-11-16,AMC,,",  # entry Mon (report day, after the close)
    "MSFT,2026-11-17,BMO,,",  # entry Mon (the session before)
    "JPM,2026-11-17,AMC,short,",  # entry Tue, short
    "XOM,2026-11-18,BMO,,5000",  # entry Tue, its own notional
    "JNJ,2026-11-19,AMC,,",  # entry Thu
    "NVDA,2026-11-20,BMO,,",  # entry Thu
]


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    r = await open_rig(tmp_path, ManualClock(et(2026, 11, 16, 9, 0)), WEEK)
    try:
        yield r
    finally:
        await close_rig(r)


async def test_a_whole_week_enters_on_time_and_ends_flat(rig: Rig) -> None:
    await rig.start_engine()
    plan = rig.plan()
    assert [(e.symbol, e.planned_entry.astimezone(ET), e.side) for e in plan] == [
        ("AAPL", et(2026, 11, 16, 10), "BUY"), ("MSFT", et(2026, 11, 16, 10), "BUY"),
        ("JPM", et(2026, 11, 17, 10), "SELL"), ("XOM", et(2026, 11, 17, 10), "BUY"),
        ("JNJ", et(2026, 11, 19, 10), "BUY"), ("NVDA", et(2026, 11, 19, 10), "BUY"),
    ]
    assert all(e.status is PlanStatus.PLANNED for e in plan)

    sized_at: dict[str, tuple[float, ...]] = {}
    for day in (16, 17, 19):
        sized_at |= await rig.enter(et(2026, 11, day, 10))
    entries = {x.order_ref: x for x in rig.ours()}
    assert len(entries) == 6
    for e in rig.plan():
        x = entries[e.order_ref]
        # At the planned instant, on the planned side, for the size planned at that price.
        assert x.time.astimezone(ET) == e.planned_entry.astimezone(ET), e.symbol
        assert x.side == ("BOT" if e.side == "BUY" else "SLD"), e.symbol
        notional = 5000 if e.symbol == "XOM" else 10_000
        assert x.qty == e.quantity, e.symbol
        assert e.quantity in rig.sizes(notional, sized_at[e.symbol]), (e, sized_at)
    assert rig.sim_position("JPM") < 0 and rig.sim_position("XOM") > 0

    fc = await rig.friday_close()
    # The close ran on Friday at 15:45 ET, the backup found nothing left, and at the bell the
    # check says flat.
    assert fc.last_session.isoformat() == "2026-11-20"
    assert fc.close_at.astimezone(ET) == et(2026, 11, 20, 15, 45)
    assert rig.close_phases() == ["started", "done", "backup", "result"]
    result = rig.events(EventType.FRIDAY_CLOSE)[-1]
    assert result["severity"] == "INFO" and result["details"]["flat"] is True
    assert fc.flat is True
    for e in rig.plan():
        assert rig.sim_position(e.symbol) == 0, e.symbol
        assert e.status is PlanStatus.CLOSED, e
    assert rig.sim_position("KO") == 100  # the trader's own position is not the strategy's
    assert rig.eng.store.tracked_positions() == {}
    assert not rig.gw.open_orders()

    # Every fill journaled once, ENTRY for the entries and FRIDAY_CLOSE for the closes, each
    # close filled at the close's instant, before the bell.
    rows = rig.assert_journal_is_the_simulators()
    assert len(rows) == 12
    entry_refs = {e.order_ref for e in rig.plan()}
    closes = [x for x in rig.ours() if x.order_ref not in entry_refs]
    assert {r["reason"] for r in rows if r["order_ref"] in entry_refs} == {"ENTRY"}
    assert {r["reason"] for r in rows if r["order_ref"] not in entry_refs} == {"FRIDAY_CLOSE"}
    assert sorted(x.symbol for x in closes) == sorted(e.symbol for e in rig.plan())
    assert all(x.time == fc.close_at for x in closes)
    held = {e.symbol: e.quantity * (1 if e.side == "BUY" else -1) for e in rig.plan()}
    assert {x.symbol: -x.qty if x.side == "SLD" else x.qty for x in closes} == {
        s: -q for s, q in held.items()}
    # The plan was journaled: one STRATEGY event per entry as PLANNED, ENTERED and CLOSED.
    plan_events = [e for e in rig.events(EventType.STRATEGY) if "order_ref" in e["details"]
                   and "status" in e["details"]]
    for e in rig.plan():
        statuses = [p["details"]["status"] for p in plan_events
                    if p["details"]["order_ref"] == e.order_ref]
        assert statuses[0] == "PLANNED" and "ENTERED" in statuses and statuses[-1] == "CLOSED"
