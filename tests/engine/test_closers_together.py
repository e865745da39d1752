"""The trader's flatten, the emergency stop and the Friday close at once, on partial fills: one
closer runs them as one close of the whole account, each symbol's closing orders add up to its
position (nothing sold twice), one verdict, and no false "Emergency close INCOMPLETE" alert."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from tests.conftest import IbLogGuard
from tests.engine.rig import Rig, et, thursday_rig
from weekly_er_tui.model import EventType

WEEK = ["JNJ,2026-11-19,AMC,,", "NVDA,2026-11-20,BMO,,", "XOM,2026-11-19,AMC,short,"]


rig = thursday_rig(WEEK)


def closing_sent(rig: Rig) -> dict[tuple[str, str], float]:
    entries = {e.order_ref for e in rig.plan()}
    out: dict[tuple[str, str], float] = {}
    for o in [*rig.gw.book.working(), *rig.gw.book.completed()]:
        if o.client_id and o.order_ref not in entries:
            out[(o.symbol, o.action)] = out.get((o.symbol, o.action), 0.0) + o.quantity
    return out


async def test_flatten_emergency_stop_and_friday_close_at_once(
    rig: Rig, ib_log_guard: IbLogGuard
) -> None:
    ib_log_guard.expect(r"Error 202, reqId \d+: Order Canceled")
    ib_log_guard.expect(r"Error 161")
    await rig.start_engine()
    await rig.enter(et(2026, 11, 19, 10))
    held = {s: rig.sim_position(s) for s in ("JNJ", "NVDA", "XOM", "KO")}
    fc = rig.close_state()
    eng = rig.eng

    # Every order fills in two halves a minute apart.
    rig.gw.partial_fills(2, interval=60)
    rig.manual.set(fc.close_at)
    flatten = asyncio.create_task(eng.flatten("flatten by the trader"))
    stop = asyncio.create_task(eng.safety.emergency_close(
        "EMERGENCY", "emergency stop: portfolio down 11% (limit 10%)"))
    await rig.until(lambda: rig.has_phase("started"))
    await rig.until(lambda: any(o.filled for o in rig.gw.open_orders()))
    rig.manual.set(fc.close_at + timedelta(minutes=1))
    await rig.until(lambda: all(rig.sim_position(s) == 0 for s in held), timeout=20)
    await asyncio.wait_for(asyncio.gather(flatten, stop), 20)
    await rig.until(lambda: rig.has_phase("done"))

    assert closing_sent(rig) == {
        (s, "SELL" if q > 0 else "BUY"): abs(q) for s, q in held.items()}
    verdicts = [e for e in rig.events(EventType.EMERGENCY_CLOSE)
                if "finished" in e["message"]]
    assert len(verdicts) == 1, [e["message"] for e in verdicts]
    assert verdicts[0]["details"]["flat"] is True
    titles = [a.title for a in eng.alerts.records]
    assert not [t for t in titles if "INCOMPLETE" in t], titles
    assert not rig.gw.open_orders()
    # Each row follows its commission report (0.3 s after the fill on a real gateway).
    await rig.until(rig.journaled_all)
    rig.assert_journal_is_the_simulators()
