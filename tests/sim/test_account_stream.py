"""Notes rows 1 and 8: the account stream apart from the position stream, against ib_async.

A real gateway sends a position change on the position stream, the account values (cash, net
liquidation) on the account stream a while later, and otherwise refreshes account values about
every 3 minutes; positions can themselves trail the fill's execution report.
"""

from __future__ import annotations

import time

import pytest
from ib_async import IB, MarketOrder, Stock

from tests.fixtures_sim import wait_until
from weekly_er_tui.clock import ManualClock
from weekly_er_tui.sim import SimulatedGateway

pytestmark = pytest.mark.integration


def cash(ib: IB) -> float:
    return next(float(v.value) for v in ib.accountValues()
                if v.tag == "TotalCashValue" and v.currency == "USD")  # fmt: skip


def position(ib: IB, symbol: str) -> float:
    return sum(float(p.position) for p in ib.positions() if p.contract.symbol == symbol)


@pytest.mark.kind_simulator(
    'measures the account lag alone, with the position lag off')
async def test_cash_trails_the_position_by_the_account_lag(
    ib: IB, gateway: SimulatedGateway
) -> None:
    gateway.realism = gateway.realism.model_copy(
        update={"account_lag_seconds": 0.3, "account_refresh_seconds": 180.0}
    )
    cash_before = cash(ib)
    seen: dict[str, float] = {}
    ib.positionEvent += lambda p: seen.setdefault("position", time.monotonic())

    def on_value(v: object) -> None:
        if getattr(v, "tag", "") == "TotalCashValue":
            seen.setdefault("cash", time.monotonic())

    ib.accountValueEvent += on_value
    ib.placeOrder(Stock("AAPL", "SMART", "USD"), MarketOrder("SELL", 100))
    await wait_until(lambda: position(ib, "AAPL") == 0, timeout=5)
    # The position is gone but the cash is the cash from before the sale: the account figure
    # built from these two now is short by the sale's value.
    assert cash(ib) == pytest.approx(cash_before)
    await wait_until(lambda: cash(ib) != pytest.approx(cash_before), timeout=5)
    lag = seen["cash"] - seen["position"]
    assert 0.25 <= lag <= 1.0, lag
    assert cash(ib) > cash_before + 100 * 150  # the proceeds arrived with the account update


async def test_account_values_refresh_on_the_three_minute_schedule(
    ib: IB, gateway: SimulatedGateway, manual_clock: ManualClock
) -> None:
    gateway.realism = gateway.realism.model_copy(update={"account_refresh_seconds": 180.0})
    updates: list[object] = []
    ib.updatePortfolioEvent += updates.append
    gateway.price_shock(-10, symbol="AAPL")
    rounds = gateway.stream.rounds
    await wait_until(lambda: gateway.stream.rounds >= rounds + 3)  # none of them sends it
    assert updates == []
    manual_clock.advance(180)
    await wait_until(lambda: updates, timeout=5)
    aapl = next(i for i in ib.portfolio() if i.contract.symbol == "AAPL")
    assert aapl.marketPrice == pytest.approx(gateway.price("AAPL"), rel=1e-3)


@pytest.mark.kind_simulator(
    "the kind simulator's own account stream is what it tests")
async def test_the_kind_simulator_sends_account_values_with_the_change(
    ib: IB, gateway: SimulatedGateway
) -> None:
    cash_before = cash(ib)
    ib.placeOrder(Stock("AAPL", "SMART", "USD"), MarketOrder("SELL", 100))
    await wait_until(lambda: position(ib, "AAPL") == 0, timeout=5)
    await wait_until(lambda: cash(ib) != pytest.approx(cash_before), timeout=0.2)


async def test_the_position_trails_the_execution_report(
    ib: IB, gateway: SimulatedGateway
) -> None:
    gateway.realism = gateway.realism.model_copy(update={"position_lag_seconds": 0.3})
    seen: dict[str, float] = {}
    ib.execDetailsEvent += lambda *a: seen.setdefault("exec", time.monotonic())
    ib.positionEvent += lambda p: seen.setdefault("position", time.monotonic())
    ib.placeOrder(Stock("AAPL", "SMART", "USD"), MarketOrder("SELL", 100))
    await wait_until(lambda: "position" in seen, timeout=5)
    assert seen["position"] - seen["exec"] >= 0.25


UNSET = 1.7976931348623157e308  # what ib_async reads for TWS's unset double (row 16)


async def test_pnl_starts_unset_then_comes_about_once_a_second(
    ib: IB, gateway: SimulatedGateway, manual_clock: ManualClock
) -> None:
    """Row 16: a P&L subscription's first answer has every value unset (max-double), the
    figures follow on IB's own once-a-second pace; a symbol with nothing realized today keeps
    its realized P&L unset."""
    account = gateway.account_id
    seen: list[tuple[float, float, float, float]] = []
    ib.pnlEvent += lambda p: seen.append((time.monotonic(), p.dailyPnL, p.unrealizedPnL,
                                          p.realizedPnL))
    ib.reqPnL(account)
    single = ib.reqPnLSingle(account, "", gateway.market.instruments["AAPL"].con_id)
    await wait_until(lambda: len(seen) >= 2, timeout=5)
    manual_clock.advance(600)  # prices move: the figures change
    await wait_until(lambda: len(seen) >= 3, timeout=5)
    assert seen[0][1:] == (UNSET, UNSET, UNSET)
    assert UNSET not in seen[1][1:]
    assert seen[2][0] - seen[1][0] > 0.8  # IB's pace, not the account loop's 0.1 s
    await wait_until(lambda: single.dailyPnL != UNSET)
    assert single.position == 100 and single.realizedPnL == UNSET
    assert abs(single.unrealizedPnL - 100 * (gateway.price("AAPL") - 180.0)) < 50
