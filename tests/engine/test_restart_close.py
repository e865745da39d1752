"""An engine killed while its Friday close orders are still working (partial fills), and a new
engine started on the same data dir: the new one adopts the working close orders and sends nothing
more for what they already cover, so no position goes short."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

from tests.conftest import IbLogGuard
from tests.engine.rig import CLIENT_ID, LINK_FAULT_LOGS, Rig, et, thursday_rig
from weekly_er_tui.sim import SimulatedGateway

WEEK = ["JNJ,2026-11-19,AMC,,", "NVDA,2026-11-20,BMO,,", "XOM,2026-11-19,AMC,short,"]


rig = thursday_rig(WEEK)


async def kill_engine(rig: Rig) -> None:
    """The process dies: its socket closes at once, nothing of its shutdown runs (no journal
    line, no alert), and it never reconnects."""
    engine, task = rig.engine, rig.task
    assert engine is not None and task is not None

    async def killed() -> None:
        return None

    engine._shutdown = killed  # type: ignore[method-assign]
    rig.gw.drop_all()
    with contextlib.suppress(OSError):  # the socket is already gone
        await engine.monitor.stop()  # a dead process never reconnects
    for t in engine._tasks:
        t.cancel()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
    await engine._release()  # what the OS does for a dead process: its locks and socket go
    engine.close()
    rig.engine = rig.task = None
    await rig.until(lambda: CLIENT_ID not in rig.gw.clients, timeout=5)


def closing_sent(gw: SimulatedGateway, entries: set[str]) -> dict[tuple[str, str], float]:
    """Per symbol and side, the quantity of every closing order the gateway received."""
    out: dict[tuple[str, str], float] = {}
    for o in [*gw.book.working(), *gw.book.completed()]:
        if o.client_id and o.order_ref not in entries:
            key = (o.symbol, o.action)
            out[key] = out.get(key, 0.0) + o.quantity
    return out


def closes_of(held: dict[str, float]) -> dict[tuple[str, str], float]:
    return {(s, "SELL" if q > 0 else "BUY"): abs(q) for s, q in held.items()}


def crossed_zero(gw: SimulatedGateway, held: dict[str, float]) -> dict[str, float]:
    """Per symbol, the running position after each execution that had the other sign than the
    position held (a long gone short, a short gone long): empty when nothing crossed zero."""
    running: dict[str, float] = {}
    crossed: dict[str, float] = {}
    for x in gw.executions:
        running[x.symbol] = running.get(x.symbol, 0.0) + x.signed_qty
        if x.symbol in held and running[x.symbol] * held[x.symbol] < 0:
            crossed.setdefault(x.symbol, running[x.symbol])
    return crossed


async def test_a_restart_during_the_friday_close_sells_nothing_twice(
    rig: Rig, ib_log_guard: IbLogGuard
) -> None:
    for pattern in LINK_FAULT_LOGS:
        ib_log_guard.expect(pattern)
    await rig.start_engine()
    await rig.enter(et(2026, 11, 19, 10))
    held = {s: rig.sim_position(s) for s in ("JNJ", "NVDA", "XOM")}
    assert held["JNJ"] > 0 and held["NVDA"] > 0 and held["XOM"] < 0
    entries = {e.order_ref for e in rig.plan()}
    fc = rig.close_state()

    # The close's orders fill in four parts two minutes apart (15:45, 47, 49, 51).
    rig.gw.partial_fills(4, interval=120)
    rig.manual.set(fc.close_at)
    await rig.until(lambda: len(rig.gw.open_orders()) == 3 and len(rig.ours()) == 6
                    and rig.journaled_all())
    assert closing_sent(rig.gw, entries) == closes_of(held)

    # Killed a minute into the close; a new engine starts with the orders still working.
    rig.manual.set(fc.close_at + timedelta(minutes=1))
    await kill_engine(rig)
    rig.gw.partial_fills(1)  # anything new would fill at once
    await rig.start_engine()
    await rig.until(lambda: rig.has_phase("started") and rig.close_phases().count("started") == 2)

    # The old orders fill the rest; nothing new was sent for what they cover. Each part is
    # journaled by the new engine (its row follows the commission report, 0.3 s on a real
    # gateway: waited for, part by part).
    for minutes, executions in ((2, 9), (4, 12), (6, 15)):
        rig.manual.set(fc.close_at + timedelta(minutes=minutes))
        await rig.until(lambda n=executions: len(rig.ours()) == n and rig.journaled_all())
    await rig.until(lambda: not rig.gw.open_orders() and all(
        rig.sim_position(s) == 0 for s in held))
    assert closing_sent(rig.gw, entries) == closes_of(held)

    rig.manual.set(fc.backup_at)
    await rig.until(lambda: rig.has_phase("backup"))
    rig.manual.set(fc.bell)
    await rig.until(lambda: rig.has_phase("result"))
    assert rig.close_state().flat is True
    assert all(rig.sim_position(s) == 0 for s in held)
    assert closing_sent(rig.gw, entries) == closes_of(held)
    assert crossed_zero(rig.gw, held) == {}
    rig.assert_journal_is_the_simulators()
