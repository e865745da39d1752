"""Small builders for snapshots, positions and limits in the risk tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from weekly_er_tui.config import SafetyLimits
from weekly_er_tui.model import PortfolioSnapshot, Position

NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)  # a Monday, 10:00 ET


def pos(
    symbol: str,
    value: float,
    *,
    price: float = 100.0,
    quantity: float | None = None,
    sector: str = "Technology",
    daily_pnl: float | None = None,
    unrealized: float = 0.0,
    age_s: float | None = 0.0,
    stale: bool = False,
) -> Position:
    """A position worth `value` (negative: short) at `price`, priced `age_s` seconds before NOW."""
    qty = value / price if quantity is None else quantity
    return Position(
        symbol=symbol,
        quantity=qty,
        avg_cost=price,
        market_price=price,
        market_value=value,
        unrealized_pnl=unrealized,
        sector=sector,
        daily_pnl=daily_pnl,
        price_time=None if age_s is None else NOW - timedelta(seconds=age_s),
        stale=stale,
    )


def snap(
    *positions: Position,
    nlv: float = 1_000_000.0,
    cash: float = 500_000.0,
    daily_pnl: float | None = 0.0,
) -> PortfolioSnapshot:
    return PortfolioSnapshot(
        timestamp=NOW,
        account="DU000001",
        net_liquidation=nlv,
        total_cash=cash,
        gross_position_value=sum(abs(p.market_value) for p in positions),
        daily_pnl=daily_pnl,
        positions=tuple(positions),
    )


def limits(**overrides: Any) -> SafetyLimits:
    """SafetyLimits with the defaults, validated like config.json."""
    return SafetyLimits.model_validate(overrides)


def symbols_of(*positions: Position) -> tuple[str, ...]:
    return tuple(p.symbol for p in positions)
