"""Notes rows 6, 7 and 9: the farm codes of a real connect, reports held during 1100, the daily
restart and the weekly re-login, against the real ib_async client."""

from __future__ import annotations

import asyncio

import pytest
from ib_async import IB, MarketOrder, Stock

from tests.conftest import IbLogGuard
from tests.fixtures_sim import ConnectIB, wait_until
from weekly_er_tui.clock import ManualClock
from weekly_er_tui.sim import SimulatedGateway
from weekly_er_tui.sim.scenario import TimelineEntry

pytestmark = pytest.mark.integration


async def _connect_codes(gateway: SimulatedGateway, client_id: int) -> tuple[IB, list[int]]:
    client = IB()
    codes: list[int] = []
    client.errorEvent += lambda req_id, code, *a: codes.append(code) if req_id == -1 else None
    await client.connectAsync("127.0.0.1", gateway.port, clientId=client_id, timeout=5)
    return client, codes


async def test_a_real_connect_names_every_farm(gateway: SimulatedGateway) -> None:
    gateway.realism = gateway.realism.model_copy(update={"farm_codes_at_connect": True})
    client, codes = await _connect_codes(gateway, 1)
    try:
        assert sorted(codes) == [2104, 2104, 2104, 2106, 2107, 2158]
    finally:
        client.disconnect()


async def test_a_farm_down_at_the_connect_says_broken(gateway: SimulatedGateway) -> None:
    gateway.realism = gateway.realism.model_copy(update={"farm_codes_at_connect": True})
    gateway.emit_connectivity(2103)
    gateway.emit_connectivity(2157)
    client, codes = await _connect_codes(gateway, 1)
    try:
        assert sorted(codes) == [2103, 2103, 2103, 2106, 2107, 2157]
    finally:
        client.disconnect()
    gateway.emit_connectivity(2104)
    client, codes = await _connect_codes(gateway, 2)
    try:
        assert 2103 not in codes and codes.count(2104) == 3 and 2157 in codes
    finally:
        client.disconnect()


async def test_execution_reports_wait_for_the_link_during_1100(
    ib: IB, gateway: SimulatedGateway, ib_log_guard: IbLogGuard
) -> None:
    ib_log_guard.expect(r"Error 110[02]")
    gateway.realism = gateway.realism.model_copy(update={"hold_reports_during_1100": True})
    gateway.emit_connectivity(1100)
    trade = ib.placeOrder(Stock("AAPL", "SMART", "USD"), MarketOrder("SELL", 10))
    await gateway.wait_for(lambda: len(gateway.executions) == 1)  # IB filled it
    n = gateway.stream.rounds
    await wait_until(lambda: gateway.stream.rounds >= n + 3)
    assert ib.fills() == [] and trade.orderStatus.status != "Filled"
    gateway.emit_connectivity(1102)
    await wait_until(lambda: len(ib.fills()) == 1 and trade.orderStatus.status == "Filled")


async def test_the_daily_restart_refuses_for_its_minutes(
    ib: IB, connect_ib: ConnectIB, gateway: SimulatedGateway, manual_clock: ManualClock,
    ib_log_guard: IbLogGuard,
) -> None:
    ib_log_guard.expect_link_faults()
    gateway.timeline.apply(TimelineEntry(at=0, action="restart"))
    await wait_until(lambda: not ib.isConnected())
    with pytest.raises(ConnectionRefusedError):
        await connect_ib(2)
    manual_clock.advance(149)
    assert gateway.refusing
    manual_clock.advance(1)
    await wait_until(lambda: not gateway.refusing)
    assert (await connect_ib(3)).isConnected()


async def test_the_weekly_relogin_refuses_until_a_login(
    ib: IB, connect_ib: ConnectIB, gateway: SimulatedGateway, manual_clock: ManualClock,
    ib_log_guard: IbLogGuard,
) -> None:
    ib_log_guard.expect_link_faults()
    gateway.timeline.apply(TimelineEntry(at=0, action="relogin_outage"))
    await wait_until(lambda: not ib.isConnected())
    manual_clock.advance(6 * 3600)
    with pytest.raises(ConnectionRefusedError):
        await connect_ib(2)
    gateway.timeline.apply(TimelineEntry(at=0, action="login"))
    assert (await connect_ib(3)).isConnected()


async def test_a_second_current_time_within_a_second_goes_unanswered(
    ib: IB, gateway: SimulatedGateway, manual_clock: ManualClock
) -> None:
    gateway.realism = gateway.realism.model_copy(update={"current_time_spacing_seconds": 1.0})
    assert await asyncio.wait_for(ib.reqCurrentTimeAsync(), 2) == manual_clock.now()
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(ib.reqCurrentTimeAsync(), 0.3)
