"""A max_daily_loss breach, as a trader means it: no new entries for the rest of the session
(REDUCING), the positions losing TODAY closed (the largest day loss first), the rest kept while the
day's loss is contained; everything closed and HALTED only when the day's loss grows past the
breach by `daily_loss_halt_margin` of the limit. The next session starts ACTIVE unless HALTED.

The day's loss is IB's daily P&L (reqPnL). Closing a loser realizes its loss rather than undoing
it: the day's P&L stays where it was after the losers are closed, so "close losers until the
loss is back within the limit" can never stop, and used to close the winners too.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.fixtures_sim import wait_until
from tests.safety.conftest import MakeRig, Rig
from weekly_er_tui.clock import ManualClock
from weekly_er_tui.model import EventType, TradingState
from weekly_er_tui.sim import SimulatedGateway

pytestmark = pytest.mark.integration

LIMIT = 2_000.0


def _shock_losers(gateway: SimulatedGateway) -> None:
    # In one go (no await between): XOM gains today; AAPL loses about $2.4k, JPM about $0.3k;
    # the account's day is about -$2.5k against a $2k limit.
    gateway.price_shock(2, symbol="XOM")
    gateway.price_shock(-3, symbol="JPM")
    gateway.price_shock(-10, symbol="AAPL")


def _closed(gateway: SimulatedGateway) -> list[str]:
    return [ref.split("-")[2] for ref in gateway.order_refs_received]


async def _reduced(r: Rig, gateway: SimulatedGateway) -> None:
    await wait_until(lambda: any("kept" in e.message for e in r.of(EventType.EMERGENCY_CLOSE))
                     and sorted(gateway.account.positions) == ["XOM"], timeout=10)


async def test_a_breach_closes_only_todays_losers_and_keeps_the_winner(
    rig: MakeRig, gateway: SimulatedGateway
) -> None:
    r = await rig({"max_daily_loss": LIMIT})
    engine = r.engine
    _shock_losers(gateway)
    await _reduced(r, gateway)

    # The losers, the largest day loss first; the winner stays.
    assert _closed(gateway) == ["AAPL", "JPM"]
    assert sorted(gateway.account.positions) == ["XOM"]
    kept = next(e for e in r.of(EventType.EMERGENCY_CLOSE) if "kept" in e.message)
    assert kept.details["closed"] == ["AAPL", "JPM"] and kept.details["kept"] == ["XOM"]
    breach = kept.details["breach_pnl"]
    assert breach < -LIMIT
    assert kept.details["halt_below"] == pytest.approx(breach - 0.5 * LIMIT)
    # REDUCING for the rest of the session (no new entries), not HALTED.
    assert engine.safety.trading_state is TradingState.REDUCING
    assert engine.store.trading_state()[0] is TradingState.REDUCING
    assert not r.of(EventType.TRADING_HALTED)
    # The loss stands (it was realized), contained: later checks close nothing more.
    for _ in range(3):
        await r.settle()
    assert engine.safety.last_report is not None and engine.safety.last_report.critical
    assert _closed(gateway) == ["AAPL", "JPM"]
    rows = r.rows("trade_journal.csv")
    assert [(x["symbol"], x["reason"]) for x in rows] == [
        ("AAPL", "DAILY_LOSS"), ("JPM", "DAILY_LOSS")]
    daily = [a for a in r.alerts() if a.title.startswith("Daily loss limit breached")]
    assert len(daily) == 1


async def test_a_further_fall_past_the_margin_closes_the_rest_and_halts(
    rig: MakeRig, gateway: SimulatedGateway
) -> None:
    r = await rig({"max_daily_loss": LIMIT})
    engine = r.engine
    _shock_losers(gateway)
    await _reduced(r, gateway)

    # XOM falls 5% (about -$570): the day's loss grows but stays within the margin ($1,000).
    gateway.price_shock(-5, symbol="XOM")
    for _ in range(3):
        await r.settle()
    assert sorted(gateway.account.positions) == ["XOM"]
    assert engine.safety.trading_state is TradingState.REDUCING

    # Another 20% (about -$2.2k): past the margin: everything is closed, HALTED.
    gateway.price_shock(-20, symbol="XOM")
    await wait_until(lambda: engine.safety.trading_state is TradingState.HALTED
                     and gateway.account.positions == {}, timeout=10)
    assert _closed(gateway) == ["AAPL", "JPM", "XOM"]
    assert "past the margin" in engine.safety.trading_state_reason
    assert engine.store.trading_state()[0] is TradingState.HALTED


async def test_the_next_session_starts_active_unless_halted(
    rig: MakeRig, gateway: SimulatedGateway, manual_clock: ManualClock
) -> None:
    r = await rig({"max_daily_loss": LIMIT})
    engine = r.engine
    _shock_losers(gateway)
    await _reduced(r, gateway)
    assert engine.safety.trading_state is TradingState.REDUCING

    manual_clock.set(manual_clock.now() + timedelta(days=1))
    await engine.safety.check("timer")
    resumed = [e for e in r.of(EventType.TRADING_RESUMED) if "new session" in e.message]
    assert resumed, [e.message for e in r.events]
