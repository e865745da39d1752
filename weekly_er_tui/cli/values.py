"""The command line's values, each checked where argparse reads it: a bad flag is exit 2 and
one line naming the flag, the value and what is allowed, never a traceback.

Ranges (documented in each flag's help):
  --port                1-65535
  --client-id           0-2147483647 (IB's clientId is a signed 32-bit integer)
  --clock-speed         0.01-100000 simulated seconds per real second (100000: a week in 6 s)
  --clock-start         an ISO 8601 instant inside the exchange calendar the app carries
  --run-for             30s, 90m, 2h, 5d or seconds; more than 0, at most 366 days
  --clock-epoch         a real instant (Unix seconds or ISO 8601) within a day of now
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from datetime import UTC, datetime, timedelta
from typing import NoReturn

from weekly_er_tui.config import MAX_CLIENT_ID, control_character

MIN_CLOCK_SPEED = 0.01
MAX_CLOCK_SPEED = 100_000.0
MAX_RUN_FOR = 366 * 86400.0

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


class OneLineParser(argparse.ArgumentParser):
    """argparse's usage-plus-error becomes one line on stderr (exit 2 as before)."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"{self.prog}: {message} (see {self.prog} --help)\n")
        raise SystemExit(2)


def _bad(text: str) -> argparse.ArgumentTypeError:
    return argparse.ArgumentTypeError(text)


def _integer(text: str, low: int, high: int) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        raise _bad(f"must be a whole number from {low} to {high} (got {text!r})") from None
    if not low <= value <= high:
        raise _bad(f"must be from {low} to {high} (got {value})")
    return value


def port(text: str) -> int:
    return _integer(text, 1, 65535)


def client_id(text: str) -> int:
    return _integer(text, 0, MAX_CLIENT_ID)


def host(text: str) -> str:
    found = control_character(text)
    if found or not text.strip() or " " in text.strip():
        raise _bad(f"must be a host name or address, e.g. 127.0.0.1 (got {text!r})")
    return text.strip()


def clock_speed(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise _bad(f"must be a number of simulated seconds per real second (got {text!r})"
                   ) from None
    if not math.isfinite(value) or not MIN_CLOCK_SPEED <= value <= MAX_CLOCK_SPEED:
        raise _bad(f"must be from {MIN_CLOCK_SPEED:g} to {MAX_CLOCK_SPEED:g} (got {text})")
    return value


def parse_duration(text: str) -> float:
    """'90m', '2h', '5d', '30s' or plain seconds, as seconds (more than 0, at most 366 days)."""
    m = _DURATION.match(text)
    if not m:
        raise ValueError(f"--run-for must be a duration like 30s, 90m, 2h or 5d (got {text!r})")
    seconds = float(m[1]) * _UNITS[m[2]]
    if not 0 < seconds <= MAX_RUN_FOR:
        raise ValueError(f"--run-for must be more than 0 and at most 366d (got {text!r})")
    return seconds


def duration(text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise _bad(str(exc).removeprefix("--run-for ")) from None


def clock_start(text: str) -> datetime:
    """An instant whose week lies inside the exchange calendar the app carries."""
    from weekly_er_tui.clock import ET, parse_instant
    from weekly_er_tui.strategy.calendars import CALENDAR_END, CALENDAR_START

    if control_character(text):
        raise _bad(f"must be an ISO 8601 instant, e.g. 2026-11-23T10:30 (got {text!r})")
    try:
        when = parse_instant(text)
    except (ValueError, OverflowError) as exc:
        raise _bad(str(exc)) from None
    try:
        day = when.astimezone(ET).date()
        inside = CALENDAR_START <= day and day + timedelta(days=7) <= CALENDAR_END
    except (OverflowError, ValueError):
        inside = False
    if not inside:
        raise _bad(f"must be inside the exchange calendar this app knows "
                   f"({CALENDAR_START.isoformat()} to "
                   f"{(CALENDAR_END - timedelta(days=7)).isoformat()}; got {text!r})")
    return when


MAX_EPOCH_DISTANCE = 86400.0


def clock_epoch(text: str) -> datetime:
    """The real wall-clock instant at which the simulated clock reads --clock-start: Unix seconds
    (e.g. 1796000000.5) or an ISO 8601 instant, at most a day away from now (a shared clock is
    agreed between processes started together, never far apart)."""
    import time

    from weekly_er_tui.clock import parse_instant

    if control_character(text):
        raise _bad(f"must be Unix seconds or an ISO 8601 instant (got {text!r})")
    try:
        seconds = float(text)
        when = datetime.fromtimestamp(seconds, UTC) if math.isfinite(seconds) else None
    except (ValueError, OverflowError, OSError):
        try:
            when = parse_instant(text)
        except (ValueError, OverflowError):
            when = None
    if when is None:
        raise _bad(f"must be Unix seconds or an ISO 8601 instant, e.g. 1796000000 (got {text!r})")
    if abs(when.timestamp() - time.time()) > MAX_EPOCH_DISTANCE:
        raise _bad(f"must be within a day of now: it is the real instant the shared simulated "
                   f"clock reads --clock-start (got {text!r})")
    return when
