"""The two calendars the strategy runs on: the trader's earnings calendar (a CSV file) and the
exchange's sessions (NYSE, from exchange_calendars).

Holidays and early closes are the exchange's, never guesses: `MarketCalendar` is built from
exchange_calendars' "XNYS" schedule. Every time it returns is timezone-aware UTC; every date is the
session's date in America/New_York.

The earnings calendar CSV
-------------------------
One header line, then one report per line::

    symbol,report_date,timing,side,notional
    AAPL,2026-11-24,BMO,long,
    NVDA,2026-11-25,AMC,short,15000

- `symbol` (required): the ticker as IB knows it (letters, digits, `.`, `-`, one space as in
  `BRK B`); lower case is upper-cased.
- `report_date` (required): YYYY-MM-DD, and it must be an NYSE trading session.
- `timing`: `BMO` (before market open), `AMC` (after market close) or blank (unknown).
- `side`: `long`/`buy` (the default when blank) or `short`/`sell`.
- `notional`: dollars for this position instead of `strategy.notional_per_position`.

Header names are case-insensitive; blank lines and lines starting with `#` are skipped. Every bad
row is reported with its line number (the header is line 1) and the reason, all at once: with any
bad row the strategy does not start.
"""

from __future__ import annotations

import bisect
import csv
import difflib
import io
import math
import re
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from pathlib import Path
from typing import Any, Literal

from weekly_er_tui.clock import ET

Timing = Literal["BMO", "AMC", ""]
Side = Literal["BUY", "SELL"]

REQUIRED_COLUMNS = ("symbol", "report_date")
OPTIONAL_COLUMNS = ("timing", "side", "notional")
COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS

# Header names traders use for our columns: only ever offered as a suggestion, never accepted.
_COLUMN_HINTS = {
    "ticker": "symbol",
    "sym": "symbol",
    "stock": "symbol",
    "date": "report_date",
    "earnings_date": "report_date",
    "er_date": "report_date",
    "time": "timing",
    "when": "timing",
    "direction": "side",
    "action": "side",
    "size": "notional",
    "amount": "notional",
    "value": "notional",
}

_SYMBOL_RE = re.compile(r"[A-Z0-9]+(?:[.\- ][A-Z0-9]+)*")
_SYMBOL_MAX = 12
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TIMINGS: dict[str, Timing] = {"BMO": "BMO", "AMC": "AMC", "": ""}
_SIDES: dict[str, Side] = {"": "BUY", "LONG": "BUY", "BUY": "BUY", "SHORT": "SELL", "SELL": "SELL"}
_Report = Callable[[int, str], None]
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


# --------------------------------------------------------------------------------------------
# Exchange sessions
# --------------------------------------------------------------------------------------------

# The window the app's calendar covers. exchange_calendars builds it in a fraction of a second;
# a date outside it raises CalendarRangeError rather than being guessed.
CALENDAR_START = date(2016, 1, 1)
CALENDAR_END = date(2035, 12, 31)


# IB's extended hours around a session (only then does an outsideRth order work).
PRE_MARKET_OPEN = time(4, 0)
AFTER_HOURS = timedelta(hours=4)


class CalendarRangeError(ValueError):
    """A date outside the window the exchange calendar was built for."""


class MarketCalendar:
    """NYSE sessions: which days trade, and when each session opens and closes.

    Built once from exchange_calendars (see `market_calendar()`), then answered from plain dicts,
    so every query is cheap enough to run on every clock tick.
    """

    def __init__(
        self,
        sessions: Mapping[date, tuple[datetime, datetime]],
        first: date,
        last: date,
        name: str = "XNYS",
    ) -> None:
        for d, (open_at, close_at) in sessions.items():
            if open_at.tzinfo is None or close_at.tzinfo is None:
                raise ValueError(f"session {d} times must be timezone-aware")
        self.name = name
        self.first = first
        self.last = last
        self._sessions = dict(sorted(sessions.items()))
        self._dates = list(self._sessions)

    @classmethod
    def from_exchange(
        cls, code: str = "XNYS", start: date = CALENDAR_START, end: date = CALENDAR_END
    ) -> MarketCalendar:
        """Build from exchange_calendars (about 0.5 s including its import: do it once)."""
        import exchange_calendars as xcals

        # exchange_calendars trips pandas' deprecation warnings internally: not ours to act on.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            cal: Any = xcals.get_calendar(code, start=start.isoformat(), end=end.isoformat())
            sched = cal.schedule
            sessions = {
                ts.date(): (o.to_pydatetime().astimezone(UTC), c.to_pydatetime().astimezone(UTC))
                for ts, o, c in zip(sched.index, sched["open"], sched["close"], strict=True)
            }
        return cls(sessions, start, end, code)

    @property
    def sessions(self) -> Mapping[date, tuple[datetime, datetime]]:
        """Every session the calendar knows: its date, and its open and close (UTC)."""
        return self._sessions

    # -- days ------------------------------------------------------------------------------
    def _check(self, d: date) -> None:
        if not self.first <= d <= self.last:
            raise CalendarRangeError(
                f"{d.isoformat()} is outside the {self.name} calendar this app knows "
                f"({self.first.isoformat()} to {self.last.isoformat()})"
            )

    def in_range(self, d: date) -> bool:
        return self.first <= d <= self.last

    def is_session(self, d: date) -> bool:
        """True when the exchange trades on `d` (a date in New York)."""
        self._check(d)
        return d in self._sessions

    def previous_session(self, d: date) -> date:
        """The last session strictly before `d` (`d` itself need not be a session)."""
        self._check(d)
        i = bisect.bisect_left(self._dates, d)
        if i == 0:
            raise CalendarRangeError(f"no {self.name} session before {d.isoformat()} is known")
        return self._dates[i - 1]

    def next_session(self, d: date) -> date:
        """The first session strictly after `d` (`d` itself need not be a session)."""
        self._check(d)
        i = bisect.bisect_right(self._dates, d)
        if i == len(self._dates):
            raise CalendarRangeError(f"no {self.name} session after {d.isoformat()} is known")
        return self._dates[i]

    def sessions_in_week(self, d: date) -> list[date]:
        """The trading sessions of the Monday-to-Friday week (ISO week) that contains `d`."""
        monday = week_start(d)
        self._check(monday)
        self._check(monday + timedelta(days=4))
        return [day for i in range(5) if (day := monday + timedelta(days=i)) in self._sessions]

    def last_session_of_week(self, d: date) -> date:
        """The week's last session: Friday, or Thursday when Friday is a holiday (Good Friday)."""
        sessions = self.sessions_in_week(d)
        if not sessions:
            raise ValueError(f"the week of {week_start(d).isoformat()} has no {self.name} session")
        return sessions[-1]

    # -- times -----------------------------------------------------------------------------
    def _hours(self, d: date) -> tuple[datetime, datetime]:
        self._check(d)
        try:
            return self._sessions[d]
        except KeyError:
            raise ValueError(f"{describe_non_session(d)}: it has no open or close") from None

    def session_open(self, d: date) -> datetime:
        """When the session of `d` opens (UTC). ValueError when `d` is not a session."""
        return self._hours(d)[0]

    def session_close(self, d: date) -> datetime:
        """When the session of `d` closes (UTC): 13:00 ET on an early close such as 2026-11-27."""
        return self._hours(d)[1]

    def is_early_close(self, d: date) -> bool:
        """True when the session closes before 16:00 ET."""
        close_et = self.session_close(d).astimezone(ET)
        return (close_et.hour, close_et.minute) < (16, 0)

    def is_open(self, at: datetime) -> bool:
        """True when the regular session is trading at the instant `at` (open <= at < close)."""
        d = _et_date(at)
        if not self.in_range(d) or d not in self._sessions:
            return False
        open_at, close_at = self._sessions[d]
        return open_at <= at < close_at

    def extended_hours(self, d: date) -> tuple[datetime, datetime]:
        """The extended hours of session `d` (UTC): 04:00 ET to 4 hours after the close (20:00;
        17:00 after a 13:00 early close). Only then does IB fill an outsideRth order."""
        close_at = self.session_close(d)
        pre = datetime.combine(d, PRE_MARKET_OPEN, tzinfo=ET).astimezone(UTC)
        return pre, close_at + AFTER_HOURS

    def closed_until(self, at: datetime) -> datetime | None:
        """None while IB can fill an order (the session or its extended hours); else when it
        next can: the next 04:00 ET of a trading day (nothing fills on a weekend or holiday)."""
        d = _et_date(at)
        if self.is_session(d):
            start, end = self.extended_hours(d)
            if at < start:
                return start
            if at < end:
                return None
        return self.extended_hours(self.next_session(d))[0]

    def current_or_next_session(self, at: datetime) -> date:
        """The session trading at `at`, or the next one to open (after a close, at a weekend)."""
        d = _et_date(at)
        self._check(d)
        hours = self._sessions.get(d)
        if hours is not None and at < hours[1]:
            return d
        return self.next_session(d)


@cache
def market_calendar() -> MarketCalendar:
    """The app's NYSE calendar, built on first use and shared by every caller: read from the
    on-disk copy of exchange_calendars' schedule when one was kept for the installed version
    (a few milliseconds instead of about half a second), else built and kept."""
    from weekly_er_tui.strategy.calendar_cache import cached_calendar

    return cached_calendar(lambda: MarketCalendar.from_exchange(), "XNYS", CALENDAR_START,
                           CALENDAR_END)


def week_start(d: date) -> date:
    """The Monday of the ISO week that contains `d`."""
    return d - timedelta(days=d.weekday())


def describe_non_session(d: date) -> str:
    """Why `d` does not trade, in words: '2026-11-28 is a Saturday' or '... an NYSE holiday'."""
    day = _WEEKDAYS[d.weekday()]
    if d.weekday() >= 5:
        return f"{d.isoformat()} is a {day}"
    return f"{d.isoformat()} ({day}) is an NYSE holiday"


def _et_date(at: datetime) -> date:
    if at.tzinfo is None:
        raise ValueError(f"instants must be timezone-aware (got naive {at.isoformat()})")
    return at.astimezone(ET).date()


# --------------------------------------------------------------------------------------------
# Earnings calendar
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EarningsRow:
    """One report from the earnings calendar. `line` is the file line it came from."""

    symbol: str
    report_date: date
    timing: Timing
    side: Side
    notional: float | None
    line: int


class CalendarError(Exception):
    """An earnings calendar the strategy must not trade from; `problems` lists every bad row."""

    def __init__(self, problems: list[str], source: str = "earnings calendar") -> None:
        self.problems = problems
        self.source = source
        super().__init__(
            f"{source}: {len(problems)} problem(s); the strategy will not start until they are "
            "fixed\n" + "\n".join(f"  - {p}" for p in problems)
        )


def load_calendar(path: str | Path, cal: MarketCalendar | None = None) -> list[EarningsRow]:
    """Read and check the earnings calendar at `path`; CalendarError lists every problem."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")  # -sig: Excel's "CSV UTF-8" starts with a BOM
    except FileNotFoundError:
        raise CalendarError(
            [f"{p}: no such file; set strategy.calendar_file to your earnings calendar CSV"],
            str(p),
        ) from None
    except UnicodeDecodeError as exc:
        raise CalendarError(
            [f"{p}: not UTF-8 text (byte {exc.start}); save it as CSV UTF-8"], str(p)
        ) from None
    except OSError as exc:
        raise CalendarError([f"{p}: cannot read it: {exc.strerror}"], str(p)) from None
    return parse_calendar(text, p.name, cal, source=str(p))


def parse_calendar(
    text: str,
    source_name: str = "calendar.csv",
    cal: MarketCalendar | None = None,
    source: str | None = None,
) -> list[EarningsRow]:
    """Parse earnings calendar text; each problem names `source_name` and the line number.

    `cal` checks that every report date is a session (default: the app's NYSE calendar).
    """
    cal = market_calendar() if cal is None else cal
    problems: list[str] = []
    rows: list[EarningsRow] = []
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""))

    def bad(line: int, why: str) -> None:
        problems.append(f"{source_name} line {line}: {why}")

    columns: list[str] | None = None
    seen: dict[tuple[str, date], int] = {}
    end_of_last = 0
    try:
        for record in reader:
            line = end_of_last + 1
            end_of_last = reader.line_num
            fields = [f.strip() for f in record]
            if not any(fields) or fields[0].startswith("#"):
                continue
            if columns is None:
                columns = _read_header(fields, line, bad)
                if columns is None:
                    break
                continue
            row = _read_row(fields, columns, line, cal, bad)
            if row is None:
                continue
            key = (row.symbol, row.report_date)
            if key in seen:
                bad(
                    line,
                    f"{row.symbol} {row.report_date.isoformat()} is already on line {seen[key]} "
                    "(duplicate row; keep one)",
                )
                continue
            seen[key] = line
            rows.append(row)
    except csv.Error as exc:
        bad(reader.line_num, f"not valid CSV: {exc}")
    if columns is None and not problems:
        problems.append(
            f"{source_name}: the file is empty; its first line must be a header such as "
            f"{','.join(COLUMNS)}"
        )
    if problems:
        raise CalendarError(problems, source or source_name)
    return rows


def _read_header(fields: list[str], line: int, bad: _Report) -> list[str] | None:
    """Column names in file order ("" for unknown ones); None when a required column is missing."""
    names = [re.sub(r"[\s\-]+", "_", f.lower()) for f in fields]
    columns: list[str] = []
    for raw, name in zip(fields, names, strict=True):
        if name in COLUMNS:
            if name in columns:
                bad(line, f"column '{name}' appears twice in the header; keep one")
                columns.append("")
            else:
                columns.append(name)
            continue
        columns.append("")
        if not name:
            if any(names[len(columns) :]):
                bad(line, f"column {len(columns)} of the header has no name")
            continue
        close = _COLUMN_HINTS.get(name) or next(
            iter(difflib.get_close_matches(name, COLUMNS, n=1, cutoff=0.6)), None
        )
        hint = f"did you mean '{close}'? " if close else ""
        bad(line, f"unknown column '{raw}'; {hint}(known columns: {', '.join(COLUMNS)})")
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    for c in missing:
        bad(line, f"the header has no '{c}' column (required: {', '.join(REQUIRED_COLUMNS)})")
    return None if missing else columns


def _read_row(
    fields: list[str], columns: list[str], line: int, cal: MarketCalendar, bad: _Report
) -> EarningsRow | None:
    if len(fields) > len(columns) and any(fields[len(columns) :]):
        bad(
            line,
            f"{len(fields)} fields but the header has {len(columns)} columns "
            '(a value with a comma in it needs "quotes")',
        )
        return None
    values = {c: fields[i] if i < len(fields) else "" for i, c in enumerate(columns) if c}
    ok = True

    symbol = values["symbol"].upper()
    if not symbol:
        bad(line, "symbol is empty")
        ok = False
    elif len(symbol) > _SYMBOL_MAX or not _SYMBOL_RE.fullmatch(symbol):
        bad(
            line,
            f"symbol '{values['symbol']}' is not a ticker (letters, digits, '.', '-' or one "
            f"space as in 'BRK B'; at most {_SYMBOL_MAX} characters)",
        )
        ok = False

    report_date = _read_date(values["report_date"], line, cal, bad)
    ok = ok and report_date is not None

    raw_timing = values.get("timing", "")
    timing = _TIMINGS.get(raw_timing.upper())
    if timing is None:
        bad(
            line,
            f"timing '{raw_timing}' must be BMO (before market open), AMC (after market close) "
            "or blank (unknown)",
        )
        ok = False

    raw_side = values.get("side", "")
    side = _SIDES.get(raw_side.upper())
    if side is None:
        bad(line, f"side '{raw_side}' must be long, short, buy or sell (blank means long)")
        ok = False

    raw_notional = values.get("notional", "")
    notional: float | None = None
    if raw_notional:
        try:
            notional = float(raw_notional.replace(",", "").removeprefix("$"))
        except ValueError:
            notional = None
        if notional is None or not math.isfinite(notional) or notional <= 0:
            bad(
                line,
                f"notional '{raw_notional}' must be a number of dollars greater than 0 "
                "(or blank for strategy.notional_per_position)",
            )
            ok = False

    if not ok or report_date is None or timing is None or side is None:
        return None
    return EarningsRow(symbol, report_date, timing, side, notional, line)


def _read_date(raw: str, line: int, cal: MarketCalendar, bad: _Report) -> date | None:
    if not raw:
        bad(line, "report_date is empty")
        return None
    try:
        if not _DATE_RE.fullmatch(raw):
            raise ValueError
        d = date.fromisoformat(raw)
    except ValueError:
        bad(line, f"report_date '{raw}' is not a date YYYY-MM-DD")
        return None
    if not cal.in_range(d):
        bad(
            line,
            f"report_date {raw} is outside the {cal.name} calendar this app knows "
            f"({cal.first.isoformat()} to {cal.last.isoformat()})",
        )
        return None
    if not cal.is_session(d):
        bad(line, f"report_date {describe_non_session(d)}, not a trading session")
        return None
    return d
