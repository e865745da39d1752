"""The week's plan: which reports to trade, when to enter each one, and when the Friday close runs.

How the week is planned
-----------------------
The strategy opens a position before an earnings report, holds it through the report, and closes
everything at the Friday close of the same week. Nothing is held over a weekend. So:

- The week is the Monday-to-Friday week; its plan holds every calendar row whose report date falls
  in it.
- BMO (before market open): enter at `strategy.entry_time` (default 10:00 ET) on the last session
  BEFORE the report day, so the position is held when the report comes out. Holidays are the
  exchange's: for a BMO report on Friday 2026-11-27 the entry is Wednesday 2026-11-25, because
  Thanksgiving (Thursday) does not trade.
- AMC (after market close): enter at `strategy.entry_time` on the report day itself.
- Blank timing (unknown): treated as BMO. Entering the session before the report holds the
  position through the report whether it comes before the open or after the close; treating it as
  AMC would miss a report that comes before the open. The price is one more night held.
- A BMO (or blank) report on the week's first session, e.g. Monday, or Tuesday after a Monday
  holiday, is SKIPPED: its entry session is in the previous week, so the position would have to be
  held over the weekend, which this strategy never does.
- An AMC report on the week's last session (Friday, or Thursday when Friday is a holiday) is
  SKIPPED: the Friday close sells before the market closes, that is before the report.
- A blank-timing report on the week's last session is planned (as BMO) with a warning: if it
  in fact comes after the close, the Friday close will have sold first.
- An entry time outside the entry session's hours (say 14:00 on a 13:00 early close) is SKIPPED
  with a note rather than moved.

The Friday close
----------------
On the week's last session, `strategy.close_offset_minutes` (default 15) before that session's
close, working entry orders are cancelled and every strategy position is closed; an emergency
backup runs `strategy.backup_offset_minutes` (default 5) before the close. The close is the
exchange's: on the early close of Friday 2026-11-27 (13:00 ET) the Friday close is 12:45 ET, and in
the week of Good Friday 2027 it runs on Thursday 2027-03-25 at 15:45 ET.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, NamedTuple

from weekly_er_tui.clock import ET
from weekly_er_tui.config import StrategyConfig
from weekly_er_tui.journal import Fill
from weekly_er_tui.model import PlanEntry, PlanStatus
from weekly_er_tui.order_refs import entry_ref
from weekly_er_tui.strategy.base import OrderIntentProposal, StrategyContext
from weekly_er_tui.strategy.calendars import (
    EarningsRow,
    MarketCalendar,
    describe_non_session,
    week_start,
)
from weekly_er_tui.strategy.sizing import size_entry

_DAY = "%a %Y-%m-%d"


@dataclass(frozen=True, slots=True)
class PlannedEntry:
    """One report of the week with its entry time (UTC), before sizing."""

    row: EarningsRow
    entry_session: date
    entry_at: datetime
    status: PlanStatus  # PLANNED or SKIPPED
    note: str = ""


class FridayClose(NamedTuple):
    """When the week's positions are closed: all instants timezone-aware UTC."""

    last_session: date
    close_at: datetime  # cancel working entries, close every strategy position
    backup_at: datetime  # emergency backup: close whatever is still open
    bell: datetime  # the session's close (13:00 ET on an early close)


def at_et(d: date, t: time) -> datetime:
    """The instant (UTC) of wall time `t` in New York on day `d`."""
    return datetime.combine(d, t, tzinfo=ET).astimezone(UTC)


def entry_time_of(config: StrategyConfig) -> time:
    """`strategy.entry_time` ("HH:MM", already validated by the config) as a time."""
    hours, minutes = config.entry_time.split(":")
    return time(int(hours), int(minutes))


def entry_order_ref(row: EarningsRow) -> str:
    """The orderRef of a report's entry: the same on every call, so a restart never sends the
    entry twice (the store refuses a second intent with the same ref)."""
    return entry_ref(row.report_date, row.symbol)


def week_plan(
    rows: Iterable[EarningsRow], week_of: date, cal: MarketCalendar, entry_time: time
) -> list[PlannedEntry]:
    """The plan for the Monday-to-Friday week containing `week_of`, in entry order.

    Reports that cannot be held through under this strategy are included as SKIPPED with a note
    (see the module docstring), so the trader sees why a listed report is not traded.
    """
    monday = week_start(week_of)
    this_week = [r for r in rows if week_start(r.report_date) == monday]
    if not this_week:
        return []
    sessions = cal.sessions_in_week(monday)
    first, last = (sessions[0], sessions[-1]) if sessions else (monday, monday)
    out: list[PlannedEntry] = []
    for row in this_week:
        report = row.report_date
        if report not in sessions:
            # load_calendar() refuses these; rows built in code can still carry one.
            at = at_et(report, entry_time)
            why = f"{describe_non_session(report)}: no report is expected on it"
            out.append(PlannedEntry(row, report, at, PlanStatus.SKIPPED, why))
            continue
        entry_session = report if row.timing == "AMC" else cal.previous_session(report)
        entry_at = at_et(entry_session, entry_time)
        status = PlanStatus.PLANNED
        notes: list[str] = []
        if row.timing == "":
            notes.append(
                "timing unknown: entered the session before the report (as BMO) so it is held "
                "through the report either way"
            )
        if entry_session < first:
            status = PlanStatus.SKIPPED
            notes.append(
                f"reports before the open on {report:{_DAY}}; the entry session "
                f"{entry_session:{_DAY}} is in the previous week, so it would be held over the "
                "weekend"
            )
        elif row.timing == "AMC" and report == last:
            status = PlanStatus.SKIPPED
            notes.append(
                f"reports after the close of {report:{_DAY}}, the week's last session: the "
                "Friday close sells before the report"
            )
        else:
            open_at, close_at = cal.session_open(entry_session), cal.session_close(entry_session)
            if not open_at <= entry_at < close_at:
                status = PlanStatus.SKIPPED
                notes.append(
                    f"entry time {entry_time:%H:%M} ET is outside the session of "
                    f"{entry_session:{_DAY}} ({_hhmm(open_at)}-{_hhmm(close_at)} ET)"
                )
            elif row.timing == "" and report == last:
                notes.append("if it reports after the close, the Friday close will have sold first")
        out.append(PlannedEntry(row, entry_session, entry_at, status, "; ".join(notes)))
    out.sort(key=lambda p: (p.entry_at, p.row.symbol))
    return out


def friday_close_times(
    week_of: date,
    cal: MarketCalendar,
    close_offset_minutes: float = 15,
    backup_offset_minutes: float = 5,
) -> FridayClose:
    """The Friday close of the week containing `week_of`, on that week's last session."""
    if not 0 < backup_offset_minutes < close_offset_minutes:
        raise ValueError(
            "the backup must run after the Friday close and before the bell: need "
            f"0 < backup_offset_minutes < close_offset_minutes (got {backup_offset_minutes:g} "
            f"and {close_offset_minutes:g})"
        )
    last = cal.last_session_of_week(week_of)
    bell = cal.session_close(last)
    close_at = bell - timedelta(minutes=close_offset_minutes)
    if close_at <= cal.session_open(last):
        raise ValueError(
            f"close_offset_minutes {close_offset_minutes:g} puts the Friday close of "
            f"{last:{_DAY}} before the session opens"
        )
    return FridayClose(last, close_at, bell - timedelta(minutes=backup_offset_minutes), bell)


def to_plan_entry(
    p: PlannedEntry,
    quantity: int,
    notional: float,
    status: PlanStatus | None = None,
    order_ref: str = "",
    note: str = "",
) -> PlanEntry:
    """The plan entry the UI and the journal show: `p` sized, with its status (default: p's)."""
    return PlanEntry(
        symbol=p.row.symbol,
        report_date=p.row.report_date.isoformat(),
        timing=p.row.timing,
        planned_entry=p.entry_at,
        side=p.row.side,
        quantity=quantity,
        notional=notional,
        status=p.status if status is None else status,
        order_ref=order_ref,
        note="; ".join(n for n in (p.note, note) if n),
    )


def entry_session_of(entry: PlanEntry) -> date:
    return entry.planned_entry.astimezone(ET).date()


def entry_missed(entry: PlanEntry, now: datetime, cal: MarketCalendar) -> bool:
    """True when a still-PLANNED entry's session has closed: the runner marks it SKIPPED."""
    return entry.status is PlanStatus.PLANNED and now >= cal.session_close(entry_session_of(entry))


def describe_plan_entry(e: PlanEntry) -> str:
    """One line for events_log.csv and the log: what, when, how big, and its status."""
    side = "long" if e.side == "BUY" else "short"
    timing = e.timing or "timing unknown"
    when = e.planned_entry.astimezone(ET)
    size = f"{e.quantity} shares" if e.quantity else "size at entry"
    text = (
        f"{e.symbol} reports {e.report_date} {timing}: {side} {size} (~${e.notional:,.0f}), "
        f"entry {when:%a %Y-%m-%d %H:%M} ET, {e.status.value}"
    )
    return f"{text} ({e.note})" if e.note else text


def plan_event_details(e: PlanEntry) -> dict[str, Any]:
    """The same entry as the details column of events_log.csv."""
    return {
        "symbol": e.symbol,
        "report_date": e.report_date,
        "timing": e.timing,
        "planned_entry": e.planned_entry.astimezone(ET).isoformat(),
        "side": e.side,
        "quantity": e.quantity,
        "notional": round(e.notional, 2),
        "status": e.status.value,
        "order_ref": e.order_ref,
        "note": e.note,
    }


def _hhmm(at: datetime) -> str:
    return at.astimezone(ET).strftime("%H:%M")


class HoldThroughReport:
    """The default strategy: each report of the week entered per `week_plan`, held through the
    report and closed at the Friday close (which the runner owns)."""

    name = "hold-through-report"

    def plan(self, ctx: StrategyContext) -> list[PlanEntry]:
        """The week's plan, sized at the latest known prices (re-sized at entry)."""
        planned = week_plan(ctx.reports, ctx.week_of, ctx.calendar, entry_time_of(ctx.config))
        out: list[PlanEntry] = []
        for p in planned:
            ref = entry_order_ref(p.row)
            if p.status is PlanStatus.SKIPPED:
                out.append(to_plan_entry(p, 0, 0.0, order_ref=ref))
                continue
            sized = size_entry(
                p.row,
                ctx.prices.get(p.row.symbol),
                ctx.config,
                ctx.max_position_value,
                ctx.daily_closes.get(p.row.symbol),
            )
            out.append(
                to_plan_entry(p, sized.quantity, sized.notional, order_ref=ref, note=sized.note)
            )
        return out

    def on_time(self, ctx: StrategyContext, now: datetime) -> list[OrderIntentProposal]:
        """Entries whose time has come and whose session is still open, sized at the current
        price. Proposed again on every tick until the runner moves them out of PLANNED."""
        cfg = ctx.config
        friday = friday_close_times(
            ctx.week_of, ctx.calendar, cfg.close_offset_minutes, cfg.backup_offset_minutes
        )
        if now >= friday.close_at:
            return []
        rows = {(r.symbol, r.report_date.isoformat()): r for r in ctx.reports}
        out: list[OrderIntentProposal] = []
        for e in ctx.plan:
            if e.status is not PlanStatus.PLANNED or now < e.planned_entry:
                continue
            if not ctx.calendar.is_open(now) or entry_missed(e, now, ctx.calendar):
                continue
            if ctx.positions.get(e.symbol):
                continue  # already held (a restart after the fill): never double up
            row = rows.get((e.symbol, e.report_date))
            price = ctx.prices.get(e.symbol)
            if row is None or price is None:
                continue  # no price yet: try again on the next tick
            sized = size_entry(
                row, price, cfg, ctx.max_position_value, ctx.daily_closes.get(e.symbol)
            )
            if sized.quantity <= 0:
                continue
            out.append(
                OrderIntentProposal(
                    symbol=e.symbol,
                    side=row.side,
                    quantity=sized.quantity,
                    order_ref=e.order_ref or entry_order_ref(row),
                    reason="entry",
                    note=sized.note,
                )
            )
        return out

    def on_fill(self, ctx: StrategyContext, fill: Fill) -> None:
        """Nothing to remember: the runner tracks positions and statuses."""


def plan_symbols(entries: Sequence[PlanEntry]) -> list[str]:
    """The symbols the runner needs prices (and, for volatility sizing, daily bars) for."""
    return sorted({e.symbol for e in entries if e.status is not PlanStatus.SKIPPED})
