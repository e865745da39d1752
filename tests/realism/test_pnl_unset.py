"""Notes row 16: IB's P&L comes about once a second, and what it has not computed yet comes as
max-double (1.7976931348623157E308), as the first answer to reqPnL always does. The product
never reads it as a figure: the session's baseline (net liquidation minus IB's daily P&L, so
that a loss before the start is not hidden) used to take the unset daily P&L as 0 and fix the
baseline at the current, already reduced, net liquidation: a stop-loss that should fire did not.
"""

from __future__ import annotations

import pytest

from tests.fixtures_sim import wait_until
from tests.safety.conftest import MakeRig
from weekly_er_tui.model import EventType, TradingState
from weekly_er_tui.sim import SimulatedGateway

pytestmark = pytest.mark.integration

LIMITS = {"max_daily_loss": 50_000, "max_position_value": 100_000,
          "max_position_concentration": 0.6, "max_sector_concentration": 0.9}  # fmt: skip

TECH_HEAVY = [("AAPL", 300, 180.0), ("MSFT", 100, 380.0), ("JPM", 50, 190.0),
              ("XOM", 100, 105.0)]  # fmt: skip


async def test_an_unset_daily_pnl_at_the_start_hides_no_loss_from_the_stop(
    rig: MakeRig, gateway: SimulatedGateway
) -> None:
    gateway.scenario.positions.clear()
    gateway.account.holdings.clear()
    for symbol, qty, avg in TECH_HEAVY:
        gateway.account.seed_position(symbol, qty, avg)
    gateway.account.cash = 20_000
    assert gateway.realism.pnl_unset_max_double
    # IB computes the figures well after the first safety check: it sees only max-double.
    gateway.realism.pnl_first_figure_seconds = 4.0  # past the resync's 2 s wait for it
    gateway.price_shock(-8, sector="Technology")  # down 5.7% before the engine starts
    start_of_day = gateway.account.net_liquidation - gateway.account.daily_pnl
    r = await rig(LIMITS)
    assert r.engine.portfolio.snapshot().daily_pnl is None  # unset is unknown, never 1.8e308
    await wait_until(lambda: r.engine.portfolio.snapshot().daily_pnl is not None, timeout=6)
    await r.settle()
    baseline = r.engine.safety.baseline(r.engine.portfolio.snapshot())
    assert baseline == pytest.approx(start_of_day, rel=1e-3)
    assert r.engine.safety.trading_state is TradingState.ACTIVE
    gateway.price_shock(-7, sector="Technology")  # 10.3% below the start of the day
    await wait_until(lambda: r.of(EventType.EMERGENCY_CLOSE), timeout=8)
    await wait_until(lambda: gateway.account.positions == {}, timeout=10)
    assert r.engine.safety.trading_state is TradingState.HALTED
