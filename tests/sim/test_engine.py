"""The account ledger and the order engine, without sockets: P&L arithmetic and determinism."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from weekly_er_tui.clock import AcceleratedClock, ManualClock
from weekly_er_tui.sim.account import SimAccount
from weekly_er_tui.sim.market import Instrument, Market
from weekly_er_tui.sim.nyse import nyse_sessions
from weekly_er_tui.sim.orders import (
    OrderBook,
    OrderRequest,
    SimExecution,
    SimOrder,
    commission_for,
)

START = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)  # Monday 10:00 ET
CLOSE = datetime(2026, 11, 23, 21, 0, tzinfo=UTC)


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, int]] = []
        self.rejections: list[tuple[int, int, str]] = []

    def order_accepted(self, order: SimOrder) -> None:
        self.events.append(("accepted", order.order_id))

    def order_activated(self, order: SimOrder) -> None:
        self.events.append(("activated", order.order_id))

    def order_modified(self, order: SimOrder) -> None:
        self.events.append(("modified", order.order_id))

    def order_filled(self, order: SimOrder, execution: SimExecution) -> None:
        self.events.append(("filled", order.order_id))

    def order_cancelled(self, order: SimOrder, requested: bool, reason: str = "") -> None:
        self.events.append(("cancelled" if requested else "expired", order.order_id))

    def order_rejected(self, client_id: int, order_id: int, code: int, message: str,
                       order: SimOrder | None = None) -> None:
        self.rejections.append((order_id, code, message))


class HeldClock:
    """START until `release()`, then an AcceleratedClock from START: the orders go in at START
    however long placing them takes in real time (at 20,000x, 10 ms of a busy machine is more
    than three clock minutes, enough for a limit to cross before its order exists)."""

    def __init__(self, speed: float) -> None:
        self.speed = speed
        self._running: AcceleratedClock | None = None

    def release(self) -> None:
        self._running = AcceleratedClock(START, speed=self.speed)

    def now(self) -> datetime:
        return START if self._running is None else self._running.now()


def build(
    clock: ManualClock | AcceleratedClock | HeldClock,
) -> tuple[Market, SimAccount, OrderBook, Recorder]:
    market = Market(
        [Instrument("AAPL", 200.0, 0.30), Instrument("XOM", 110.0, 0.45)],
        seed=7, start=START, sessions=nyse_sessions(),
    )  # fmt: skip
    now = lambda: clock.now().timestamp()  # noqa: E731
    account = SimAccount("DU1", 100_000, market, now)
    account.seed_position("XOM", 200, 100.0)
    rec = Recorder()
    return market, account, OrderBook(market, account, now, rec), rec


def test_commission_schedule() -> None:
    assert commission_for(10, 200.0) == 1.0  # minimum
    assert commission_for(1000, 200.0) == 5.0  # $0.005 a share
    assert commission_for(300, 1.0) == 1.5
    assert commission_for(1000, 0.05) == 0.5  # capped at 1% of value


def test_ledger_average_cost_realized_and_daily_pnl() -> None:
    clock = ManualClock(START)
    market, account, _, _ = build(clock)
    t = START.timestamp()
    account.apply_fill("AAPL", 100, 200.0, 1.0, t)
    account.apply_fill("AAPL", 100, 210.0, 1.0, t)
    qty, avg = account.positions["AAPL"]
    assert qty == 200 and avg == pytest.approx((100 * 200 + 100 * 210 + 2) / 200)
    realized = account.apply_fill("AAPL", -50, 220.0, 1.0, t)
    assert realized == pytest.approx(50 * (220.0 - avg) - 1.0)
    assert account.positions["AAPL"] == (150, pytest.approx(avg))
    assert account.realized_pnl == pytest.approx(realized)
    assert account.cash == pytest.approx(100_000 - 20_000 - 21_000 - 2 + 11_000 - 1)
    # flip short: the rest opens at the fill price
    account.apply_fill("AAPL", -200, 215.0, 1.0, t)
    assert account.positions["AAPL"] == (-50, 215.0)
    # daily P&L: value now - value at the previous close - today's cash flows
    p_aapl, p_xom = account.price("AAPL"), account.price("XOM")
    flows = 20_000 + 21_000 + 2 - 11_000 + 1 - 43_000 + 1
    expected = (-50 * p_aapl - flows) + 200 * (p_xom - 110.0)
    assert account.daily_pnl == pytest.approx(expected)
    assert account.net_liquidation == pytest.approx(account.cash - 50 * p_aapl + 200 * p_xom)
    # next day: daily P&L starts from that day's previous close
    clock.set(START + timedelta(days=1))
    assert account.realized_pnl == 0
    assert account.daily_pnl == pytest.approx(
        -50 * (account.price("AAPL") - market.prev_close("AAPL", clock.now().timestamp()))
        + 200 * (account.price("XOM") - market.prev_close("XOM", clock.now().timestamp()))
    )


def test_values_are_consistent() -> None:
    clock = ManualClock(START)
    _, account, _, _ = build(clock)
    v = account.values()
    assert v["NetLiquidation"] == pytest.approx(v["TotalCashValue"] + v["StockMarketValue"])
    assert v["AvailableFunds"] == pytest.approx(v["NetLiquidation"] - v["InitMarginReq"])
    assert v["BuyingPower"] == pytest.approx(4 * v["AvailableFunds"])


def place(book: OrderBook, order_id: int, **kw: object) -> None:
    req = OrderRequest(**{"symbol": "AAPL", "action": "BUY", "quantity": 10, **kw})  # type: ignore[arg-type]
    book.place(1, order_id, req)


def plan(book: OrderBook, market: Market) -> None:
    p = market.price("AAPL", START.timestamp())
    place(book, 1, order_type="LMT", lmt_price=round(p * 0.993, 2))
    place(book, 2, order_type="LMT", action="SELL", lmt_price=round(p * 1.006, 2))
    place(book, 3, order_type="STP", action="SELL", aux_price=round(p * 0.99, 2))
    place(book, 4, order_type="MOC")
    place(book, 5, order_type="LMT", lmt_price=round(p * 0.8, 2))  # expires at the close
    xom = market.price("XOM", START.timestamp())
    place(book, 6, order_type="LMT", symbol="XOM", action="SELL", quantity=100,
          lmt_price=round(xom * 1.004, 2), tif="GTC")  # fmt: skip


def outcome(book: OrderBook) -> list[tuple[int, float, float, float]]:
    return [(e.order_id, e.time.timestamp(), e.price, e.qty) for e in book.executions]


def run_manual(step: float) -> tuple[list[tuple[int, float, float, float]], list[str]]:
    clock = ManualClock(START)
    market, _, book, _ = build(clock)
    plan(book, market)
    end = CLOSE + timedelta(minutes=1)
    while clock.now() < end:
        clock.set(min(end, clock.now() + timedelta(seconds=step)))
        book.advance()
    return outcome(book), [o.status for o in sorted(book.orders.values(), key=lambda o: o.order_id)]


def test_fills_do_not_depend_on_how_often_the_engine_runs() -> None:
    fine, statuses = run_manual(7)
    assert run_manual(3600) == (fine, statuses)
    assert run_manual(86400) == (fine, statuses)
    assert statuses == ["Filled", "Filled", "Filled", "Filled", "Cancelled", "Filled"]
    assert {o for o, *_ in fine} == {1, 2, 3, 4, 6}


async def test_same_results_at_clock_speed_20000_as_stepping_by_hand() -> None:
    expected, statuses = run_manual(3600)
    clock = HeldClock(speed=20_000)
    market, _, book, _ = build(clock)
    plan(book, market)
    clock.release()
    end = (CLOSE + timedelta(minutes=1)).timestamp()
    while clock.now().timestamp() < end:
        await asyncio.sleep(0.02)
        book.advance()
    assert outcome(book) == expected
    assert [o.status for o in sorted(book.orders.values(), key=lambda o: o.order_id)] == statuses


def test_rejections_and_cutoff() -> None:
    clock = ManualClock(START)
    _, _, book, rec = build(clock)
    place(book, 1, order_type="TRAIL")
    place(book, 2, order_type="LMT")
    place(book, 3, order_type="MKT", symbol="NOPE")
    place(book, 4, order_type="MKT", tif="FOK")
    clock.set(CLOSE - timedelta(minutes=5))
    place(book, 5, order_type="MOC")
    codes = [(oid, code) for oid, code, _ in rec.rejections]
    assert codes == [(1, 201), (2, 201), (3, 200), (4, 201), (5, 201)]
    assert "cutoff" in rec.rejections[-1][2]
    assert book.orders == {}
    assert book.order_refs_received == ["", "", "", "", ""]


def test_partial_fills_split_quantities() -> None:
    clock = ManualClock(START)
    _, _, book, _ = build(clock)
    book.partial_parts = 4
    place(book, 1, order_type="MKT", quantity=10)
    assert [e.qty for e in book.executions] == [2, 2, 2, 4]
    assert [e.cum_qty for e in book.executions] == [2, 4, 6, 10]
    assert len({e.exec_id for e in book.executions}) == 4
