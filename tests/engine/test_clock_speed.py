"""Clock speed independence: the same short scenario run on a ManualClock stepped instant by
instant (what speed 1 gives) and on an AcceleratedClock at 3600x gives the same plan and the
same fills (symbols, sides, quantities).

The scenario is as short as a plan with entries and a Friday close can be: the entries at 15:50
on Thursday (reports before Friday's open), the close at 09:35 on Friday (close_offset 385
minutes), about 20 s at 3600x.

An entry is sized at the last streamed price, which at 3600x is up to one tick interval (50 ms
real, three minutes of the clock) old, against one second at speed 1. The calendar's notionals
put each size half a share from a rounding edge at the planned instant, so that sampling jitter
(a few cents) cannot move a size; what is compared is everything the engine decides.
"""

from __future__ import annotations

import math
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

from tests.engine.rig import SEED, Rig, close_rig, et, open_rig, scenario_data
from weekly_er_tui.clock import AcceleratedClock, Clock, ManualClock
from weekly_er_tui.model import PlanStatus
from weekly_er_tui.sim import Market, parse_scenario
from weekly_er_tui.sim.nyse import nyse_sessions

START = et(2026, 11, 19, 13, 50)  # two hours of the clock (2 s at 3600x) to start and plan
ENTRY = et(2026, 11, 19, 15, 50)
STRATEGY: dict[str, Any] = {"entry_time": "15:50", "close_offset_minutes": 385,
                            "backup_offset_minutes": 200}
REPORTS = [("JNJ", "2026-11-19", "AMC", ""), ("NVDA", "2026-11-20", "BMO", ""),
           ("JPM", "2026-11-20", "BMO", "short")]


def calendar_rows() -> tuple[list[str], dict[str, int]]:
    """The rows, with notionals half a share off a rounding edge; and the sizes they give."""
    market = Market(parse_scenario(scenario_data()).instruments(), SEED, START, nyse_sessions())
    rows, sizes = [], {}
    for symbol, report, timing, side in REPORTS:
        price = market.price(symbol, ENTRY.timestamp())
        shares = math.floor(10_000 / price)
        rows.append(f"{symbol},{report},{timing},{side},{(shares + 0.5) * price:.2f}")
        sizes[symbol] = shares
    return rows, sizes


PlanRow = tuple[str, datetime, str, int, PlanStatus]
Outcome = tuple[list[PlanRow], Counter[tuple[str, str, str, str]]]


def outcome(rig: Rig) -> Outcome:
    plan = [(e.symbol, e.planned_entry, e.side, e.quantity, e.status) for e in rig.plan()]
    refs = {e.order_ref: "ENTRY" for e in rig.plan()}
    fills = Counter((refs.get(x.order_ref, "CLOSE"), x.symbol, x.side, f"{x.qty:g}")
                    for x in rig.ours())
    return plan, fills


async def run(tmp_path: Path, clock: Clock) -> Outcome:
    rows, _ = calendar_rows()
    rig = await open_rig(tmp_path, clock, rows, **STRATEGY)
    try:
        await rig.start_engine()
        fc = rig.close_state()
        if isinstance(clock, ManualClock):
            await rig.enter(ENTRY)
            rig.manual.set(fc.close_at)
        # At 3600x a clock hour is a real second: the whole run is ~18 s of waiting.
        await rig.until(lambda: rig.has_phase("done") and rig.journaled_all(), timeout=60)
        entries = [x for x in rig.ours() if x.order_ref.endswith("-ENTRY")]
        closes = [x for x in rig.ours() if not x.order_ref.endswith("-ENTRY")]
        # The entries filled at 15:50 and before their deadline (15:55; at 3600x the
        # simulator's 10 ms order loop alone is 36 s of the clock), the closes on Friday at or
        # after 09:35 and before the backup.
        assert entries and all(0 <= (x.time - ENTRY).total_seconds() < 300 for x in entries)
        assert closes and all(fc.close_at <= x.time < fc.backup_at for x in closes)
        rig.assert_journal_is_the_simulators()
        return outcome(rig)
    finally:
        await close_rig(rig)


async def test_manual_and_3600x_give_the_same_plan_and_fills(tmp_path: Path) -> None:
    _, sizes = calendar_rows()
    slow = await run(tmp_path / "manual", ManualClock(START))
    fast = await run(tmp_path / "fast", AcceleratedClock(START, 3600))

    plan, fills = slow
    assert [(s, q, st) for s, _, _, q, st in plan] == [
        ("JNJ", sizes["JNJ"], PlanStatus.CLOSED), ("JPM", sizes["JPM"], PlanStatus.CLOSED),
        ("NVDA", sizes["NVDA"], PlanStatus.CLOSED)]
    assert sum(fills.values()) == 6
    assert fast == slow
