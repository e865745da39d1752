"""The gateway's own outages, which are expected: its daily restart and the weekly re-login.

TWS and IB Gateway restart themselves once a day at a time the user sets (TWS: Configure >
Lock and Exit > Auto restart; IBC: AutoRestartTime), which takes 2-3 minutes; and IB invalidates
the session once a week, on Sunday about 01:00 ET, after which a person must log in again (2FA).
An outage that starts in one of these windows is not "manual intervention required": the
connection keeps trying until the window ends, and only an outage that outlasts it is CRITICAL.
Pure: the instants come from the engine's Clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from weekly_er_tui.clock import ET

RESTART_WINDOW = timedelta(minutes=10)  # the restart time to +10 min
SUNDAY = 6


@dataclass(frozen=True, slots=True)
class ExpectedOutage:
    kind: str  # "restart" or "relogin"
    ends: datetime  # after this instant an outage is no longer expected
    words: str  # what it is, for the trader


def parse_restart_time(text: str) -> time:
    """`HH:MM` (24 h, US Eastern) as set in TWS or IBC; ValueError names the mistake."""
    try:
        hours, minutes = (int(part) for part in text.strip().split(":"))
        return time(hours, minutes)
    except ValueError:
        raise ValueError(
            f"must be a time HH:MM in America/New_York, as set in TWS or IBC (got {text!r})"
        ) from None


def expected_outage(started: datetime, restart_time: str | None) -> ExpectedOutage | None:
    """The expected outage an outage starting at `started` is, or None (a failure)."""
    at = started.astimezone(ET)
    if restart_time:
        hhmm = parse_restart_time(restart_time)
        for day in (at.date(), at.date() - timedelta(days=1)):  # a window across midnight
            opens = datetime.combine(day, hhmm, ET)
            if opens <= at < opens + RESTART_WINDOW:
                return ExpectedOutage(
                    "restart", opens + RESTART_WINDOW,
                    f"the gateway's scheduled daily restart ({restart_time} ET)",
                )
    if at.weekday() == SUNDAY:
        monday = datetime.combine(at.date() + timedelta(days=1), time(0, 0), ET)
        return ExpectedOutage(
            "relogin", monday, "IB's weekly re-login (Sunday, about 01:00 ET)",
        )
    return None
