"""Market-data permissions (notes rows 4 and 17): an account without a subscription gets 10089
and no ticks, delayed ticks after reqMarketDataType(3/4), no historical bars; a competing live
session stops market data with 10197."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from ib_async import IB, Stock, Ticker

from tests.conftest import IbLogGuard
from tests.fixtures_sim import make_gateway, wait_until
from weekly_er_tui.clock import ManualClock
from weekly_er_tui.sim import Scenario, SimulatedGateway
from weekly_er_tui.sim.realism import Realism

DELAYED_TYPES = {66, 67, 68, 69, 70, 71, 72, 73, 74, 75, 76}
LIVE_TYPES = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 14}


class Recorder:
    """ib_async's errors and every tick type each symbol received."""

    def __init__(self, ib: IB) -> None:
        self.errors: list[tuple[int, int, str]] = []
        self.tick_types: dict[str, set[int]] = {}
        self.ticks: dict[str, int] = {}
        ib.errorEvent += self._on_error
        ib.pendingTickersEvent += self._on_tickers

    def _on_error(self, req_id: int, code: int, text: str, contract: Any) -> None:
        self.errors.append((req_id, code, text))

    def _on_tickers(self, tickers: set[Ticker]) -> None:
        for t in tickers:
            assert t.contract is not None
            sym = t.contract.symbol
            self.tick_types.setdefault(sym, set()).update(d.tickType for d in t.ticks)
            self.ticks[sym] = self.ticks.get(sym, 0) + len(t.ticks)

    def codes(self) -> list[int]:
        return [code for _, code, _ in self.errors]


@pytest.fixture
async def paper_gw(
    scenario: Scenario, manual_clock: ManualClock
) -> AsyncIterator[SimulatedGateway]:
    """A new paper account: no subscription but AAPL's, delayed data enabled."""
    realism = Realism.real(market_data="delayed", market_data_by_symbol={"AAPL": "live"})
    gw = make_gateway(scenario, manual_clock, realism=realism)
    await gw.start()
    try:
        yield gw
    finally:
        await gw.stop()


async def _client(gw: SimulatedGateway) -> IB:
    ib = IB()
    await ib.connectAsync("127.0.0.1", gw.port, clientId=3, timeout=5)
    return ib


async def _stock(ib: IB, symbol: str) -> Stock:
    stock = Stock(symbol, "SMART", "USD")
    await ib.qualifyContractsAsync(stock)
    return stock


async def test_live_data_without_a_subscription_is_10089_and_no_ticks(
    paper_gw: SimulatedGateway, manual_clock: ManualClock, ib_log_guard: IbLogGuard
) -> None:
    clock = manual_clock
    ib_log_guard.expect(r"Error 10089")
    ib = await _client(paper_gw)
    try:
        rec = Recorder(ib)
        msft = ib.reqMktData(await _stock(ib, "MSFT"))
        aapl = ib.reqMktData(await _stock(ib, "AAPL"))
        await wait_until(lambda: 10089 in rec.codes())
        _, _, text = next(e for e in rec.errors if e[1] == 10089)
        assert "requires additional subscription" in text and "Delayed market data is available" \
            in text and "MSFT" in text
        # AAPL (subscribed) keeps streaming as the market moves; MSFT gets nothing.
        for _ in range(3):
            clock.advance(60)
            now = paper_gw.quote("AAPL").last
            await wait_until(lambda now=now: aapl.last == now)
        assert rec.ticks.get("MSFT", 0) == 0
        assert msft.bid != msft.bid  # NaN: no price at all
        assert rec.tick_types["AAPL"] <= LIVE_TYPES
    finally:
        ib.disconnect()


async def test_delayed_data_after_req_market_data_type_3(
    paper_gw: SimulatedGateway, manual_clock: ManualClock
) -> None:
    ib = await _client(paper_gw)
    try:
        rec = Recorder(ib)
        ib.reqMarketDataType(3)
        msft = ib.reqMktData(await _stock(ib, "MSFT"))
        aapl = ib.reqMktData(await _stock(ib, "AAPL"))
        await wait_until(lambda: msft.bid == msft.bid and msft.last == msft.last
                         and aapl.bid == aapl.bid)
        assert msft.marketDataType == 3
        assert aapl.marketDataType == 1  # a subscribed symbol is live whatever was asked
        assert rec.tick_types["MSFT"] and rec.tick_types["MSFT"] <= DELAYED_TYPES
        assert {66, 67, 68}.issubset(rec.tick_types["MSFT"])
        assert rec.tick_types["AAPL"] <= LIVE_TYPES
        # Delayed is the market 15 minutes ago.
        then = paper_gw.market.quote("MSFT", manual_clock.now().timestamp() - 15 * 60)
        assert (msft.bid, msft.ask, msft.last) == (then.bid, then.ask, then.last)
        assert 10167 in rec.codes()  # "Displaying delayed market data", a warning
    finally:
        ib.disconnect()


async def test_delayed_frozen_is_type_4(paper_gw: SimulatedGateway) -> None:
    ib = await _client(paper_gw)
    try:
        ib.reqMarketDataType(4)
        msft = ib.reqMktData(await _stock(ib, "MSFT"))
        await wait_until(lambda: msft.last == msft.last)
        assert msft.marketDataType == 4
    finally:
        ib.disconnect()


async def test_no_delayed_data_enabled_is_354_then_10168(
    scenario: Scenario, manual_clock: ManualClock, ib_log_guard: IbLogGuard
) -> None:
    ib_log_guard.expect(r"Error 354")
    ib_log_guard.expect(r"Error 10168")
    gw = make_gateway(scenario, manual_clock, realism=Realism.real(market_data="none"))
    await gw.start()
    ib = await _client(gw)
    try:
        rec = Recorder(ib)
        ib.reqMktData(await _stock(ib, "MSFT"))
        await wait_until(lambda: 354 in rec.codes())
        ib.reqMarketDataType(3)
        ib.reqMktData(await _stock(ib, "JPM"))
        await wait_until(lambda: 10168 in rec.codes())
        assert "Delayed market data is not enabled" in rec.errors[-1][2]
        assert not rec.ticks
    finally:
        ib.disconnect()
        await gw.stop()


async def test_historical_bars_need_a_subscription(
    paper_gw: SimulatedGateway, ib_log_guard: IbLogGuard
) -> None:
    ib_log_guard.expect(r"Error 162")
    ib = await _client(paper_gw)
    try:
        rec = Recorder(ib)
        kw: dict[str, Any] = {"endDateTime": "", "durationStr": "1 M", "barSizeSetting": "1 day",
                              "whatToShow": "TRADES", "useRTH": True}
        bars = await ib.reqHistoricalDataAsync(await _stock(ib, "MSFT"), **kw)
        assert not bars
        text = next(t for _, c, t in rec.errors if c == 162)
        assert "No market data permissions for NASDAQ STK" in text
        assert await ib.reqHistoricalDataAsync(await _stock(ib, "AAPL"), **kw)  # subscribed
    finally:
        ib.disconnect()


async def test_a_competing_live_session_stops_market_data_with_10197(
    gateway: SimulatedGateway, ib: IB, manual_clock: ManualClock, ib_log_guard: IbLogGuard
) -> None:
    ib_log_guard.expect(r"Error 10197")
    rec = Recorder(ib)
    aapl = ib.reqMktData(await _stock(ib, "AAPL"))
    await wait_until(lambda: rec.ticks.get("AAPL", 0) > 0)
    gateway.competing_session = True
    await wait_until(lambda: 10197 in rec.codes())
    assert "competing live session" in rec.errors[-1][2]
    # The market moves, several tick rounds go by, and nothing streams while the other session
    # holds the data.
    manual_clock.advance(120)
    seen, rounds = rec.ticks["AAPL"], gateway.tick_rounds
    await wait_until(lambda: gateway.tick_rounds > rounds + 5)
    assert rec.ticks["AAPL"] == seen
    assert aapl.last != gateway.quote("AAPL").last
    gateway.competing_session = False
    await wait_until(lambda: aapl.last == gateway.quote("AAPL").last)
