"""The safety_limits section: what the safety monitor and the pre-trade gate hold the account to."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from weekly_er_tui.config.fields import Fraction, Money, Seconds, _Section


class SafetyLimits(_Section):
    max_position_value: Annotated[float, Field(gt=0)] = 50_000
    max_portfolio_value: Annotated[float, Field(gt=0)] = 500_000
    max_daily_loss: Annotated[float, Field(gt=0)] = 10_000
    # After a daily-loss breach (today's losers closed, the rest kept), how much further the
    # day's loss may grow, as a fraction of max_daily_loss, before everything is closed and
    # trading HALTED.
    daily_loss_halt_margin: Annotated[float, Field(gt=0, le=10)] = 0.5
    max_position_concentration: Fraction = 0.15
    max_sector_concentration: Fraction = 0.30
    emergency_stop_loss: Fraction = 0.10
    max_positions: int = Field(20, gt=0, le=10_000)
    min_cash_reserve: Money = 10_000
    # What the emergency stop-loss measures the drawdown from.
    stop_loss_baseline: Literal["session", "week", "high_water"] = "session"
    # A price not updated for this many real seconds is stale: flagged and not shown as fact
    # (data flow is a network matter, so real time, also on an accelerated clock).
    stale_price_seconds: Seconds = 120.0
    sector_overrides: dict[str, str] = Field(default_factory=dict)
    orphan_ignore: list[str] = Field(default_factory=list)
    restricted_symbols: list[str] = Field(default_factory=list)
    max_order_notional: Annotated[float, Field(gt=0)] | None = None
    limit_price_collar: Fraction = 0.05
    duplicate_order_window: Seconds = 10.0
    max_orders_per_minute: int = Field(60, gt=0, le=10_000)
    correlation_threshold: Fraction = 0.7
    max_correlated_weight: Fraction = 0.40
