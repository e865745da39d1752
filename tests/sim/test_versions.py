"""Clients that negotiate an older protocol version (157..177) get layouts they can read."""

from __future__ import annotations

import pytest
from ib_async import IB, LimitOrder, MarketOrder, Stock

from tests.conftest import IbLogGuard
from tests.fixtures_sim import wait_until
from weekly_er_tui.sim import SimulatedGateway

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("max_version", [157, 163, 166, 170, 176, 177])
async def test_full_flow_at_an_older_version(
    gateway: SimulatedGateway, max_version: int, ib_log_guard: IbLogGuard
) -> None:
    ib_log_guard.expect(r"Error 202")
    ib = IB()
    ib.client.MaxClientVersion = max_version
    try:
        await ib.connectAsync("127.0.0.1", gateway.port, clientId=1, timeout=5)
        assert ib.client.serverVersion() == max_version
        assert {p.contract.symbol for p in ib.positions()} == {"AAPL", "JPM", "XOM"}
        [details] = await ib.reqContractDetailsAsync(Stock("AAPL", "SMART", "USD"))
        assert details.industry == "Technology"
        trade = ib.placeOrder(details.contract, MarketOrder("BUY", 3, orderRef="old"))
        await wait_until(lambda: trade.isDone() and trade.fills)
        await wait_until(lambda: trade.fills[0].commissionReport.commission > 0)
        assert trade.fills[0].execution.orderRef == "old"
        resting = ib.placeOrder(details.contract, LimitOrder("BUY", 1, 1.0))
        await wait_until(lambda: resting.orderStatus.status == "Submitted")
        ib.cancelOrder(resting.order)
        await wait_until(resting.isDone)
        ib.disconnect()
        await gateway.wait_for(lambda: gateway.clients == [])
        await ib.connectAsync("127.0.0.1", gateway.port, clientId=1, timeout=5)
        assert [f.execution.orderRef for f in ib.fills()] == ["old"]
    finally:
        ib.disconnect()
