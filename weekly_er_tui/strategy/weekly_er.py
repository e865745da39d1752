"""WeeklyERStrategy: runs the week's plan on the Clock (entries at their instants, the Friday close,
its emergency backup and the check at the bell) and places every order through the OrderExecutor.

The signal logic is a `Strategy` (default `HoldThroughReport`, see base.py); this module is the
runner around it. The engine builds one, calls `load()` (whose text, if any, is
EngineState.strategy_error), registers `on_fill` with the FillRecorder and runs `await run()` as a
long-running task, republishing its state whenever `on_change` is called.

How the week runs
-----------------
- The week is the one of `calendar.current_or_next_session(clock.now())`. Its plan is built at
  start-up, or `PLAN_LEAD` (1 h) before the first session of the week opens (until then the
  finished week and its close's result stay on show), and journaled: one STRATEGY event per
  entry, and again whenever an entry changes (status, size, note).
- Everything the market schedules waits on the Clock (`sleep_until`), never on wall-clock sleeps
  or tick counts, so a run at clock speed 3600 gives the same orders at the same market instants
  as one at speed 1. Only waiting for the link to IB (`wait_connected`) is real time.

The parts: `book.py` (the entry book, pure), `entries.py` (the plan and its entries),
`friday_close.py` (the close, its backup and the check at the bell), `runner_state.py` (what they
share). Each module's docstring says what its part does and when.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from weekly_er_tui.clock import ET
from weekly_er_tui.journal import Fill
from weekly_er_tui.model import Alert, EventType, FridayCloseState, PlanStatus, Severity
from weekly_er_tui.strategy.book import positions_text
from weekly_er_tui.strategy.calendars import CalendarError, load_calendar
from weekly_er_tui.strategy.entries import EntryRunner
from weekly_er_tui.strategy.friday_close import FridayCloseRunner
from weekly_er_tui.strategy.plan import FridayClose, friday_close_times
from weekly_er_tui.strategy.runner_state import Closes, log

__all__ = ["Closes", "WeeklyERStrategy", "calendar_error_text"]

PLAN_LEAD = timedelta(hours=1)  # the next week is planned this long before its first open


def calendar_error_text(name: str, exc: CalendarError) -> str:
    """`calendar.csv: 2 bad rows; the strategy did not start: line 3: ...; line 7: ...`"""
    prefix = f"{name} line "
    if exc.problems and all(p.startswith(prefix) for p in exc.problems):
        n = len(exc.problems)
        rows = "; ".join(p.removeprefix(f"{name} ") for p in exc.problems)
        return f"{name}: {n} bad row{'s' if n != 1 else ''}; the strategy did not start: {rows}"
    return f"{name}: the strategy did not start: " + "; ".join(exc.problems)


class WeeklyERStrategy(EntryRunner, FridayCloseRunner):
    """The strategy runner: see the module docstring for what it does and when."""

    # -- loading --------------------------------------------------------------------------
    def load(self) -> str | None:
        """Load `strategy.calendar_file`. Returns an error text when it is bad (the strategy then
        sends no entries; the Friday close still runs). Called again while running, the plan is
        rebuilt at once (entries already sent keep their status)."""
        self._loaded = True
        cfg = self.config.strategy
        self._error = ""
        self._note = ""
        if not cfg.enabled:
            self._rows = []
            self._note = "strategy.enabled is false: no entries and no Friday close"
        elif not cfg.calendar_file:
            self._rows = []
            self._note = (
                "no strategy.calendar_file configured: no entries (the Friday close still runs "
                "for positions the strategy holds)"
            )
            self.journal.event(EventType.STRATEGY, Severity.INFO, f"Strategy idle: {self._note}")
        else:
            path = Path(cfg.calendar_file)
            try:
                self._rows = load_calendar(path, self.calendar)
            except CalendarError as exc:
                self._rows = []
                self._error = calendar_error_text(path.name, exc)
                self.journal.event(
                    EventType.STRATEGY, Severity.HIGH, self._error,
                    {"calendar_file": str(path), "problems": exc.problems},
                )
                self._send_alert(Alert(
                    key="strategy:not_started", priority=Severity.HIGH, kind="trading",
                    title=f"The strategy did not start: {path.name} has "
                          f"{len(exc.problems)} problem(s)",
                    body="\n".join(exc.problems),
                    facts={
                        "calendar_file": str(path),
                        "action": "No entries are sent. The Friday close still closes every "
                                  "position the strategy holds.",
                        "next_steps": f"Fix the listed lines of {path}, then restart "
                                      "weekly-er-tui.",
                    },
                    timestamp=self.clock.now(),
                ))
            else:
                self.journal.event(
                    EventType.STRATEGY, Severity.INFO,
                    f"Earnings calendar {path.name}: {len(self._rows)} report(s) loaded "
                    f"(strategy {self.strategy.name})",
                    {"calendar_file": str(path), "reports": len(self._rows)},
                )
        self._replan = True
        self._wake.set()
        self._dirty = True
        self._changed()
        return self._error or None

    # -- the long-running task ------------------------------------------------------------
    async def run(self) -> None:
        """Run week after week until cancelled."""
        if not self._loaded:
            self.load()
        cfg = self.config.strategy
        if not cfg.enabled:
            held = self._tracked()
            if held:
                self._warn(
                    "strategy:disabled_holding",
                    f"strategy.enabled is false but the strategy holds {positions_text(held)}: "
                    "no Friday close will run for them",
                    "Close them yourself, or enable the strategy.",
                )
            return
        cal = self.calendar
        while True:
            week_of = cal.current_or_next_session(self.clock.now())
            try:
                friday = friday_close_times(
                    week_of, cal, cfg.close_offset_minutes, cfg.backup_offset_minutes
                )
            except ValueError as exc:
                self._error = f"strategy.close_offset_minutes: {exc}"
                self.journal.event(EventType.STRATEGY, Severity.HIGH, self._error)
                self._changed()
                return
            await self._run_week(week_of, friday)
            # The finished week (and its close's result) stays on show until the next one is
            # planned, shortly before its first session opens, at that morning's prices.
            next_open = cal.session_open(cal.next_session(friday.last_session))
            await self.clock.sleep_until(next_open - PLAN_LEAD)

    async def _run_week(self, week_of: date, friday: FridayClose) -> None:
        self._week_of = week_of
        self._friday = friday
        self._book.clear()
        self._journaled.clear()
        self._close_symbols = set()
        self._closing_started = False
        self._close = FridayCloseState(
            friday.last_session, friday.close_at, friday.backup_at, friday.bell
        )
        self._dirty = True
        self._replan = False
        await self._make_plan(week_of, first=True)
        self._warn_carried_positions()
        self._publish()
        while True:
            if self._replan:
                self._replan = False
                await self._make_plan(week_of, first=False)
            now = self.clock.now()
            if now >= friday.close_at:
                break
            self._sync_all()
            await self._entry_step(now)
            self._publish()
            wake, with_link = self._next_wake(self.clock.now(), friday)
            await self._sleep_until(wake, with_link=with_link)
        await self._friday_close(friday)


    # -- fills ----------------------------------------------------------------------------
    def on_fill(self, fill: Fill) -> None:
        """A journaled, tracked fill (register with FillRecorder.on_fill): entries become
        ENTERED from their own fills, CLOSED when a closing fill leaves the symbol flat."""
        tracked = self._tracked()
        mine = False
        if fill.order_ref in self._book.entries:
            mine = True
            if self._closing_started and fill.symbol in tracked:
                # Filled as the close cancelled it: the close (or its backup) sells it.
                self._update(fill.order_ref, PlanStatus.CLOSING,
                             "filled as the Friday close began: closed by the close", force=True)
            else:
                self._sync(fill.order_ref, tracked)
        else:
            for key, e in self._book.entries.items():
                if e.symbol != fill.symbol or e.status not in (
                    PlanStatus.ENTERING, PlanStatus.ENTERED, PlanStatus.CLOSING
                ):
                    continue
                mine = True
                if fill.symbol not in tracked:
                    why = "closed by the Friday close" if fill.reason == "FRIDAY_CLOSE" else (
                        f"closed ({fill.reason or 'outside the strategy'})"
                    )
                    self._update(key, PlanStatus.CLOSED, why)
                else:
                    self._update(key, PlanStatus.CLOSING)
        if mine:
            if self._week_of is not None:
                try:
                    self.strategy.on_fill(self._context(self.plan), fill)
                except Exception:
                    log.exception("strategy %s: on_fill failed", self.strategy.name)
            self._wake.set()
            self._publish()


    # -- warnings -------------------------------------------------------------------------
    def _warn_carried_positions(self) -> None:
        """Strategy positions not entered this week were held over a weekend (the app was not
        running at a Friday close, or it ended NOT FLAT): say so; this week's close sells them."""
        refs = {e.order_ref for e in self._book.entries.values()}
        carried = {s: p.quantity for s, p in self.store.tracked_positions().items()
                   if p.order_ref not in refs}
        if not carried or self._friday is None:
            return
        self._warn(
            "strategy:carried_positions",
            f"Strategy positions from an earlier week are still open: {positions_text(carried)}; "
            f"this week's Friday close "
            f"({self._friday.close_at.astimezone(ET):%a %Y-%m-%d %H:%M} ET) closes them",
            "Close them now in TWS if they should not be held until then.",
        )


    async def _sleep_until(self, when: datetime, *, with_link: bool) -> None:
        """Sleep on the Clock until `when`, or until load() or a fill asks to look again, or
        (with_link) until the link to IB is back."""
        if self._wake.is_set():
            self._wake.clear()
            await asyncio.sleep(0)
            return
        waits: list[Awaitable[Any]] = [self.clock.sleep_until(when), self._wake.wait()]
        if with_link:
            waits.append(self._wait_connected())
        won = await self._first_of(*waits)
        self._wake.clear()
        if won == {2} and not self._is_connected():
            # wait_connected returned while still down: do not spin, wait on the Clock.
            await self._first_of(self.clock.sleep_until(when), self._wake.wait())
            self._wake.clear()
