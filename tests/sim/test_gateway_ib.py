"""The real ib_async.IB against the simulated gateway over TCP: data, account and orders."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from ib_async import IB, ExecutionFilter, LimitOrder, MarketOrder, Order, Stock

from tests.conftest import IbLogGuard
from tests.fixtures_sim import ConnectIB, wait_until
from weekly_er_tui.clock import ManualClock
from weekly_er_tui.sim import SimulatedGateway

pytestmark = pytest.mark.integration


def aapl() -> Stock:
    return Stock("AAPL", "SMART", "USD")


async def test_connect_completes_without_timeouts(gateway: SimulatedGateway) -> None:
    ib = IB()
    started = time.monotonic()
    await ib.connectAsync("127.0.0.1", gateway.port, clientId=7, timeout=5)
    elapsed = time.monotonic() - started
    try:
        # a missing end marker would cost the whole 5 s timeout (and log "request timed out")
        assert elapsed < 2.0
        assert ib.isConnected()
        assert ib.client.serverVersion() == 178
        assert ib.managedAccounts() == ["DU1000001"]
        assert gateway.clients == [7]
    finally:
        ib.disconnect()
    await gateway.wait_for(lambda: gateway.clients == [])


async def test_positions_portfolio_and_account_values(ib: IB, gateway: SimulatedGateway) -> None:
    positions = {p.contract.symbol: (p.position, p.avgCost) for p in ib.positions()}
    assert positions == {"AAPL": (100.0, 180.0), "JPM": (50.0, 190.0), "XOM": (100.0, 105.0)}

    portfolio = {p.contract.symbol: p for p in ib.portfolio()}
    assert set(portfolio) == {"AAPL", "JPM", "XOM"}
    item = portfolio["AAPL"]
    assert item.marketPrice == pytest.approx(gateway.price("AAPL"))
    assert item.marketValue == pytest.approx(100 * gateway.price("AAPL"), abs=0.01)
    assert item.unrealizedPNL == pytest.approx(100 * (gateway.price("AAPL") - 180.0), abs=0.01)

    values = {(v.tag, v.currency): v.value for v in ib.accountValues()}
    nlv = float(values[("NetLiquidation", "USD")])
    cash = float(values[("TotalCashValue", "USD")])
    gpv = float(values[("GrossPositionValue", "USD")])
    assert cash == pytest.approx(100_000)
    assert nlv == pytest.approx(cash + gpv, abs=0.02)
    assert nlv == pytest.approx(gateway.account.net_liquidation, abs=0.01)
    for tag in ("BuyingPower", "AvailableFunds", "ExcessLiquidity", "EquityWithLoanValue"):
        assert float(values[(tag, "USD")]) > 0
    assert float(values[("BuyingPower", "USD")]) == pytest.approx(
        4 * float(values[("AvailableFunds", "USD")]), abs=0.05
    )


async def test_account_summary_and_multi(ib: IB) -> None:
    summary = {v.tag: v.value for v in await ib.accountSummaryAsync()}
    assert summary["AccountType"] == "INDIVIDUAL"
    assert float(summary["NetLiquidation"]) > 100_000


async def test_pnl_daily_from_previous_close(
    ib: IB, gateway: SimulatedGateway, manual_clock: ManualClock
) -> None:
    pnl = ib.reqPnL("DU1000001")
    # the first answer is unset (max-double, row 16); the figures follow
    await wait_until(lambda: pnl.dailyPnL == pnl.dailyPnL and pnl.dailyPnL < 1e300)
    market = gateway.market
    now = manual_clock.now().timestamp()
    expected_daily = sum(
        qty * (gateway.price(sym) - market.prev_close(sym, now))
        for sym, (qty, _) in gateway.account.positions.items()
    )
    expected_unrealized = sum(
        qty * (gateway.price(sym) - avg) for sym, (qty, avg) in gateway.account.positions.items()
    )
    assert pnl.dailyPnL == pytest.approx(expected_daily, abs=0.01)
    assert pnl.unrealizedPnL == pytest.approx(expected_unrealized, abs=0.01)
    assert pnl.realizedPnL == 0.0
    # the previous close of a seeded position is the scenario price
    assert market.prev_close("AAPL", now) == 200.0

    # P&L streams as prices move
    before = pnl.dailyPnL
    manual_clock.advance(3600)
    await wait_until(lambda: pnl.dailyPnL != before)
    now = manual_clock.now().timestamp()
    assert pnl.dailyPnL == pytest.approx(gateway.account.daily_pnl, abs=0.01)

    con_id = gateway.market.instruments["AAPL"].con_id
    single = ib.reqPnLSingle("DU1000001", "", con_id)
    await wait_until(lambda: single.position == 100 and single.dailyPnL < 1e300)
    assert single.value == pytest.approx(100 * gateway.price("AAPL"), abs=0.01)
    assert single.dailyPnL == pytest.approx(100 * (gateway.price("AAPL") - 200.0), abs=0.01)


async def test_current_time_is_the_simulated_clock(ib: IB, manual_clock: ManualClock) -> None:
    assert await ib.reqCurrentTimeAsync() == manual_clock.now()


async def test_contract_details_carry_the_sector(ib: IB, gateway: SimulatedGateway) -> None:
    [details] = await ib.reqContractDetailsAsync(Stock("MSFT", "SMART", "USD"))
    assert details.industry == "Technology"
    assert details.category == "Software"
    assert details.longName == "Microsoft Corp"
    assert details.contract.conId == gateway.market.instruments["MSFT"].con_id
    assert details.contract.primaryExchange == "NASDAQ"
    assert details.minTick == 0.01
    [qualified] = await ib.qualifyContractsAsync(Stock("JPM", "SMART", "USD"))
    assert qualified is not None and qualified.conId == gateway.market.instruments["JPM"].con_id


async def test_unknown_symbol_is_error_200(ib: IB, ib_log_guard: IbLogGuard) -> None:
    ib_log_guard.expect(r"Error 200")
    ib_log_guard.expect(r"Unknown contract")
    errors: list[int] = []
    ib.errorEvent += lambda req_id, code, text, contract: errors.append(code)
    assert await ib.reqContractDetailsAsync(Stock("NOPE", "SMART", "USD")) == []
    assert errors == [200]


async def test_ticks_stream_from_the_simulated_market(
    ib: IB, gateway: SimulatedGateway, manual_clock: ManualClock
) -> None:
    contract = Stock("AAPL", "SMART", "USD", conId=gateway.market.instruments["AAPL"].con_id)
    ticker = ib.reqMktData(contract)
    await wait_until(lambda: ticker.last == ticker.last and ticker.last > 0)
    quote = gateway.quote("AAPL")
    assert (ticker.bid, ticker.ask, ticker.last) == (quote.bid, quote.ask, quote.last)
    assert ticker.bid < ticker.last < ticker.ask
    assert ticker.close == 200.0
    assert ticker.low <= ticker.last <= ticker.high
    assert ticker.volume > 0

    manual_clock.advance(600)
    moved_to = gateway.price("AAPL")
    await wait_until(lambda: ticker.last == moved_to)
    assert ticker.bid == gateway.quote("AAPL").bid
    ib.cancelMktData(contract)


async def test_daily_historical_bars(
    ib: IB, gateway: SimulatedGateway, manual_clock: ManualClock
) -> None:
    bars = await ib.reqHistoricalDataAsync(aapl(), "", "60 D", "1 day", "TRADES", True)
    assert 38 <= len(bars) <= 43  # about 41 sessions in 60 calendar days
    today = manual_clock.now().date()
    assert bars[-1].date == today
    assert bars[-2].close == 200.0  # the previous session closed at the scenario price
    assert bars[-1].close == gateway.price("AAPL")
    for bar in bars:
        assert bar.low <= min(bar.open, bar.close) <= max(bar.open, bar.close) <= bar.high
    dates = [b.date for b in bars]
    assert dates == sorted(dates) and len(set(dates)) == len(dates)
    assert all(d.weekday() < 5 for d in dates)


async def test_intraday_historical_bars(ib: IB, manual_clock: ManualClock) -> None:
    manual_clock.advance(3 * 3600)  # 13:00 ET
    bars = await ib.reqHistoricalDataAsync(aapl(), "", "1 D", "1 hour", "TRADES", True)
    assert [b.date.hour for b in bars] == [9, 10, 11, 12]  # 09:30 bars are labelled by start
    assert bars[0].date.minute == 30


@pytest.mark.kind_simulator(
    "pins the kind simulator's Submitted before Filled; the real fill order is "
    'tests/sim/test_real_orders.py')
async def test_market_order_full_fill_sequence(ib: IB, gateway: SimulatedGateway) -> None:
    statuses: list[str] = []
    trade = ib.placeOrder(aapl(), MarketOrder("BUY", 10, orderRef="er-1"))
    trade.statusEvent += lambda t: statuses.append(t.orderStatus.status)
    commissions: list[float] = []
    trade.commissionReportEvent += lambda t, f, r: commissions.append(r.commission)
    await wait_until(lambda: trade.isDone() and commissions)
    ask = gateway.executions[-1].price
    assert trade.orderStatus.status == "Filled"
    assert trade.orderStatus.avgFillPrice == pytest.approx(ask)
    assert statuses[:2] == ["PreSubmitted", "Submitted"] and statuses[-1] == "Filled"
    [fill] = trade.fills
    assert fill.execution.orderRef == "er-1"
    assert fill.execution.side == "BOT" and fill.execution.shares == 10
    assert commissions == [1.0]  # $0.005 x 10 shares, minimum $1
    assert trade.order.orderRef == "er-1"
    assert gateway.order_refs_received == ["er-1"]
    await wait_until(lambda: any(p.position == 110 for p in ib.positions()))
    assert gateway.account.positions["AAPL"][0] == 110
    assert gateway.account.cash == pytest.approx(100_000 - 10 * ask - 1.0)


async def test_limit_order_rests_then_fills_when_price_crosses(
    ib: IB, gateway: SimulatedGateway, manual_clock: ManualClock
) -> None:
    limit = round(gateway.price("AAPL") * 0.995, 2)
    trade = ib.placeOrder(aapl(), LimitOrder("BUY", 20, limit, orderRef="lmt-1"))
    await wait_until(lambda: trade.orderStatus.status == "Submitted")
    assert [o.order_id for o in gateway.open_orders()] == [trade.order.orderId]
    # step the clock until the ask comes down to the limit (a seeded path: deterministic)
    for _ in range(400):
        if trade.isDone():
            break
        manual_clock.advance(60)
        gateway.process()
        await wait_until(lambda: True)
    await wait_until(trade.isDone)
    assert trade.orderStatus.status == "Filled"
    [ex] = [e for e in gateway.executions if e.order_ref == "lmt-1"]
    assert ex.price == limit
    # at the fill instant the market had come through the limit
    _, ask = gateway.market.bid_ask("AAPL", ex.time.timestamp())
    assert ask <= limit


async def test_marketable_limit_fills_at_once(ib: IB, gateway: SimulatedGateway) -> None:
    ask = gateway.quote("AAPL").ask
    trade = ib.placeOrder(aapl(), LimitOrder("BUY", 5, ask + 1.0))
    await wait_until(trade.isDone)
    assert trade.orderStatus.avgFillPrice == ask


async def test_moc_fills_at_the_session_close(
    ib: IB, gateway: SimulatedGateway, manual_clock: ManualClock
) -> None:
    order = Order(action="SELL", totalQuantity=50, orderType="MOC", orderRef="moc-1")
    trade = ib.placeOrder(Stock("JPM", "SMART", "USD"), order)
    await wait_until(lambda: trade.orderStatus.status == "Submitted")
    manual_clock.advance(6 * 3600 + 60)  # 16:01 ET, past the close
    await wait_until(trade.isDone)
    sessions = gateway.market.sessions
    day = sessions.trading_day(manual_clock.now().timestamp() - 3600)
    close = gateway.market.session_close("JPM", day)
    assert trade.orderStatus.status == "Filled"
    assert trade.orderStatus.avgFillPrice == close
    [ex] = [e for e in gateway.executions if e.order_ref == "moc-1"]
    assert ex.time.timestamp() == sessions.closes[day]
    assert "JPM" not in gateway.account.positions
    await wait_until(lambda: trade.fills and trade.fills[0].commissionReport.commission > 0)
    # realized P&L: 50 x (close - 190) less the commission
    assert trade.fills[0].commissionReport.realizedPNL == pytest.approx(
        50 * (close - 190.0) - 1.0, abs=0.01
    )


async def test_market_order_outside_rth_waits_for_the_open(
    ib: IB, gateway: SimulatedGateway, manual_clock: ManualClock
) -> None:
    manual_clock.advance(7 * 3600)  # 17:00 ET, after the close
    trade = ib.placeOrder(aapl(), MarketOrder("BUY", 10))
    await wait_until(lambda: trade.orderStatus.status == "PreSubmitted")
    gateway.process()
    assert not trade.isDone()
    sessions = gateway.market.sessions
    next_open = sessions.opens[sessions.trading_day(manual_clock.now().timestamp())]
    manual_clock.set(
        manual_clock.now() + timedelta(seconds=next_open - manual_clock.now().timestamp() + 1)
    )
    await wait_until(trade.isDone)
    assert trade.fills[0].execution.time.timestamp() == next_open


async def test_cancel_sends_cancelled_then_202(
    ib: IB, gateway: SimulatedGateway, ib_log_guard: IbLogGuard
) -> None:
    ib_log_guard.expect(r"Error 202")
    codes: list[int] = []
    ib.errorEvent += lambda req_id, code, text, contract: codes.append(code)
    trade = ib.placeOrder(aapl(), LimitOrder("BUY", 10, 1.0))
    await wait_until(lambda: trade.orderStatus.status == "Submitted")
    ib.cancelOrder(trade.order)
    await wait_until(lambda: codes == [202])
    assert trade.orderStatus.status == "Cancelled"
    assert gateway.open_orders() == []


async def test_cancel_unknown_order_is_10147(ib: IB, ib_log_guard: IbLogGuard) -> None:
    ib_log_guard.expect(r"Error 10147")
    ib_log_guard.expect(r"cancelOrder: Unknown orderId")
    codes: list[int] = []
    ib.errorEvent += lambda req_id, code, text, contract: codes.append(code)
    ib.cancelOrder(Order(orderId=999))
    await wait_until(lambda: codes == [10147])


async def test_global_cancel_cancels_every_client(
    ib: IB, connect_ib: ConnectIB, gateway: SimulatedGateway, ib_log_guard: IbLogGuard
) -> None:
    ib_log_guard.expect(r"Error 202")
    other = await connect_ib(2)
    t1 = ib.placeOrder(aapl(), LimitOrder("BUY", 10, 1.0))
    t2 = other.placeOrder(Stock("MSFT", "SMART", "USD"), LimitOrder("BUY", 10, 1.0))
    await wait_until(lambda: len(gateway.open_orders()) == 2)
    ib.reqGlobalCancel()
    await wait_until(lambda: t1.isDone() and t2.isDone())
    assert t1.orderStatus.status == t2.orderStatus.status == "Cancelled"


async def test_partial_fills(ib: IB, gateway: SimulatedGateway) -> None:
    gateway.partial_fills(3)
    trade = ib.placeOrder(aapl(), MarketOrder("BUY", 100, orderRef="pf"))
    remaining: list[float] = []
    trade.statusEvent += lambda t: remaining.append(t.orderStatus.remaining)
    await wait_until(lambda: trade.isDone() and len(trade.fills) == 3)
    assert [f.execution.shares for f in trade.fills] == [33, 33, 34]
    assert [f.execution.cumQty for f in trade.fills] == [33, 66, 100]
    assert 67 in remaining and 34 in remaining and remaining[-1] == 0
    await wait_until(lambda: all(f.commissionReport.commission > 0 for f in trade.fills))


async def test_partial_fills_spread_in_time_can_be_cancelled(
    ib: IB, gateway: SimulatedGateway, manual_clock: ManualClock, ib_log_guard: IbLogGuard
) -> None:
    ib_log_guard.expect(r"Error 202")
    gateway.partial_fills(4, interval=60)
    trade = ib.placeOrder(aapl(), MarketOrder("BUY", 100))
    await wait_until(lambda: len(trade.fills) == 1)
    manual_clock.advance(60)
    await wait_until(lambda: len(trade.fills) == 2)
    assert trade.orderStatus.status == "Submitted" and trade.orderStatus.remaining == 50
    ib.cancelOrder(trade.order)
    await wait_until(trade.isDone)
    assert trade.orderStatus.status == "Cancelled" and trade.orderStatus.filled == 50


@pytest.mark.kind_simulator(
    "pins the kind simulator's rejection (201 alone, Cancelled); 201 plus Inactive is "
    'tests/sim/test_real_orders.py')
async def test_rejection_sends_only_error_201(
    ib: IB, gateway: SimulatedGateway, ib_log_guard: IbLogGuard
) -> None:
    ib_log_guard.expect(r"Error 201")
    gateway.reject_next_orders(1, reason="Simulated margin check")
    codes: list[tuple[int, str]] = []
    ib.errorEvent += lambda req_id, code, text, contract: codes.append((code, text))
    trade = ib.placeOrder(aapl(), MarketOrder("BUY", 10, orderRef="rej"))
    await wait_until(trade.isDone)
    assert trade.orderStatus.status == "Cancelled"
    assert codes == [(201, "Order rejected - reason: Simulated margin check")]
    assert any(e.errorCode == 201 for e in trade.log)
    assert gateway.executions == [] and gateway.order_refs_received == ["rej"]
    # only the next order was rejected
    second = ib.placeOrder(aapl(), MarketOrder("BUY", 10))
    await wait_until(second.isDone)
    assert second.orderStatus.status == "Filled"


@pytest.mark.kind_simulator(
    "pins the kind simulator's rejection (201 alone, Cancelled); 201 plus Inactive is "
    'tests/sim/test_real_orders.py')
async def test_order_beyond_buying_power_is_rejected(ib: IB, ib_log_guard: IbLogGuard) -> None:
    ib_log_guard.expect(r"Error 201")
    trade = ib.placeOrder(aapl(), MarketOrder("BUY", 100_000))
    await wait_until(trade.isDone)
    assert trade.orderStatus.status == "Cancelled"
    assert "EQUITY WITH LOAN" in trade.log[-1].message


async def test_executions_after_reconnect_include_fills_made_while_away(
    connect_ib: ConnectIB, gateway: SimulatedGateway
) -> None:
    first = await connect_ib(1)
    trade = first.placeOrder(aapl(), MarketOrder("BUY", 10, orderRef="before"))
    await wait_until(trade.isDone)
    working = first.placeOrder(aapl(), LimitOrder("SELL", 5, 10_000.0, orderRef="resting"))
    await wait_until(lambda: working.orderStatus.status == "Submitted")
    first.disconnect()
    await gateway.wait_for(lambda: gateway.clients == [])

    gateway.fill_externally("MSFT", 7)  # a TWS user's order while the API client was away
    second = await connect_ib(1)
    fills = await second.reqExecutionsAsync()
    assert sorted(f.execution.orderRef for f in fills) == ["", "before"]
    msft = [f for f in fills if f.contract.symbol == "MSFT"]
    assert msft[0].execution.shares == 7 and msft[0].execution.clientId == 0
    # connectAsync itself asked for the executions: the client's fills carry their commissions
    known = {f.execution.execId: f for f in second.fills()}
    assert set(known) == {f.execution.execId for f in fills}
    assert all(f.commissionReport.commission > 0 for f in known.values())
    # the working order survived the disconnect and came back with reqOpenOrders at connect
    assert [t.order.orderRef for t in second.openTrades()] == ["resting"]
    # completed orders of the day came back too
    done = await second.reqCompletedOrdersAsync(apiOnly=True)
    assert [t.order.orderRef for t in done] == ["before"]
    positions = {p.contract.symbol: p.position for p in second.positions()}
    assert positions["MSFT"] == 7 and positions["AAPL"] == 110


async def test_execution_filter(connect_ib: ConnectIB, gateway: SimulatedGateway) -> None:
    ib = await connect_ib(1)
    for sym in ("AAPL", "JNJ"):
        t = ib.placeOrder(Stock(sym, "SMART", "USD"), MarketOrder("BUY", 1))
        await wait_until(t.isDone)
    fills = await ib.reqExecutionsAsync(ExecutionFilter(symbol="JNJ"))
    assert [f.contract.symbol for f in fills] == ["JNJ"]


async def test_two_clients_each_see_their_own_orders(
    connect_ib: ConnectIB, gateway: SimulatedGateway
) -> None:
    a = await connect_ib(1)
    b = await connect_ib(2)
    assert gateway.clients == [1, 2]
    ta = a.placeOrder(aapl(), MarketOrder("BUY", 1, orderRef="from-a"))
    tb = b.placeOrder(aapl(), MarketOrder("BUY", 2, orderRef="from-b"))
    await wait_until(lambda: ta.isDone() and tb.isDone())
    assert ta.orderStatus.clientId == 1 and tb.orderStatus.clientId == 2
    assert [f.execution.orderRef for f in a.fills()] == ["from-a"]
    assert [f.execution.orderRef for f in b.fills()] == ["from-b"]
    # both see the account change
    await wait_until(
        lambda: {p.position for p in a.positions() if p.contract.symbol == "AAPL"} == {103}
    )
    await wait_until(
        lambda: {p.position for p in b.positions() if p.contract.symbol == "AAPL"} == {103}
    )


async def test_duplicate_client_id_gets_326_and_is_disconnected(
    ib: IB, gateway: SimulatedGateway, ib_log_guard: IbLogGuard
) -> None:
    ib_log_guard.expect(r"Error 326")
    ib_log_guard.expect(r"Peer closed connection")
    ib_log_guard.expect(r"API connection failed")
    dup = IB()
    codes: list[int] = []
    dup.errorEvent += lambda req_id, code, text, contract: codes.append(code)
    with pytest.raises((ConnectionError, TimeoutError)):
        await dup.connectAsync("127.0.0.1", gateway.port, clientId=1, timeout=3)
    assert codes == [326]
    assert not dup.isConnected()
    assert gateway.clients == [1] and ib.isConnected()


async def test_modify_a_working_limit_order(ib: IB, gateway: SimulatedGateway) -> None:
    order = LimitOrder("BUY", 10, 1.0, orderRef="mod")
    trade = ib.placeOrder(aapl(), order)
    await wait_until(lambda: trade.orderStatus.status == "Submitted")
    order.lmtPrice = gateway.quote("AAPL").ask + 1
    ib.placeOrder(aapl(), order)
    await wait_until(trade.isDone)
    assert trade.orderStatus.status == "Filled"
    assert gateway.order_refs_received == ["mod", "mod"]


async def test_all_open_orders_include_other_clients(
    connect_ib: ConnectIB, gateway: SimulatedGateway
) -> None:
    a = await connect_ib(1)
    b = await connect_ib(2)
    trade = a.placeOrder(aapl(), LimitOrder("BUY", 10, 1.0, orderRef="a-rests"))
    await wait_until(lambda: trade.orderStatus.status == "Submitted")
    assert await b.reqOpenOrdersAsync() == []  # its own: none
    everyone = await b.reqAllOpenOrdersAsync()
    assert [(t.order.orderRef, t.order.clientId) for t in everyone] == [("a-rests", 1)]


async def test_historical_request_for_too_many_bars_is_refused(
    ib: IB, ib_log_guard: IbLogGuard
) -> None:
    ib_log_guard.expect(r"Error 162")
    bars = await ib.reqHistoricalDataAsync(aapl(), "", "1 Y", "5 secs", "TRADES", True)
    assert len(bars) == 0
