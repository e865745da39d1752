"""A restart in the middle of the week sends no order twice: a new engine on the same data dir
and gateway picks up the plan from the store's recorded intents."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from tests.engine.rig import Rig, close_rig, et, open_rig
from weekly_er_tui.clock import ManualClock
from weekly_er_tui.model import EventType, PlanStatus

WEEK = [
    "AAPL,2026-11-16,AMC,,",  # entry Mon
    "MSFT,2026-11-17,BMO,,",  # entry Mon
    "JPM,2026-11-17,AMC,short,",  # entry Tue
]


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    r = await open_rig(tmp_path, ManualClock(et(2026, 11, 16, 9, 0)), WEEK)
    try:
        yield r
    finally:
        await close_rig(r)


async def test_a_restart_mid_week_sends_no_order_twice(rig: Rig) -> None:
    await rig.start_engine()
    await rig.enter(et(2026, 11, 16, 10))
    sent_monday = list(rig.gw.order_refs_received)
    assert sorted(sent_monday) == sorted(
        e.order_ref for e in rig.plan() if e.symbol in ("AAPL", "MSFT"))

    # Stopped a minute after Monday's entries: their time has passed but their deadline (15:55)
    # has not, so only the recorded intents keep the new engine from sending them again.
    rig.manual.set(et(2026, 11, 16, 10, 1))
    await rig.stop_engine()
    await rig.start_engine()
    assert {e.symbol: e.status for e in rig.plan()} == {
        "AAPL": PlanStatus.ENTERED, "MSFT": PlanStatus.ENTERED, "JPM": PlanStatus.PLANNED}
    assert rig.gw.order_refs_received == sent_monday

    # Tuesday's entry fills half at once and half ten minutes later; the engine is restarted
    # while the order is still working at the gateway.
    rig.gw.partial_fills(2, interval=600)
    prices = (await rig.step_to_entry(et(2026, 11, 17, 10)))["JPM"]
    jpm = rig.entry("JPM").order_ref
    await rig.until(lambda: jpm in rig.gw.order_refs_received and rig.journaled_all()
                    and rig.ours()[-1].order_ref == jpm)
    size = rig.entry("JPM").quantity
    assert size in rig.sizes(10_000, prices)
    rig.gw.partial_fills(1)
    rig.manual.set(et(2026, 11, 17, 10, 1))
    await rig.stop_engine()
    assert [o.order_ref for o in rig.gw.open_orders()] == [jpm]
    await rig.start_engine()
    half = rig.entry("JPM")
    assert half.status is PlanStatus.ENTERED and half.note == f"{size // 2} of {size} shares filled"
    rig.manual.set(et(2026, 11, 17, 10, 10))
    await rig.until(lambda: not rig.gw.open_orders() and rig.journaled_all()
                    and "filled" not in rig.entry("JPM").note)
    assert rig.entry("JPM").status is PlanStatus.ENTERED
    assert rig.entry("JPM").quantity == size
    assert rig.sim_position("JPM") == -size
    assert rig.eng.store.tracked_positions()["JPM"].quantity == -size
    assert rig.gw.order_refs_received == [*sent_monday, jpm]

    fc = rig.close_state()
    rig.manual.set(fc.close_at)
    await rig.until(lambda: rig.has_phase("done"))

    # And a restart in the middle of the close (done, backup pending) sends nothing more.
    rig.manual.set(fc.close_at + timedelta(minutes=2))
    refs_before = list(rig.gw.order_refs_received)
    await rig.stop_engine()
    await rig.start_engine()
    rig.manual.set(fc.backup_at)
    await rig.until(lambda: rig.close_phases().count("backup") == 1)
    rig.manual.set(fc.bell)
    await rig.until(lambda: rig.has_phase("result"))
    assert rig.gw.order_refs_received == refs_before
    assert rig.close_state().flat is True

    counts = Counter(rig.gw.order_refs_received)
    assert [ref for ref, n in counts.items() if n > 1] == []
    assert len(counts) == 6  # three entries, three closes
    rows = rig.assert_journal_is_the_simulators()
    assert len(rows) == 7  # JPM's entry in two parts
    assert all(rig.sim_position(s) == 0 for s in ("AAPL", "MSFT", "JPM"))
    starts = [e for e in rig.events(EventType.SYSTEM) if e["message"].startswith("Engine started")]
    assert len(starts) == 4
