"""An order still working at IB when the engine restarts is adopted by the new engine (the
resync of open orders, broker/resync_orders.py) and followed to its end like one it sent: the
new engine names how it ended, in the store and the journal, rather than leave its intent
SUBMITTED forever (a close would count it as working, and the log would never say it ended)."""

from __future__ import annotations

import pytest

from tests.conftest import IbLogGuard
from tests.fixtures_sim import wait_until
from tests.orders.test_order_ends import LIMITS, ended, events_of, rest_a_sell
from tests.safety.conftest import MakeRig
from weekly_er_tui.model import Severity
from weekly_er_tui.order_life import IntentStatus
from weekly_er_tui.sim import SimulatedGateway

pytestmark = pytest.mark.integration

REF = "wer-exit-XOM-adopted"


async def test_an_order_working_across_a_restart_is_followed_to_its_end(
    rig: MakeRig, gateway: SimulatedGateway, ib_log_guard: IbLogGuard
) -> None:
    ib_log_guard.expect(r"Error 202")
    first = await rig(LIMITS)
    await rest_a_sell(first, gateway, REF)
    await first.stop()
    assert [o.order_ref for o in gateway.open_orders()] == [REF]  # IB keeps it working

    second = await rig(LIMITS)
    rec = second.engine.store.intent(REF)
    assert rec is not None and rec.status == IntentStatus.SUBMITTED
    working = second.engine.executor.working_orders(["XOM"])
    assert [t.order.orderRef for t in working] == [REF]
    assert await second.engine.executor.cancel_orders(working)
    await wait_until(lambda: ended(second, REF) and events_of(second, REF))
    rec = second.engine.store.intent(REF)
    assert rec is not None and rec.status == IntentStatus.CANCELLED
    [(kind, severity, _)] = events_of(second, REF)
    assert kind == "ORDER_CANCELLED" and severity is Severity.INFO
