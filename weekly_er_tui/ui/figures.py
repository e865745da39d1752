"""The cockpit's figures: each limit the screen shows, how much of it is used, how close that is.

Pure functions over `EngineState` and `SafetyLimits`. The engine's `SafetyReport.uses` are the
truth when present (the risk rules measured them); otherwise the figures are derived from the
portfolio the same way the rules do, so a screen without a safety report still shows its limits.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from weekly_er_tui.config import SafetyLimits
from weekly_er_tui.model import EngineState, LimitUse, PortfolioSnapshot

# Rule names as the risk rules report them in SafetyReport.uses (the config keys).
from weekly_er_tui.risk.rules import (
    EMERGENCY_STOP_LOSS,
    MAX_DAILY_LOSS,
    MAX_POSITION_CONCENTRATION,
    MAX_POSITIONS,
    MAX_SECTOR_CONCENTRATION,
    MIN_CASH_RESERVE,
)

# From this share of a limit on, a gauge turns to a warning: the trader should see it coming.
NEAR_USE = 0.8


class Level(StrEnum):
    """How close a figure is to its limit, in words (state is never conveyed by color alone)."""

    OK = "OK"
    NEAR = "NEAR"
    OVER = "OVER"


def level_of(use: float) -> Level:
    if use > 1.0:
        return Level.OVER
    if use >= NEAR_USE:
        return Level.NEAR
    return Level.OK


@dataclass(frozen=True, slots=True)
class Gauge:
    """One figure against its limit: `use` is 1.0 at the limit, above 1.0 past it."""

    name: str
    value: float
    limit: float
    use: float

    @property
    def level(self) -> Level:
        return level_of(self.use)


@dataclass(frozen=True, slots=True)
class RiskFigures:
    net_liquidation: float | None
    day_pnl: float | None
    daily_loss: Gauge  # value: today's loss (>= 0) against max_daily_loss
    drawdown: Gauge  # value: drawdown as a fraction against emergency_stop_loss
    cash: Gauge  # value: cash against min_cash_reserve (use passes 1.0 below the reserve)
    positions: Gauge  # value: open positions against max_positions
    risk_score: float | None


def score_level(score: float) -> Level:
    if score >= 70:
        return Level.OVER
    if score >= 40:
        return Level.NEAR
    return Level.OK


def score_word(score: float) -> str:
    return {Level.OK: "LOW", Level.NEAR: "ELEVATED", Level.OVER: "HIGH"}[score_level(score)]


def _uses(state: EngineState, rule: str) -> list[LimitUse]:
    if state.safety is None:
        return []
    return [u for u in state.safety.uses if u.rule == rule]


def _from_use(use: LimitUse) -> Gauge:
    return Gauge(use.name, use.value, use.limit, use.use)


def _ratio(value: float, limit: float) -> float:
    return value / limit if limit > 0 else 0.0


def cash_use(cash: float, reserve: float) -> float:
    """0 at twice the reserve, 1.0 at the reserve, above 1.0 under it (as the risk rules do)."""
    return max(0.0, 1.0 + (reserve - cash) / (reserve if reserve > 0 else 1.0))


def risk_figures(state: EngineState, limits: SafetyLimits) -> RiskFigures | None:
    """The risk summary: the day's P&L, drawdown, cash and position count against their limits.
    None before the first account data (no account is not an account of zero: not "cash 0
    OVER", "drawdown 0.0%", "0 positions")."""
    portfolio = state.portfolio
    if portfolio is None and state.safety is None:
        return None
    day_pnl = portfolio.daily_pnl if portfolio else None
    net_liq = portfolio.net_liquidation if portfolio else None

    if found := _uses(state, MAX_DAILY_LOSS):
        daily_loss = _from_use(found[0])
    else:
        loss = max(0.0, -(day_pnl or 0.0))
        daily_loss = Gauge("day", loss, limits.max_daily_loss, _ratio(loss, limits.max_daily_loss))

    if found := _uses(state, EMERGENCY_STOP_LOSS):
        # risk/rules.py says 0.0 when the account is up; a state from an engine before that
        # fix (an older engine attached over the control socket) may still say -0.5%.
        use = found[0]
        drawdown = Gauge(use.name, max(0.0, use.value), use.limit, max(0.0, use.use))
    else:
        # Without the engine's baseline, measure from the session's start: today's loss over the
        # value the account had this morning.
        dd = 0.0
        if day_pnl is not None and net_liq is not None and day_pnl < 0 and net_liq - day_pnl > 0:
            dd = -day_pnl / (net_liq - day_pnl)
        lim = limits.emergency_stop_loss
        drawdown = Gauge("session", dd, lim, _ratio(dd, lim))

    if found := _uses(state, MIN_CASH_RESERVE):
        cash = _from_use(found[0])
    else:
        value = portfolio.total_cash if portfolio else 0.0
        lim = limits.min_cash_reserve
        cash = Gauge("cash", value, lim, cash_use(value, lim))

    if found := _uses(state, MAX_POSITIONS):
        positions = _from_use(found[0])
    else:
        count = float(len(portfolio.open_positions)) if portfolio else 0.0
        lim = float(limits.max_positions)
        positions = Gauge("open", count, lim, _ratio(count, lim))

    score = state.safety.overall_risk_score if state.safety else None
    return RiskFigures(net_liq, day_pnl, daily_loss, drawdown, cash, positions, score)


def _weight_base(portfolio: PortfolioSnapshot) -> float:
    """Net liquidation, or gross exposure when that is not positive (as the risk rules do)."""
    if portfolio.net_liquidation > 0:
        return portfolio.net_liquidation
    return sum(abs(p.market_value) for p in portfolio.open_positions)


def position_weights(state: EngineState) -> dict[str, float]:
    """Each symbol's share of the portfolio: the safety report's when it has one."""
    if state.safety is not None and state.safety.stock_weights:
        return dict(state.safety.stock_weights)
    portfolio = state.portfolio
    if portfolio is None:
        return {}
    base = _weight_base(portfolio)
    return {
        p.symbol: abs(p.market_value) / base if base > 0 else 0.0 for p in portfolio.open_positions
    }


def _sorted(gauges: Iterable[Gauge]) -> list[Gauge]:
    return sorted(gauges, key=lambda g: (-g.value, g.name))


def stock_concentration(state: EngineState, limits: SafetyLimits) -> list[Gauge]:
    """Each symbol's weight against max_position_concentration, heaviest first."""
    if found := _uses(state, MAX_POSITION_CONCENTRATION):
        return _sorted(_from_use(u) for u in found)
    lim = limits.max_position_concentration
    return _sorted(Gauge(s, w, lim, _ratio(w, lim)) for s, w in position_weights(state).items())


def sector_concentration(state: EngineState, limits: SafetyLimits) -> list[Gauge]:
    """Each sector's weight against max_sector_concentration, heaviest first."""
    if found := _uses(state, MAX_SECTOR_CONCENTRATION):
        return _sorted(_from_use(u) for u in found)
    lim = limits.max_sector_concentration
    weights: dict[str, float] = defaultdict(float)
    if state.safety is not None and state.safety.sector_weights:
        weights.update(state.safety.sector_weights)
    else:
        portfolio = state.portfolio
        if portfolio is not None:
            base = _weight_base(portfolio)
            for p in portfolio.open_positions:
                sector = limits.sector_overrides.get(p.symbol) or p.sector or "Unknown"
                weights[sector] += abs(p.market_value) / base if base > 0 else 0.0
    return _sorted(Gauge(s, w, lim, _ratio(w, lim)) for s, w in weights.items())
