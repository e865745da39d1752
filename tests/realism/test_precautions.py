"""Notes row 19: TWS's precautionary settings (Global Configuration > Presets) apply to API
orders unless "Bypass Order Precautions for API Orders" is checked (API > Precautions): TWS
refuses a violating order with error 451 naming the constraint, and an emergency close of a
large position is stopped that way. The product names it: REJECTED with TWS's text, and a
CRITICAL alert that says which setting to change."""

from __future__ import annotations

import asyncio

import pytest

from tests.conftest import IbLogGuard
from tests.safety.conftest import MakeRig
from weekly_er_tui.model import EventType, Severity
from weekly_er_tui.order_life import IntentStatus
from weekly_er_tui.sim import SimulatedGateway

pytestmark = pytest.mark.integration


async def test_an_emergency_close_stopped_by_tws_precautions_is_named_with_the_fix(
    rig: MakeRig, gateway: SimulatedGateway, ib_log_guard: IbLogGuard
) -> None:
    ib_log_guard.expect(r"Error 451")
    ib_log_guard.expect(r"Total Value Limit")
    r = await rig()
    gateway.realism.precaution_total_value = 15_000  # AAPL's $20k is over; JPM, XOM are not
    await asyncio.wait_for(r.engine.flatten("flatten by the trader"), timeout=20)
    assert set(gateway.account.positions) == {"AAPL"}
    refused = [e for e in r.of(EventType.ORDER_REJECTED) if "AAPL" in e.message]
    assert refused and "error 451" in refused[0].message
    assert "Total Value Limit of 15,000 USD" in refused[0].message
    assert "Bypass Order Precautions for API Orders" in refused[0].message
    ref = refused[0].details["order_ref"]
    rec = r.engine.store.intent(ref)
    assert rec is not None and rec.status == IntentStatus.REJECTED
    alerts = [a for a in r.alerts() if "Precautionary Settings" in a.title]
    assert alerts and alerts[0].priority is Severity.CRITICAL, [a.title for a in r.alerts()]
    assert "Bypass Order Precautions" in alerts[0].title
