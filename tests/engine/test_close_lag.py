"""Flatten and the Friday close never re-send on a position that has not caught up with a working
or just-filled order (issue 12, row 8), on a real gateway's behaviour: IB's position stream
trails the fills (here 1.5 s, longer than a close takes), so for a while the position still
shows shares already sold. A second close in that while sends nothing more, and says flat once
the position has caught up instead of running out its attempts on the stale figure."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from tests.engine.rig import Rig, close_rig, et, open_rig
from weekly_er_tui.clock import ManualClock

WEEK = ["JNJ,2026-11-19,AMC,,", "XOM,2026-11-19,AMC,short,"]
LAG = 1.5  # real seconds from a fill to its position message


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    r = await open_rig(tmp_path, ManualClock(et(2026, 11, 19, 9, 0)), WEEK)
    try:
        await r.start_engine()
        await r.enter(et(2026, 11, 19, 10))
        r.gw.realism.position_lag_seconds = LAG
        yield r
    finally:
        await close_rig(r)


def closing_sent(rig: Rig, symbol: str) -> float:
    entries = {e.order_ref for e in rig.plan()}
    return sum(o.quantity for o in [*rig.gw.book.working(), *rig.gw.book.completed()]
               if o.client_id and o.symbol == symbol and o.order_ref not in entries)


def ib_position(rig: Rig, symbol: str) -> float:
    return rig.eng.executor.open_positions([symbol]).get(symbol, 0.0)


async def test_a_close_right_after_a_fill_sends_nothing_and_says_flat(rig: Rig) -> None:
    held = {s: rig.sim_position(s) for s in ("JNJ", "XOM")}
    executor = rig.eng.executor
    first = asyncio.create_task(executor.flatten("MANUAL", ["JNJ", "XOM"], cancel_first=False))
    # Filled at IB and its executions in; IB's positions still show the old holdings.
    await rig.until(lambda: all(rig.sim_position(s) == 0 for s in held)
                    and rig.journaled_all(), timeout=5)
    assert {s: ib_position(rig, s) for s in held} == held
    second = await asyncio.wait_for(
        executor.flatten("MANUAL", ["JNJ", "XOM"], cancel_first=False), 10)
    assert second.flat, second
    assert (await asyncio.wait_for(first, 10)).flat
    assert {s: closing_sent(rig, s) for s in held} == {s: abs(q) for s, q in held.items()}
    assert all(ib_position(rig, s) == 0 for s in held)


async def test_a_close_beside_a_working_half_filled_close_sends_nothing(rig: Rig) -> None:
    held = rig.sim_position("JNJ")
    executor = rig.eng.executor
    rig.gw.partial_fills(2, interval=60)
    first = asyncio.create_task(executor.flatten("MANUAL", ["JNJ"], cancel_first=False))
    await rig.until(lambda: rig.sim_position("JNJ") not in (0, held), timeout=5)
    second = asyncio.create_task(executor.flatten("MANUAL", ["JNJ"], cancel_first=False))
    await rig.until(lambda: rig.journaled_all(), timeout=5)
    rig.manual.set(rig.manual.now() + timedelta(minutes=1))  # the second half
    results = await asyncio.wait_for(asyncio.gather(first, second), 15)
    assert all(r.flat for r in results), results
    assert closing_sent(rig, "JNJ") == held
    assert rig.sim_position("JNJ") == 0
    rig.assert_journal_is_the_simulators()


async def test_the_friday_close_backup_sends_nothing_on_a_position_not_caught_up(
    rig: Rig,
) -> None:
    """The backup cancels and sends again what the close left: right after the close filled,
    the position still shows the strategy's shares, and nothing is left to send."""
    held = {s: rig.sim_position(s) for s in ("JNJ", "XOM")}
    fc = rig.close_state()
    rig.manual.set(fc.close_at)
    await rig.until(lambda: all(rig.sim_position(s) == 0 for s in held)
                    and rig.journaled_all(), timeout=5)
    rig.manual.set(fc.backup_at)
    await rig.until(lambda: rig.has_phase("backup"), timeout=10)
    rig.manual.set(fc.bell)
    await rig.until(lambda: rig.has_phase("result"), timeout=10)
    assert rig.close_state().flat is True
    assert {s: closing_sent(rig, s) for s in held} == {s: abs(q) for s, q in held.items()}
    assert rig.sim_position("KO") == 100  # the trader's own, untouched
