"""The session line: is the market open (or on an early close), and how long until the next
entry, the Friday close, its backup and the bell. Clock-driven: it moves with the app's clock."""

from __future__ import annotations

from datetime import datetime

from textual.content import Content
from textual.reactive import reactive
from textual.widget import Widget

from weekly_er_tui.model import EngineState, FridayCloseState, FridayPhase, PlanStatus
from weekly_er_tui.strategy.calendars import CalendarRangeError, MarketCalendar
from weekly_er_tui.ui import formatting as fmt

Part = tuple[str, str, str]  # label, value, style of the value


def _in(now: datetime, when: datetime) -> str:
    return f"in {fmt.duration((when - now).total_seconds())}"


def market_part(now: datetime, calendar: MarketCalendar) -> Part:
    """('Market', 'OPEN to 16:00 ET (in 5h30m)', style), CLOSED with the next open, or the
    EARLY CLOSE said in words."""
    try:
        day = calendar.current_or_next_session(now)
        opens, closes = calendar.session_open(day), calendar.session_close(day)
        early = calendar.is_early_close(day)
    except (CalendarRangeError, ValueError) as exc:
        return ("Market", f"unknown ({exc})", "bold")
    close_text = f"{fmt.et_time(closes)[:5]} ET"
    if opens <= now < closes:
        word = "OPEN, EARLY CLOSE" if early else "OPEN"
        return ("Market", f"{word} to {close_text} ({_in(now, closes)})", "bold")
    early_note = f", early close {close_text}" if early else ""
    return ("Market", f"CLOSED, opens {fmt.et_day_time(opens)} ET ({_in(now, opens)})"
            f"{early_note}", "bold")


def session_parts(now: datetime, calendar: MarketCalendar, state: EngineState) -> list[Part]:
    """The line's parts, most important first (a narrow terminal drops the last ones)."""
    parts = [market_part(now, calendar)]
    upcoming = sorted(
        (e for e in state.plan if e.status is PlanStatus.PLANNED and e.planned_entry > now),
        key=lambda e: e.planned_entry,
    )
    if upcoming:
        first = upcoming[0]
        parts.append(("Next entry", f"{first.symbol} {fmt.et_day_time(first.planned_entry)} "
                                    f"({_in(now, first.planned_entry)})", ""))
    else:
        parts.append(("Next entry", "none planned", "dim"))
    friday = state.friday_close
    if friday is not None:
        for label, when in (("Friday close", friday.close_at), ("backup", friday.backup_at),
                            ("bell", friday.bell)):
            # The backup and the bell are minutes after the close, on its day: the time says it.
            at = fmt.et_day_time(when) if label == "Friday close" else fmt.et_time(when)[:5]
            if when > now:
                parts.append((label, f"{at} ({_in(now, when)})", ""))
            else:
                parts.append(_friday_past(label, friday))
    return parts


# The phases once the close's verdict is in (the closer's result), and once the backup's is.
_CLOSE_DONE = {FridayPhase.CLOSED, FridayPhase.BACKUP, FridayPhase.FLAT, FridayPhase.NOT_FLAT,
               FridayPhase.NOTHING}
_BACKUP_DONE = {FridayPhase.FLAT, FridayPhase.NOT_FLAT, FridayPhase.NOTHING}


def _friday_past(label: str, friday: FridayCloseState) -> Part:
    """A Friday-close time that has come: "done" only once its verdict is in; until then what
    it is doing (in progress, waiting for the connection, due)."""
    phase = friday.phase
    if label == "bell":
        if phase is FridayPhase.NOT_FLAT:
            return (label, "rung: NOT FLAT", "bold")
        return (label, "rung", "dim") if phase in _BACKUP_DONE else (label, "rung, verdict due",
                                                                       "")
    if phase is FridayPhase.WAITING_FOR_LINK:
        return (label, "waiting for the connection", "bold")
    if label == "Friday close":
        if phase in _CLOSE_DONE:
            return (label, "done", "dim")
        return (label, "in progress" if phase is FridayPhase.CLOSING else "due", "bold")
    # The backup: running while its detail says it is closing, done once its result is in.
    if phase in _BACKUP_DONE or (phase is FridayPhase.BACKUP
                                 and not friday.detail.startswith("closing")):
        return (label, "done", "dim")
    return (label, "in progress" if phase is FridayPhase.BACKUP else "due", "bold")


class SessionLine(Widget):
    """One line under the header; parts that do not fit the width are left off, whole."""

    now: reactive[datetime | None] = reactive(None)
    state: reactive[EngineState | None] = reactive(None)

    def __init__(self, calendar: MarketCalendar, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.calendar = calendar

    def render(self) -> Content:
        if self.now is None or self.state is None:
            return Content("")
        width = self.size.width or 80
        line = Content("")
        for i, (label, value, style) in enumerate(session_parts(self.now, self.calendar,
                                                                 self.state)):
            part = Content.assemble((label + " ", "dim"), (value, style))
            joined = part if i == 0 else Content.assemble(line, (" · ", "dim"), part)
            if joined.cell_length > width:
                break
            line = joined
        return line
