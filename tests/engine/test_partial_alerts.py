"""An order that fills in part and is then cancelled alerts what DID fill: shares and price, of
how many, and that the rest was cancelled; never only "cancelled", never nothing (an entry or an
exit that ends short of its quantity was silent: the fill alert waited for the whole order).
Each order is its own alert, so two exits of one symbol are two alerts, not one folded.

The real engine on the simulated gateway (Realism.real()), its partial fills switched on: a
first part at once, the rest an hour of the ManualClock later, which the test never reaches.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.alerts.conftest import alerts_config
from tests.alerts.smtp_server import LocalSmtpServer
from tests.conftest import IbLogGuard
from tests.engine.rig import CLIENT_ID, Rig, close_rig, et, open_rig
from tests.engine.test_alerts_heard import mail
from weekly_er_tui.clock import ManualClock
from weekly_er_tui.model import AlertRecord, EventType, Severity
from weekly_er_tui.sim import SimExecution


@pytest.fixture
async def rig(tmp_path: Path, ib_log_guard: IbLogGuard) -> AsyncIterator[Rig]:
    ib_log_guard.expect(r"Error 202, reqId \d+: Order Canceled")  # the cancels asked for
    r = await open_rig(tmp_path, ManualClock(et(2026, 11, 19, 9, 0)),
                       ["JNJ,2026-11-19,AMC,,"])  # entry Thursday 10:00
    try:
        yield r
    finally:
        await close_rig(r)


def titled(rig: Rig, start: str) -> list[AlertRecord]:
    return [a for a in rig.eng.alerts.records if a.title.startswith(start)]


def fills_of(rig: Rig, ref: str) -> list[SimExecution]:
    return [x for x in rig.ours() if x.order_ref == ref]


def ended(rig: Rig, ref: str) -> bool:
    """The watcher has named the order's end (CANCELLED) in the journal."""
    return any(e["details"].get("order_ref") == ref and e["details"].get("status")
               for e in rig.events(EventType.ORDER_CANCELLED))


def working_ref(rig: Rig, symbol: str) -> tuple[int, str]:
    [t] = [t for t in rig.eng.ib.openTrades()
           if t.contract.symbol == symbol and t.order.clientId == CLIENT_ID]
    return t.order.orderId, t.order.orderRef


def said(x: SimExecution, total: float) -> str:
    return f"{x.qty:g} of {total:g} @ {x.price:.2f}, the rest cancelled"


async def test_an_entry_filled_in_part_then_cancelled_says_what_was_bought(rig: Rig) -> None:
    engine = await rig.start_engine()
    rig.gw.partial_fills(2, interval=3600)
    await rig.step_to_entry(et(2026, 11, 19, 10))
    ref = rig.entry("JNJ").order_ref
    await rig.until(lambda: len(fills_of(rig, ref)) == 1 and rig.journaled_all())
    total = rig.entry("JNJ").quantity
    order_id, _ = working_ref(rig, "JNJ")
    await engine.cancel_order(order_id, "cancelled by the trader (test)")
    await rig.until(lambda: ended(rig, ref) and titled(rig, "Entered JNJ"))
    [x] = fills_of(rig, ref)
    [alert] = titled(rig, "Entered JNJ")
    assert alert.title == f"Entered JNJ in part: bought {said(x, total)}"
    assert alert.priority is Severity.MEDIUM
    # The journal's line of the end says it too.
    [end] = [e for e in rig.events(EventType.ORDER_CANCELLED)
             if e["details"].get("order_ref") == ref and e["details"].get("status")]
    assert end["message"].startswith(
        f"BUY {total:g} JNJ ({x.qty:g} filled @ {x.price:.2f}) CANCELLED: "), end["message"]


async def test_two_exits_of_one_symbol_are_two_alerts_the_partial_one_with_its_fill(
    rig: Rig
) -> None:
    engine = await rig.start_engine(planned=False)
    # The trader's own 100 KO, closed by hand: the first order fills 50 and is cancelled...
    rig.gw.partial_fills(2, interval=3600)
    # The close runs until flat (its verdict): it is followed, not awaited.
    closing = asyncio.create_task(engine.close_position("KO", "closed by the trader (test)"))
    await rig.until(lambda: rig.sim_position("KO") == 50 and rig.journaled_all())
    order_id, first = working_ref(rig, "KO")
    rig.gw.partial_fills(1)
    await engine.cancel_order(order_id, "cancelled by the trader (test)")
    # ... and the closer, not flat yet, sends a second order that sells the other 50 at once.
    await rig.until(lambda: ended(rig, first) and rig.sim_position("KO") == 0
                    and rig.journaled_all() and len(titled(rig, "Closed KO")) == 2, timeout=15)
    await asyncio.wait_for(closing, 15)
    [x] = fills_of(rig, first)
    [rest] = [y for y in rig.ours() if y.symbol == "KO" and y.order_ref != first]
    newest, oldest = titled(rig, "Closed KO")
    assert oldest.title == f"Closed KO in part: sold {said(x, 100)} (closed by hand)"
    assert newest.title == f"Closed KO: sold {rest.qty:g} @ {rest.price:.2f} (closed by hand)"
    assert "folded" not in oldest.delivered and "folded" not in newest.delivered
    assert {oldest.priority, newest.priority} == {Severity.MEDIUM}


async def test_the_friday_close_verdict_lists_the_part_filled_before_the_backup(
    rig: Rig
) -> None:
    async with LocalSmtpServer() as smtp:
        rig.config = rig.config.model_copy(update={
            "alerts": alerts_config(smtp.port, email_rate_limit_per_hour=100)})
        await friday_close_in_two_orders(rig, smtp)


async def friday_close_in_two_orders(rig: Rig, smtp: LocalSmtpServer) -> None:
    await rig.start_engine()
    await rig.enter(et(2026, 11, 19, 10))
    held = rig.sim_position("JNJ")
    entry_ref = rig.entry("JNJ").order_ref
    fc = rig.close_state()
    rig.gw.partial_fills(2, interval=3600)
    rig.manual.set(fc.close_at)
    await rig.until(lambda: 0 < rig.sim_position("JNJ") < held and rig.journaled_all())
    _, first = working_ref(rig, "JNJ")
    rig.gw.partial_fills(1)
    rig.manual.set(fc.backup_at)  # the backup cancels the close's order and sends the rest
    await rig.until(lambda: ended(rig, first) and rig.sim_position("JNJ") == 0
                    and rig.journaled_all())
    rig.manual.set(fc.bell)
    await rig.until(lambda: bool(titled(rig, "Friday close: flat")))
    [x] = fills_of(rig, first)
    [rest] = [y for y in rig.ours() if y.order_ref not in (first, entry_ref)]
    closed = titled(rig, "Closed JNJ")
    assert [a.title for a in closed] == [
        f"Closed JNJ: sold {rest.qty:g} @ {rest.price:.2f} (Friday close)",
        f"Closed JNJ in part: sold {said(x, held)} (Friday close)",
    ]
    assert {a.priority for a in closed} == {Severity.LOW}  # the verdict carries them
    verdict = await mail(smtp, r"Friday close: flat")
    assert f"JNJ: sold {said(x, held)}\n" in verdict.text, verdict.text
    assert f"JNJ: sold {rest.qty:g} @ {rest.price:.2f}\n" in verdict.text, verdict.text
