"""The weekly earnings-report strategy: pure building blocks (calendars, sizing, the week's plan)
and the interface a strategy implements. The async runner that places orders is `weekly_er.py`
(the week), with its parts `book.py` (the entry book), `entries.py` and `friday_close.py`."""

from weekly_er_tui.strategy.base import OrderIntentProposal, Strategy, StrategyContext
from weekly_er_tui.strategy.calendars import (
    CalendarError,
    EarningsRow,
    MarketCalendar,
    load_calendar,
    market_calendar,
    parse_calendar,
)
from weekly_er_tui.strategy.plan import (
    FridayClose,
    HoldThroughReport,
    PlannedEntry,
    friday_close_times,
    to_plan_entry,
    week_plan,
)
from weekly_er_tui.strategy.sizing import Sizing, size_entry

__all__ = [
    "CalendarError",
    "EarningsRow",
    "FridayClose",
    "HoldThroughReport",
    "MarketCalendar",
    "OrderIntentProposal",
    "PlannedEntry",
    "Sizing",
    "Strategy",
    "StrategyContext",
    "friday_close_times",
    "load_calendar",
    "market_calendar",
    "parse_calendar",
    "size_entry",
    "to_plan_entry",
    "week_plan",
]
