"""The real ib_async client against the simulator's session rules of a real gateway
(../shared/notes/ib-real-behaviour.md rows 10 and 11): outsideRth orders only in extended hours
on trading days, and the MOC/LOC cutoffs by exchange, early closes included."""

from __future__ import annotations

from datetime import datetime

import pytest
from ib_async import IB, LimitOrder, Order, Stock, Trade

from tests.conftest import IbLogGuard
from tests.fixtures_sim import wait_until
from weekly_er_tui.clock import ET, ManualClock
from weekly_er_tui.sim import SimulatedGateway

pytestmark = pytest.mark.integration


def et(m: int, d: int, hh: int, mm: int = 0, ss: int = 0) -> datetime:
    return datetime(2026, m, d, hh, mm, ss, tzinfo=ET)


def stock(symbol: str = "AAPL") -> Stock:
    return Stock(symbol, "SMART", "USD")


def outside_rth_buy(gateway: SimulatedGateway, ib: IB, symbol: str = "AAPL") -> Trade:
    """A marketable outsideRth limit: it fills the moment it may work."""
    order = LimitOrder("BUY", 10, round(gateway.quote(symbol).ask * 1.02, 2), outsideRth=True)
    return ib.placeOrder(stock(symbol), order)


async def held_until(gateway: SimulatedGateway, clock: ManualClock, trade: Trade,
                     before: datetime, at: datetime) -> None:
    """Not filled at `before`, filled by `at` (the clock moved, the book advanced)."""
    await wait_until(lambda: trade.orderStatus.status == "PreSubmitted")
    filled = len(gateway.executions)
    clock.set(before)
    gateway.process()
    assert len(gateway.executions) == filled and not trade.isDone()
    clock.set(at)
    gateway.process()
    await wait_until(lambda: trade.orderStatus.status == "Filled")


async def test_an_outside_rth_order_at_night_waits_for_the_pre_market(
    ib: IB, gateway: SimulatedGateway, manual_clock: ManualClock
) -> None:
    manual_clock.set(et(11, 23, 21, 0))  # Monday 21:00: after-hours ended at 20:00
    trade = outside_rth_buy(gateway, ib)
    await held_until(gateway, manual_clock, trade, et(11, 24, 3, 59), et(11, 24, 4, 0, 1))
    [fill] = gateway.executions
    assert fill.time.astimezone(ET) == et(11, 24, 4, 0)


async def test_nothing_fills_on_a_weekend_or_a_holiday(
    ib: IB, gateway: SimulatedGateway, manual_clock: ManualClock
) -> None:
    manual_clock.set(et(11, 26, 11, 0))  # Thanksgiving: no session, no extended hours
    trade = outside_rth_buy(gateway, ib)
    await held_until(gateway, manual_clock, trade, et(11, 27, 3, 59), et(11, 27, 4, 0, 1))
    manual_clock.set(et(11, 28, 12, 0))  # Saturday
    weekend = outside_rth_buy(gateway, ib, "MSFT")
    await held_until(gateway, manual_clock, weekend, et(11, 30, 3, 59), et(11, 30, 4, 0, 1))


async def test_after_hours_end_four_hours_after_an_early_close(
    ib: IB, gateway: SimulatedGateway, manual_clock: ManualClock
) -> None:
    manual_clock.set(et(11, 27, 16, 30))  # Friday after the 13:00 early close: until 17:00
    trade = outside_rth_buy(gateway, ib)
    await wait_until(lambda: trade.orderStatus.status == "Filled")
    manual_clock.set(et(11, 27, 17, 30))
    late = outside_rth_buy(gateway, ib, "MSFT")
    await held_until(gateway, manual_clock, late, et(11, 30, 3, 0), et(11, 30, 4, 0, 1))


async def test_the_kind_simulator_fills_an_outside_rth_order_at_any_hour(
    ib: IB, gateway: SimulatedGateway, manual_clock: ManualClock
) -> None:
    gateway.realism.extended_hours_only = False
    manual_clock.set(et(11, 28, 12, 0))
    trade = outside_rth_buy(gateway, ib)
    await wait_until(lambda: trade.orderStatus.status == "Filled")


def moc(action: str = "SELL") -> Order:
    return Order(action=action, totalQuantity=10, orderType="MOC", tif="DAY")


async def test_moc_entry_cutoffs_are_the_exchanges_and_move_with_an_early_close(
    ib: IB, gateway: SimulatedGateway, manual_clock: ManualClock, ib_log_guard: IbLogGuard
) -> None:
    ib_log_guard.expect(r"Error 201")
    texts: list[tuple[int, int, str]] = []
    ib.errorEvent += lambda req_id, code, text, contract: texts.append((req_id, code, text))
    manual_clock.set(et(11, 23, 15, 52))
    nyse = ib.placeOrder(stock("JPM"), moc())  # NYSE: until 15:50
    nasdaq = ib.placeOrder(stock("AAPL"), moc())  # Nasdaq: until 15:55
    await wait_until(lambda: nyse.isDone() and nasdaq.orderStatus.status == "Submitted")
    [(req_id, code, text)] = texts
    assert (req_id, code) == (nyse.order.orderId, 201)
    assert "15:50 ET for NYSE" in text
    manual_clock.set(et(11, 27, 12, 52))  # the 13:00 early close: 12:50 and 12:55
    early = ib.placeOrder(stock("JPM"), moc())
    await wait_until(early.isDone)
    assert "12:50 ET" in texts[-1][2]


async def test_no_moc_is_cancelled_after_the_cutoff_and_it_still_fills(
    ib: IB, gateway: SimulatedGateway, manual_clock: ManualClock, ib_log_guard: IbLogGuard
) -> None:
    ib_log_guard.expect(r"Error 161|Error 202")
    codes: list[int] = []
    ib.errorEvent += lambda req_id, code, text, contract: codes.append(code)
    manual_clock.set(et(11, 23, 15, 45))
    before = ib.placeOrder(stock("AAPL"), moc())
    after = ib.placeOrder(stock("XOM"), moc())
    await wait_until(lambda: len(gateway.open_orders()) == 2)
    ib.cancelOrder(before.order)  # 15:45: cancellable
    await wait_until(lambda: before.orderStatus.status == "Cancelled")
    manual_clock.set(et(11, 23, 15, 51))
    ib.cancelOrder(after.order)
    await wait_until(lambda: 161 in codes)
    # ib_async takes any error on an order for its end: it shows the MOC Cancelled ...
    assert after.orderStatus.status == "Cancelled"
    ib.reqGlobalCancel()
    await ib.reqOpenOrdersAsync()
    assert [o.symbol for o in gateway.open_orders()] == ["XOM"]  # ... it still works at IB
    manual_clock.set(et(11, 23, 16, 0, 1))
    gateway.process()
    await wait_until(lambda: len(gateway.executions) == 1)
    assert gateway.executions[0].symbol == "XOM"
