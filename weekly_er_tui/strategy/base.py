"""The interface a strategy implements, so a trader can put their own signal logic in its place.

Plugging in your own signal logic
---------------------------------
A strategy is any object with a `name` and three methods (`Strategy` below). They are plain,
synchronous functions over plain data: no orders are placed, no network is touched and no clock
is read inside them. The runner (`weekly_er_tui/strategy/weekly_er.py`) does all of that around
them::

    class MyStrategy:
        name = "my-signals"

        def plan(self, ctx: StrategyContext) -> Sequence[PlanEntry]:
            # Which reports to trade this week, when, which side and roughly how big.
            ...

        def on_time(self, ctx: StrategyContext, now: datetime) -> Sequence[OrderIntentProposal]:
            # Called on every clock tick while the market is open: what to send now.
            ...

        def on_fill(self, ctx: StrategyContext, fill: Fill) -> None:
            # A fill of one of this strategy's orders (already journaled and tracked).
            ...

What the runner guarantees, whatever the strategy does:

- `plan(ctx)` is called when the week starts, when the calendar file changes and after a restart;
  the runner shows the result in the UI and writes it to events_log.csv, then keeps each entry's
  `status` up to date (PLANNED -> ENTERING -> ENTERED -> CLOSING -> CLOSED, or SKIPPED,
  REJECTED, DENIED, FAILED) and hands the current plan back in `ctx.plan`.
- Every `OrderIntentProposal` from `on_time` goes through the pre-trade gate
  (`risk/gate.py`) before anything is sent; a refusal is journaled, alerted and shown as
  DENIED (REJECTED is IB's own refusal). A proposal whose `order_ref` was already recorded
  is never sent again, so `on_time` may propose the same entry on every tick until it is
  filled: give each order a deterministic `order_ref` (see `plan.entry_order_ref`).
- New entries are sent only while trading is ACTIVE (not PAUSED, REDUCING or HALTED) and never
  after the week's Friday close has started.
- The Friday close and its emergency backup belong to the runner, not to the strategy: at
  `strategy.close_offset_minutes` before the close of the week's last session it cancels working
  entry orders and closes every position the strategy opened, and checks again at
  `strategy.backup_offset_minutes`. A strategy cannot switch them off.
- `on_fill` cannot place orders itself: remember what you need and act on the next `on_time`.

The default strategy is `plan.HoldThroughReport`: enter each report of the week at
`strategy.entry_time` on the session before a BMO report or on the day of an AMC report, hold it
through the report, exit at the Friday close.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal, Protocol, runtime_checkable

from weekly_er_tui.config import StrategyConfig
from weekly_er_tui.journal import Fill
from weekly_er_tui.model import PlanEntry
from weekly_er_tui.strategy.calendars import EarningsRow, MarketCalendar, Side


@dataclass(frozen=True, slots=True)
class StrategyContext:
    """What a strategy sees: plain data that the runner assembles before each call."""

    week_of: date  # a day of the trading week being run (the runner passes its current session)
    calendar: MarketCalendar
    config: StrategyConfig
    max_position_value: float  # safety_limits.max_position_value: every size is capped by it
    reports: tuple[EarningsRow, ...]  # the whole earnings calendar, as loaded
    plan: tuple[PlanEntry, ...] = ()  # the current plan, statuses kept by the runner
    prices: Mapping[str, float] = field(default_factory=dict)  # last price; a symbol may lack one
    # Daily closes, oldest first, for volatility sizing; fetched by the runner for the plan's
    # symbols (about a month and a half of daily bars covers a 20-return lookback).
    daily_closes: Mapping[str, Sequence[float]] = field(default_factory=dict)
    positions: Mapping[str, float] = field(default_factory=dict)  # tracked, signed shares


@dataclass(frozen=True, slots=True)
class OrderIntentProposal:
    """An order the strategy would like sent. The pre-trade gate decides whether it is."""

    symbol: str
    side: Side
    quantity: int
    order_ref: str  # deterministic and unique per order: a recorded ref is never sent twice
    reason: str  # in the trader's words: "entry", ...
    order_type: Literal["MKT", "LMT"] = "MKT"
    limit_price: float | None = None
    note: str = ""


@runtime_checkable
class Strategy(Protocol):
    """Signal logic: which reports to trade (`plan`), what to send when (`on_time`), and what to
    remember from fills (`on_fill`). See the module docstring for what the runner guarantees."""

    name: str

    def plan(self, ctx: StrategyContext) -> Sequence[PlanEntry]:
        """The week's plan: one entry per report this week, SKIPPED ones included with a note."""
        ...

    def on_time(self, ctx: StrategyContext, now: datetime) -> Sequence[OrderIntentProposal]:
        """Orders to send at `now` (UTC); an empty sequence when there is nothing to do."""
        ...

    def on_fill(self, ctx: StrategyContext, fill: Fill) -> None:
        """One execution of this strategy's orders, after it is journaled and tracked."""
        ...
