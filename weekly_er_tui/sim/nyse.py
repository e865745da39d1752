"""NYSE regular sessions (exchange_calendars XNYS) as plain epoch-second arrays, for fast lookups.

A session is addressed by its index in this table. "The trading day of an instant" is the session
whose close is after it: the current session during market hours, the next one after the close.
"""

from __future__ import annotations

import bisect
import warnings
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import exchange_calendars as xcals

_FIRST = "2000-01-03"
_ET = ZoneInfo("America/New_York")
PRE_MARKET_OPEN = time(4, 0)  # extended hours start at 04:00 ET on a trading day ...
AFTER_HOURS_SECONDS = 4 * 3600  # ... and end 4 hours after its close (20:00; 17:00 after 13:00)


class Sessions:
    """Regular NYSE sessions from 2000 to ten years after today (early closes included)."""

    def __init__(self) -> None:
        end = (datetime.now(UTC) + timedelta(days=3650)).date().isoformat()
        with warnings.catch_warnings():
            # exchange_calendars trips a pandas deprecation warning inside its own constructor
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", FutureWarning)
            warnings.filterwarnings("ignore", message=".*Series.values.*")
            cal = xcals.get_calendar("XNYS", start=_FIRST, end=end)
            schedule = cal.schedule
        self.opens: list[int] = [int(ts.timestamp()) for ts in schedule["open"]]
        self.closes: list[int] = [int(ts.timestamp()) for ts in schedule["close"]]
        self.dates: list[date] = [ts.date() for ts in schedule.index]
        self._by_date = {d: i for i, d in enumerate(self.dates)}

    def __len__(self) -> int:
        return len(self.opens)

    def trading_day(self, t: float) -> int:
        """Index of the session whose close is after `t` (current session, or the next one)."""
        i = bisect.bisect_right(self.closes, t)
        if i >= len(self.closes):
            raise ValueError(f"{datetime.fromtimestamp(t, UTC).isoformat()} is past the calendar")
        return i

    def is_open(self, t: float) -> bool:
        i = bisect.bisect_right(self.closes, t)
        return i < len(self.opens) and self.opens[i] <= t

    def open_at(self, i: int) -> int:
        return self.opens[i]

    def close_at(self, i: int) -> int:
        return self.closes[i]

    def date_of(self, i: int) -> date:
        return self.dates[i]

    def index_of_date(self, d: date) -> int | None:
        return self._by_date.get(d)

    def extended_open(self, i: int) -> int:
        """04:00 ET of session `i`: the pre-market opens."""
        return int(datetime.combine(self.dates[i], PRE_MARKET_OPEN, tzinfo=_ET).timestamp())

    def extended_close(self, i: int) -> int:
        """The end of session `i`'s after-hours: 4 hours after its close."""
        return self.closes[i] + AFTER_HOURS_SECONDS

    def in_extended_hours(self, t: float) -> bool:
        """Whether `t` is in a trading day's extended hours (pre-market, the session, or
        after-hours): an outsideRth order works then, and only then."""
        i = bisect.bisect_right(self.closes, t)
        if i < len(self.closes) and self.extended_open(i) <= t:
            return True
        return i > 0 and t < self.extended_close(i - 1)

    def last_closed(self, t: float) -> int:
        """Index of the last session that closed at or before `t`."""
        return bisect.bisect_right(self.closes, t) - 1


@lru_cache(maxsize=1)
def nyse_sessions() -> Sessions:
    """The shared session table (building the calendar takes a fraction of a second)."""
    return Sessions()
