"""Notes row 15: IB answers a cancel of an order that has already ended (filled, cancelled), or
can no longer be cancelled, with error 161. ib_async takes any error on an order for its end and
marks it Cancelled; the product used to journal that as a REJECTED order, with a HIGH "Order
rejected by IB" alert, while the order had filled: a false alert, and an order taken for dead
that changed the position. A 161 is no end: the order's real end follows and names it."""

from __future__ import annotations

import pytest

from tests.conftest import IbLogGuard
from tests.fixtures_sim import wait_until
from tests.safety.conftest import MakeRig
from weekly_er_tui.broker.orders import make_intent
from weekly_er_tui.model import EventType
from weekly_er_tui.order_life import IntentStatus
from weekly_er_tui.sim import SimulatedGateway

pytestmark = pytest.mark.integration

REF = "wer-exit-XOM-161"


async def test_a_cancel_answered_161_is_no_rejection_and_the_fill_counts(
    rig: MakeRig, gateway: SimulatedGateway, ib_log_guard: IbLogGuard
) -> None:
    ib_log_guard.expect(r"Error 161|Error 110[02]")
    assert gateway.realism.cancel_ended_is_161 and gateway.realism.hold_reports_during_1100
    r = await rig()
    executor = r.engine.executor
    limit = round(gateway.quote("XOM").ask * 1.03, 2)  # a resting sell above the market
    assert (await executor.submit(make_intent("XOM", "SELL", 10, "LMT", limit, REF, "EXIT"))).sent
    await wait_until(lambda: len(gateway.open_orders()) == 1)
    [trade] = executor.working_orders(["XOM"])
    # IB's own link drops (1100): the order still works at IB, its reports wait (row 9).
    gateway.emit_connectivity(1100)
    gateway.price_shock(+5, symbol="XOM")
    assert [x.order_ref for x in gateway.executions] == [REF]  # filled at IB
    await executor.cancel_orders([trade], timeout=0.2)  # too late: 161
    await wait_until(lambda: any(e.errorCode == 161 for e in trade.log))
    gateway.emit_connectivity(1102)
    await wait_until(lambda: (rec := r.engine.store.intent(REF)) is not None and not rec.is_open)
    await wait_until(lambda: executor.open_positions(["XOM"]) == {"XOM": 90.0})
    await r.settle()
    rec = r.engine.store.intent(REF)
    assert rec is not None and rec.status == IntentStatus.FILLED
    assert not [e.message for e in r.of(EventType.ORDER_REJECTED)]
    assert not [a.title for a in r.alerts() if "rejected" in a.title.lower()]
