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

Entries
-------
- At an entry's planned instant the runner asks the strategy (`on_time`) what to send and sends
  it through `executor.submit` with the entry's deterministic orderRef. An orderRef already
  recorded in the store is never sent again: the entry takes its status from the recorded intent.
- An entry is "due" from its planned instant until its deadline: `ENTRY_MARGIN` (5 min) before
  the close of its session, and never after the Friday close starts. While it is due and trading
  is not ACTIVE (PAUSED: no new entries; REDUCING, HALTED: none), the link is down, or there is
  no price, it waits: re-checked every `RETRY_SECONDS` of the Clock and at once when the link
  returns. Resumed in time, the entry goes late (sized at the then-current price) and its note
  says so; at the deadline it is SKIPPED with the reason it waited for.
- A refusal by the pre-trade gate makes the entry REJECTED, with the gate's reason as the note
  (the executor journals and alerts it). An intent recorded but never sent (the link dropped at
  that moment) makes it FAILED: recorded orders are never re-sent automatically.
- Restart in the middle of the week: entries with a recorded intent keep the intent's status
  (ENTERING, ENTERED, CLOSED, ...). An entry whose time passed with no recorded intent is still
  sent if it is before its deadline (same session, before the Friday close), since the position
  is still held through the report; after its deadline it is SKIPPED ("entry time passed while
  the app was not running").

The Friday close
----------------
It belongs to the runner, not to the strategy, and runs whenever the strategy is enabled, also
with no calendar or a bad one, so positions the strategy opened are never held over a weekend.

- `close_at` (close_offset_minutes before the last session's close): FRIDAY_CLOSE "started";
  entries not yet sent are SKIPPED; working ENTRY orders are cancelled; every strategy position
  (`store.tracked_positions()`, never orphans or the trader's other positions) is closed with
  `executor.flatten("FRIDAY_CLOSE", symbols=tracked, cancel_first=False)`; "done" with the result.
  If the link is down at close_at, the close waits for it (real time) until the bell and runs as
  soon as it is back; a link back after backup_at goes straight to the backup.
- `backup_at` (backup_offset_minutes before the close): a close still working is stopped (its
  orders are cancelled by the backup's flatten), and whatever strategy position is still open gets
  market orders again, with a CRITICAL alert listing it: FRIDAY_CLOSE "backup".
- The bell: FRIDAY_CLOSE "result": INFO when every strategy position is flat, CRITICAL with an
  alert when one is not (or the link is down and it cannot be verified).

`friday_close_state` shows the week's close times and how far it got.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from weekly_er_tui.broker.closing import CloseRequest
from weekly_er_tui.broker.orders import FlattenResult, OrderExecutor, make_intent
from weekly_er_tui.broker.portfolio import PortfolioTracker
from weekly_er_tui.clock import ET, Clock
from weekly_er_tui.config import AppConfig
from weekly_er_tui.journal import Fill, Journal
from weekly_er_tui.listeners import notify
from weekly_er_tui.model import (
    Alert,
    EventType,
    FridayCloseState,
    FridayPhase,
    PlanEntry,
    PlanStatus,
    Severity,
    TradingState,
)
from weekly_er_tui.risk.gate import REASONS
from weekly_er_tui.store import OrderIntentRecord, Store
from weekly_er_tui.strategy.base import OrderIntentProposal, Strategy, StrategyContext
from weekly_er_tui.strategy.calendars import (
    CalendarError,
    EarningsRow,
    MarketCalendar,
    load_calendar,
    market_calendar,
)
from weekly_er_tui.strategy.plan import (
    FridayClose,
    HoldThroughReport,
    describe_plan_entry,
    entry_session_of,
    friday_close_times,
    plan_event_details,
    plan_symbols,
)

log = logging.getLogger("weekly_er_tui.strategy")

RETRY_SECONDS = 60.0  # Clock seconds between checks of an entry that is due but waiting
ENTRY_MARGIN = timedelta(minutes=5)  # no entry is sent later than this before its session's close
PLAN_LEAD = timedelta(hours=1)  # the next week is planned this long before its first open
HISTORY_TIMEOUT = 30.0  # real seconds: daily bars come over the network
WATCH_TIMEOUT = 10.0  # real seconds: subscribing market data for the plan's symbols

_RANK = {PlanStatus.PLANNED: 0, PlanStatus.ENTERING: 1, PlanStatus.ENTERED: 2,
         PlanStatus.CLOSING: 3}
_FINAL = 4  # CLOSED, SKIPPED, REJECTED, FAILED: an entry that got there stays there

class Closes(Protocol):
    """The closer (safety/closer.py), as the runner uses it."""

    async def close(self, request: CloseRequest) -> FlattenResult: ...


History = Callable[[str], Awaitable[list[float]]]
WatchSymbols = Callable[[Sequence[str]], Awaitable[object]]


def calendar_error_text(name: str, exc: CalendarError) -> str:
    """`calendar.csv: 2 bad rows; the strategy did not start: line 3: ...; line 7: ...`"""
    prefix = f"{name} line "
    if exc.problems and all(p.startswith(prefix) for p in exc.problems):
        n = len(exc.problems)
        rows = "; ".join(p.removeprefix(f"{name} ") for p in exc.problems)
        return f"{name}: {n} bad row{'s' if n != 1 else ''}; the strategy did not start: {rows}"
    return f"{name}: the strategy did not start: " + "; ".join(exc.problems)


def _positions_text(positions: dict[str, float]) -> str:
    return ", ".join(f"{s} {q:+g}" for s, q in sorted(positions.items()))


def _valid(price: float | None) -> float | None:
    return price if price is not None and math.isfinite(price) and price > 0 else None


class WeeklyERStrategy:
    """The strategy runner: see the module docstring for what it does and when."""

    def __init__(
        self,
        config: AppConfig,
        *,
        clock: Clock,
        journal: Journal,
        store: Store,
        executor: OrderExecutor,
        portfolio: PortfolioTracker,
        trading_state: Callable[[], TradingState],
        is_connected: Callable[[], bool],
        wait_connected: Callable[[], Awaitable[None]],
        alert: Callable[[Alert], None] | None = None,
        strategy: Strategy | None = None,
        calendar: MarketCalendar | None = None,
        history: History | None = None,
        on_change: Callable[[], None] | None = None,
        watch_symbols: WatchSymbols | None = None,
        closer: Closes | None = None,
    ) -> None:
        """`history(symbol)`: daily closes, oldest first (volatility sizing only).
        `watch_symbols(symbols)`: asks for streaming prices of the plan's symbols, so that
        `portfolio.price()` knows them at entry time (the tracker streams only held symbols)."""
        self.config = config
        self.clock = clock
        self.journal = journal
        self.store = store
        self.executor = executor
        self.portfolio = portfolio
        self.strategy: Strategy = strategy if strategy is not None else HoldThroughReport()
        self._trading_state = trading_state
        self._is_connected = is_connected
        self._wait_connected = wait_connected
        self._alert = alert
        self._cal = calendar
        self._history = history
        self._on_change = on_change
        self._watch_symbols = watch_symbols
        self._closer = closer

        self._loaded = False
        self._rows: list[EarningsRow] = []
        self._error = ""
        self._note = ""
        self._week_of: date | None = None
        self._friday: FridayClose | None = None
        self._close: FridayCloseState | None = None
        self._entries: dict[str, PlanEntry] = {}  # by orderRef, in entry order
        self._base_notes: dict[str, str] = {}  # the strategy's own note of each entry
        self._sent_notes: dict[str, str] = {}  # how the entry was sent (late, resized, ...)
        self._journaled: dict[str, PlanEntry] = {}
        self._blocked: dict[str, str] = {}  # why a due entry is waiting
        self._prices: dict[str, float] = {}
        self._closes: dict[str, list[float]] = {}
        self._close_symbols: set[str] = set()
        self._closing_started = False
        self._dirty = False
        self._replan = False
        self._wake = asyncio.Event()

    # -- what the engine reads ------------------------------------------------------------
    @property
    def plan(self) -> tuple[PlanEntry, ...]:
        """The current week's plan with live statuses."""
        return tuple(self._entries.values())

    @property
    def error(self) -> str:
        """Why the strategy did not start ("" when it did): EngineState.strategy_error."""
        return self._error

    @property
    def note(self) -> str:
        """Why the strategy is idle, e.g. no calendar configured ("" otherwise)."""
        return self._note

    @property
    def week_of(self) -> date | None:
        return self._week_of

    @property
    def friday_close_state(self) -> FridayCloseState | None:
        """This week's Friday close: times and progress (None before the first week starts)."""
        return self._close

    @property
    def calendar(self) -> MarketCalendar:
        if self._cal is None:
            self._cal = market_calendar()
        return self._cal

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
                    f"strategy.enabled is false but the strategy holds {_positions_text(held)}: "
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
        self._entries.clear()
        self._journaled.clear()
        self._base_notes.clear()
        self._sent_notes.clear()
        self._blocked.clear()
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

    # -- the plan -------------------------------------------------------------------------
    def _tracked(self) -> dict[str, float]:
        return {s: p.quantity for s, p in self.store.tracked_positions().items()}

    def _context(self, plan: tuple[PlanEntry, ...] = ()) -> StrategyContext:
        assert self._week_of is not None
        return StrategyContext(
            week_of=self._week_of,
            calendar=self.calendar,
            config=self.config.strategy,
            max_position_value=self.config.safety_limits.max_position_value,
            reports=tuple(self._rows),
            plan=plan,
            prices=dict(self._prices),
            daily_closes=dict(self._closes),
            positions=self._tracked(),
        )

    def _price(self, symbol: str) -> float | None:
        """The last price: streaming market price, else last trade, else the bid/ask midpoint."""
        price = _valid(self.portfolio.price(symbol))
        if price is not None:
            return price
        bid, ask, last = self.portfolio.quote(symbol)
        if _valid(last) is not None:
            return last
        bid, ask = _valid(bid), _valid(ask)
        return (bid + ask) / 2 if bid is not None and ask is not None else None

    def _refresh_prices(self, symbols: Sequence[str]) -> None:
        for symbol in symbols:
            price = self._price(symbol)
            if price is not None:
                self._prices[symbol] = price

    async def _fetch_closes(self, symbols: Sequence[str]) -> None:
        history = self._history
        if history is None:
            return

        async def one(symbol: str) -> None:
            try:
                closes = await asyncio.wait_for(history(symbol), HISTORY_TIMEOUT)
            except Exception as exc:  # sizing falls back to the fixed notional and says so
                log.warning("No daily bars for %s (%r): fixed notional used", symbol, exc)
                return
            self._closes[symbol] = list(closes)

        await asyncio.gather(*(one(s) for s in symbols if s not in self._closes))

    async def _watch(self, symbols: Sequence[str]) -> None:
        if self._watch_symbols is None or not symbols:
            return
        try:
            await asyncio.wait_for(self._watch_symbols(symbols), WATCH_TIMEOUT)
        except Exception as exc:
            log.warning("Could not subscribe prices for %s: %r", ", ".join(symbols), exc)

    def _strategy_plan(self) -> list[PlanEntry]:
        try:
            return list(self.strategy.plan(self._context()))
        except Exception as exc:
            log.exception("strategy %s: plan() failed", self.strategy.name)
            self._error = f"the strategy {self.strategy.name} could not plan the week: {exc!r}"
            self.journal.event(EventType.STRATEGY, Severity.HIGH, self._error)
            return []

    async def _make_plan(self, week_of: date, *, first: bool) -> None:
        """Ask the strategy for the week's plan (twice: once to learn its symbols, then with their
        prices and daily bars), keep what already happened, settle entries whose time passed."""
        if first:
            self._closes.clear()
        draft = self._strategy_plan()
        symbols = plan_symbols(draft)
        await self._watch(symbols)
        if self.config.strategy.sizing == "volatility":
            await self._fetch_closes(symbols)
        self._refresh_prices(symbols)
        fresh = self._strategy_plan() if symbols else draft
        old = dict(self._entries)
        entries: dict[str, PlanEntry] = {}
        for e in fresh:
            key = e.order_ref or f"{e.symbol}-{e.report_date}"
            prev = old.get(key)
            if prev is not None and prev.status is not PlanStatus.PLANNED:
                entries[key] = prev  # already under way: keep it as it is
            else:
                entries[key] = e if e.order_ref else replace(e, order_ref=key)
                self._base_notes[key] = e.note
        for key, prev in old.items():
            if key not in entries and _RANK.get(prev.status, _FINAL) >= 1:
                entries[key] = prev  # dropped from the calendar but already sent: still shown
        self._entries = dict(sorted(entries.items(), key=lambda kv: kv[1].planned_entry))
        self._dirty = True
        self._sync_all()
        now = self.clock.now()
        for key, e in self._entries.items():
            if e.status is not PlanStatus.PLANNED:
                continue
            deadline = self._deadline(e)
            if e.planned_entry >= deadline:
                self._update(key, PlanStatus.SKIPPED, (
                    f"the planned entry {e.planned_entry.astimezone(ET):%H:%M} ET is too late: "
                    f"entries go no later than {deadline.astimezone(ET):%a %H:%M} ET "
                    f"({ENTRY_MARGIN.seconds // 60} min before the close, and before the "
                    "Friday close)"
                ))
            elif now >= deadline:
                self._update(key, PlanStatus.SKIPPED, (
                    "entry time passed while the app was not running" if first
                    else "added to the plan after its entry time had passed"
                ))

    def _deadline(self, e: PlanEntry) -> datetime:
        """The last instant an entry may be sent: ENTRY_MARGIN before its session's close, and
        before the Friday close starts."""
        try:
            close = self.calendar.session_close(entry_session_of(e))
        except ValueError:
            return e.planned_entry
        deadline = close - ENTRY_MARGIN
        return min(deadline, self._friday.close_at) if self._friday is not None else deadline

    # -- statuses -------------------------------------------------------------------------
    def _update(
        self, key: str, status: PlanStatus, note: str | None = None, *,
        quantity: int | None = None, force: bool = False,
    ) -> None:
        """Move an entry forward (never back: PLANNED, ENTERING, ENTERED, CLOSING, then one of
        CLOSED, SKIPPED, REJECTED, FAILED, where it stays). `note` adds to the strategy's note."""
        e = self._entries.get(key)
        if e is None:
            return
        current, new = _RANK.get(e.status, _FINAL), _RANK.get(status, _FINAL)
        if not force and (new < current or current == _FINAL):
            return
        parts = (self._base_notes.get(key, ""), self._sent_notes.get(key, ""), note)
        full = "; ".join(n for n in parts if n) if note is not None else e.note
        changed = replace(
            e, status=status, note=full, quantity=e.quantity if quantity is None else quantity
        )
        if changed != e:
            self._entries[key] = changed
            self._dirty = True

    def _from_intent(
        self, rec: OrderIntentRecord, held: bool
    ) -> tuple[PlanStatus, str] | None:
        """An entry's status from its recorded intent (and whether the position is still held)."""
        partial = (
            f"{rec.filled:g} of {rec.quantity:g} shares filled" if 0 < rec.filled < rec.quantity
            else ""
        )
        after_fill = PlanStatus.ENTERED if held else PlanStatus.CLOSED
        if rec.status in ("RECORDED", "SUBMITTED"):
            return PlanStatus.ENTERING, ""
        if rec.status in ("PARTIAL", "FILLED"):
            return after_fill, partial
        if rec.status == "CANCELLED":
            if rec.filled > 0:
                return after_fill, f"{partial}, the rest cancelled" if partial else ""
            if self._closing_started:
                return PlanStatus.SKIPPED, (
                    "not filled before the Friday close: the order was cancelled"
                )
            return PlanStatus.FAILED, "the order was cancelled before it filled"
        if rec.status == "REJECTED":
            return PlanStatus.REJECTED, "IB rejected the order (see events_log.csv)"
        if rec.status == "UNSENT":
            return PlanStatus.FAILED, (
                "recorded, but it never reached IB (the link was down); it is not re-sent "
                "automatically: check TWS"
            )
        return None

    def _sync(self, key: str, tracked: dict[str, float] | None = None) -> None:
        e = self._entries.get(key)
        if e is None or not e.order_ref:
            return
        rec = self.store.intent(e.order_ref)
        if rec is None:
            return
        held = rec.symbol in (self._tracked() if tracked is None else tracked)
        derived = self._from_intent(rec, held)
        if derived is not None:
            status, note = derived
            if status is PlanStatus.ENTERED and self._closing_started:
                status = PlanStatus.CLOSING
            self._update(key, status, note)

    def _sync_all(self) -> None:
        tracked = self._tracked()
        for key in list(self._entries):
            self._sync(key, tracked)

    # -- entries --------------------------------------------------------------------------
    def _entry_block(self) -> str | None:
        """Why no entry may be sent now, or None."""
        state = self._trading_state()
        if state is TradingState.PAUSED:
            return "trading is PAUSED (no new entries)"
        if state is TradingState.REDUCING:
            return "trading is REDUCING (only orders that reduce a position)"
        if state is TradingState.HALTED:
            return "trading is HALTED (no entries until a person resumes)"
        if not self._is_connected():
            return "not connected to IB"
        return None

    def _block(self, key: str, why: str) -> None:
        if self._blocked.get(key) == why:
            return
        self._blocked[key] = why
        e = self._entries[key]
        deadline = self._deadline(e).astimezone(ET)
        quiet = why.startswith("trading is")  # the state change itself was journaled and alerted
        self.journal.event(
            EventType.STRATEGY, Severity.INFO if quiet else Severity.MEDIUM,
            f"{e.symbol} entry waiting: {why}; it is skipped if not sent by "
            f"{deadline:%a %H:%M} ET",
            {"symbol": e.symbol, "order_ref": e.order_ref, "reason": why,
             "deadline": deadline.isoformat()},
        )

    def _why_not_proposed(self, e: PlanEntry, ctx: StrategyContext, now: datetime) -> str:
        if ctx.positions.get(e.symbol):
            return f"already holding {e.symbol} (a strategy position)"
        if e.symbol not in ctx.prices:
            return f"no price for {e.symbol} yet"
        if not self.calendar.is_open(now):
            return "the market is closed"
        return f"the strategy {self.strategy.name} proposed no order"

    async def _entry_step(self, now: datetime) -> None:
        due: list[str] = []
        for key, e in self._entries.items():
            if e.status is not PlanStatus.PLANNED or now < e.planned_entry:
                continue
            deadline = self._deadline(e)
            if now >= deadline:
                why = self._blocked.pop(key, "")
                self._update(key, PlanStatus.SKIPPED, (
                    f"not entered by {deadline.astimezone(ET):%a %H:%M} ET: {why}" if why
                    else "entry time passed while the app was not running"
                ))
            else:
                due.append(key)
        if not due:
            return
        block = self._entry_block()
        if block is not None:
            for key in due:
                self._block(key, block)
            return
        self._refresh_prices(plan_symbols(self.plan))
        ctx = self._context(self.plan)
        try:
            proposals = list(self.strategy.on_time(ctx, now))
        except Exception as exc:
            log.exception("strategy %s: on_time failed", self.strategy.name)
            for key in due:
                self._block(key, f"the strategy {self.strategy.name} failed: {exc!r}")
            return
        for p in proposals:
            await self._submit(p)
        for key in due:
            e = self._entries[key]
            if e.status is PlanStatus.PLANNED:
                self._block(key, self._why_not_proposed(e, ctx, now))

    async def _submit(self, p: OrderIntentProposal) -> None:
        key = p.order_ref
        if self.store.intent(key) is not None:
            self._sync(key)  # recorded before (a restart): never sent twice
            return
        if self.clock.now() >= self._friday_close_at():
            return
        reason = p.reason.upper() if p.reason.upper() in REASONS else "ENTRY"
        try:
            intent = make_intent(p.symbol, p.side, p.quantity, p.order_type, p.limit_price, key,
                                 reason)
        except ValueError as exc:
            self._update(key, PlanStatus.FAILED, str(exc))
            self.journal.event(EventType.STRATEGY, Severity.HIGH,
                               f"{p.symbol}: the strategy proposed a bad order: {exc}")
            return
        e = self._entries.get(key)
        if e is not None:
            now = self.clock.now()
            waited = self._blocked.pop(key, "")
            late = ""
            if (now - e.planned_entry).total_seconds() > RETRY_SECONDS / 2:
                late = (f"sent {now.astimezone(ET):%H:%M} ET, after the planned "
                        f"{e.planned_entry.astimezone(ET):%H:%M}"
                        + (f" ({waited})" if waited else ""))
            if p.note and p.note != self._base_notes.get(key):
                late = "; ".join(n for n in (late, p.note) if n)
            self._sent_notes[key] = late
            self._update(key, PlanStatus.ENTERING, "", quantity=p.quantity)
            self._publish()
        result = await self.executor.submit(intent)
        if result.sent:
            self._sync(key)
        elif result.decision is not None and not result.decision.accepted:
            # The executor journaled the refusal and alerted it.
            self._update(key, PlanStatus.REJECTED,
                         f"refused by the pre-trade gate: {result.message}")
        elif self.store.intent(key) is not None:
            self._sync(key)
        else:
            self._update(key, PlanStatus.FAILED, result.message or "not sent")

    def _friday_close_at(self) -> datetime:
        assert self._friday is not None
        return self._friday.close_at

    def _next_wake(self, now: datetime, friday: FridayClose) -> tuple[datetime, bool]:
        """The next instant the entry loop must look again, and whether a returning link should
        wake it earlier (an entry is due and waits for the connection)."""
        times = [friday.close_at]
        waiting = False
        for e in self._entries.values():
            if e.status is PlanStatus.PLANNED:
                deadline = self._deadline(e)
                if now < e.planned_entry:
                    times.append(e.planned_entry)
                elif now < deadline:
                    times += [deadline, now + timedelta(seconds=RETRY_SECONDS)]
                    waiting = True
            elif e.status is PlanStatus.ENTERING:
                # Follow the order's fate (an IB rejection or cancel) while its session lasts.
                with contextlib.suppress(ValueError):
                    if now < self.calendar.session_close(entry_session_of(e)):
                        times.append(now + timedelta(seconds=RETRY_SECONDS))
        return min(times), waiting and not self._is_connected()

    # -- fills ----------------------------------------------------------------------------
    def on_fill(self, fill: Fill) -> None:
        """A journaled, tracked fill (register with FillRecorder.on_fill): entries become
        ENTERED from their own fills, CLOSED when a closing fill leaves the symbol flat."""
        tracked = self._tracked()
        mine = False
        if fill.order_ref in self._entries:
            mine = True
            if self._closing_started and fill.symbol in tracked:
                # Filled as the close cancelled it: the close (or its backup) sells it.
                self._update(fill.order_ref, PlanStatus.CLOSING,
                             "filled as the Friday close began: closed by the close", force=True)
            else:
                self._sync(fill.order_ref, tracked)
        else:
            for key, e in self._entries.items():
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

    # -- the Friday close -----------------------------------------------------------------
    def _working_entries(self) -> list[Any]:
        refs = {e.order_ref for e in self._entries.values()}
        out: list[Any] = []
        for trade in self.executor.working_orders():
            ref = trade.order.orderRef
            if not ref:
                continue
            if ref in refs:
                out.append(trade)
                continue
            rec = self.store.intent(ref)
            if rec is not None and rec.reason == "ENTRY":
                out.append(trade)
        return out

    def _set_close(self, phase: FridayPhase, detail: str = "", **changes: Any) -> None:
        assert self._close is not None
        self._close = replace(self._close, phase=phase, detail=detail, **changes)
        self._dirty = True
        self._publish()

    async def _friday_close(self, fc: FridayClose) -> None:
        now = self.clock.now()
        tracked = self._tracked()
        working = self._working_entries()
        self._closing_started = True
        for key, e in self._entries.items():
            if e.status is PlanStatus.PLANNED:
                self._blocked.pop(key, None)
                self._update(key, PlanStatus.SKIPPED, "the Friday close started before it was sent")
        if not self._entries and not tracked and not working:
            self._set_close(FridayPhase.NOTHING, "no plan and no strategy position this week")
            await self.clock.sleep_until(fc.bell)
            self._set_close(FridayPhase.NOTHING, "no plan and no strategy position this week",
                            finished_at=self.clock.now())
            return
        self.journal.event(
            EventType.FRIDAY_CLOSE, Severity.INFO,
            f"Friday close started ({fc.last_session:%a %Y-%m-%d}, bell "
            f"{fc.bell.astimezone(ET):%H:%M} ET): closing strategy positions "
            f"{_positions_text(tracked) or '(none)'}; {len(working)} working entry order(s) to "
            "cancel",
            {"phase": "started", "positions": tracked, "working_entries": len(working),
             "close_at": fc.close_at.astimezone(ET).isoformat(),
             "backup_at": fc.backup_at.astimezone(ET).isoformat(),
             "bell": fc.bell.astimezone(ET).isoformat()},
        )
        self._set_close(FridayPhase.CLOSING, started_at=now)
        if await self._link_before(fc.bell) and self.clock.now() < fc.backup_at:
            task = asyncio.ensure_future(self._close_positions())
            if not await self._task_until(task, fc.backup_at):
                self.journal.event(
                    EventType.FRIDAY_CLOSE, Severity.HIGH,
                    "Friday close still working at the backup time: the backup takes over",
                    {"phase": "done", "interrupted": True},
                )
        await self.clock.sleep_until(fc.backup_at)
        if self.clock.now() < fc.bell and await self._link_before(fc.bell):
            task = asyncio.ensure_future(self._backup(fc))
            if not await self._task_until(task, fc.bell):
                log.error("Friday close backup still working at the bell")
        await self.clock.sleep_until(fc.bell)
        self._final_check(fc)

    async def _link_before(self, deadline: datetime) -> bool:
        """True when connected (waiting, in real time, for the link to return before the
        Clock reaches `deadline`)."""
        if self._is_connected():
            return True
        assert self._close is not None
        phase = self._close.phase
        self.journal.event(
            EventType.FRIDAY_CLOSE, Severity.HIGH,
            f"Friday close waiting for the connection to IB (it runs as soon as the link is back, "
            f"until the bell at {self._close.bell.astimezone(ET):%H:%M} ET)",
            {"phase": "waiting"},
        )
        self._set_close(FridayPhase.WAITING_FOR_LINK)
        while not self._is_connected() and self.clock.now() < deadline:
            won = await self._first_of(self._wait_connected(), self.clock.sleep_until(deadline))
            if 0 in won and not self._is_connected():
                # wait_connected returned but the link dropped again: retry on the Clock.
                await self._first_of(
                    self.clock.sleep(RETRY_SECONDS), self.clock.sleep_until(deadline)
                )
        if not self._is_connected():
            return False
        self.journal.event(
            EventType.FRIDAY_CLOSE, Severity.INFO,
            "Connection back: the Friday close resumes", {"phase": "resumed"},
        )
        self._set_close(phase)
        return True

    async def _task_until(self, task: asyncio.Future[None], when: datetime) -> bool:
        """Wait for `task` until the Clock reaches `when`; cancel it if it is not done then."""
        won = await self._first_of(task, self.clock.sleep_until(when))
        return 0 in won

    async def _close_positions(self) -> None:
        """At close_at: cancel working entries, then close every tracked strategy position."""
        try:
            working = self._working_entries()
            if working:
                await self.executor.cancel_orders(working)
            self._sync_all()  # ENTERED becomes CLOSING; cancelled unfilled entries SKIPPED
            tracked = self._tracked()
            self._publish()
            scope = sorted(tracked)
            self._close_symbols |= set(scope)
            if not scope:
                self.journal.event(
                    EventType.FRIDAY_CLOSE, Severity.INFO,
                    f"Friday close done: no strategy position to close ({len(working)} working "
                    "entry order(s) cancelled)",
                    {"phase": "done", "cancelled_entries": len(working), "flat": True},
                )
                self._set_close(FridayPhase.CLOSED, "no strategy position")
                return
            # The strategy's own quantities only: the trader's shares in the same symbols stay.
            result = await self._flatten("Friday close", cancel_first=False)
            self._sync_all()
            verdict = "flat" if result.flat else "NOT flat: " + ", ".join(result.remaining)
            self.journal.event(
                EventType.FRIDAY_CLOSE, Severity.INFO if result.flat else Severity.HIGH,
                f"Friday close done: closed {', '.join(result.closed) or 'nothing'}; {verdict}",
                {"phase": "done", "cancelled_entries": len(working), **result.to_dict()},
            )
            self._set_close(FridayPhase.CLOSED, verdict)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("Friday close failed")
            self.journal.event(
                EventType.FRIDAY_CLOSE, Severity.HIGH,
                f"Friday close failed: {exc!r}; the backup runs at its time", {"phase": "done"},
            )

    async def _backup(self, fc: FridayClose) -> None:
        """At backup_at: market orders again for every strategy position still open."""
        working = self._working_entries()
        if working:
            await self.executor.cancel_orders(working)
        still = self.executor.owned_open(self._tracked())
        if not still:
            self.journal.event(
                EventType.FRIDAY_CLOSE, Severity.INFO,
                "Friday close backup: no strategy position left open",
                {"phase": "backup", "open": {}},
            )
            self._set_close(FridayPhase.BACKUP, "nothing left open")
            return
        listing = _positions_text(still)
        minutes = max(0, round((fc.bell - self.clock.now()).total_seconds() / 60))
        self._send_alert(Alert(
            key="friday_close_incomplete:backup", priority=Severity.CRITICAL, kind="trading",
            title=f"Friday close backup: still open {minutes} min before the bell: {listing}",
            body=f"Strategy positions still open at the backup time: {listing}.",
            facts={
                "open": still,
                "action": "Sending market orders again for every position listed.",
                "next_steps": "Watch TWS: if the result at the bell says NOT FLAT, close them "
                              "by hand.",
            },
            timestamp=self.clock.now(),
        ))
        self.journal.event(
            EventType.FRIDAY_CLOSE, Severity.CRITICAL,
            f"Friday close backup: still open {minutes} min before the bell: {listing}; "
            "sending market orders again",
            {"phase": "backup", "open": still},
        )
        self._close_symbols |= set(still)
        self._set_close(FridayPhase.BACKUP, f"closing {listing}",
                        open_positions=tuple(sorted(still.items())))
        try:
            result = await self._flatten("Friday close backup", cancel_first=True)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("Friday close backup failed")
            self.journal.event(EventType.FRIDAY_CLOSE, Severity.CRITICAL,
                               f"Friday close backup failed: {exc!r}", {"phase": "backup"})
            return
        self._sync_all()
        self._set_close(FridayPhase.BACKUP, "flat" if result.flat
                        else "still open: " + ", ".join(result.remaining))

    async def _flatten(self, why: str, *, cancel_first: bool) -> FlattenResult:
        """Close the strategy's own quantities through the closer (one owner of every close),
        or the executor when there is none (the runner's own tests)."""
        if self._closer is not None:
            return await self._closer.close(CloseRequest(
                "FRIDAY_CLOSE", why, owned=self._tracked, cancel_first=cancel_first,
                resend=cancel_first))
        return await self.executor.flatten("FRIDAY_CLOSE", owned=self._tracked,
                                           cancel_first=cancel_first)

    def _final_check(self, fc: FridayClose) -> None:
        """At the bell: flat or not, loudly."""
        scope = sorted(set(self._tracked()) | self._close_symbols)
        connected = self._is_connected()
        if not scope:
            still: dict[str, float] = {}
        elif connected:
            still = self.executor.owned_open(self._tracked())
            self._trim_book(still)
        else:
            still = {s: q for s, q in self._tracked().items()}
        self._sync_all()
        now = self.clock.now()
        if not still:
            detail = f"{', '.join(scope)} closed" if scope else "no strategy position"
            if scope and not connected:
                detail += " by the journaled fills; not connected to IB at the bell to confirm"
            self.journal.event(EventType.FRIDAY_CLOSE, Severity.INFO,
                               f"Friday close result: flat ({detail})",
                               {"phase": "result", "flat": True, "symbols": scope})
            self._set_close(FridayPhase.FLAT, detail, open_positions=(), finished_at=now)
            return
        listing = _positions_text(still) or "unknown"
        why = (f"NOT FLAT at the bell: {listing} still open" if connected
               else f"NOT VERIFIED at the bell: not connected to IB; the strategy tracks "
                    f"{listing} as open")
        self.journal.event(
            EventType.FRIDAY_CLOSE, Severity.CRITICAL, f"Friday close result: {why}",
            {"phase": "result", "flat": False, "connected": connected, "open": still},
        )
        self._send_alert(Alert(
            key="friday_close_incomplete:result", priority=Severity.CRITICAL, kind="trading",
            title=f"Friday close {why}",
            body=f"These strategy positions may be held over the weekend: {listing}.",
            facts={
                "open": still, "connected": connected,
                "action": "The close and its backup ran; nothing more is sent automatically.",
                "next_steps": "Check TWS now and close what is listed (after-hours if need be).",
            },
            timestamp=now,
        ))
        self._set_close(FridayPhase.NOT_FLAT, why, open_positions=tuple(sorted(still.items())),
                        finished_at=now)

    def _trim_book(self, held: dict[str, float]) -> None:
        """At the bell: a book that says more than the account holds of it (the trader sold
        strategy shares by hand) is cut to what is held, and said so, so the next week does not
        carry shares that are gone."""
        for symbol, qty in self._tracked().items():
            left = held.get(symbol, 0.0)
            if abs(left) >= abs(qty):
                continue
            self.store.track_position(symbol, left - qty, "", self.clock.now())
            self.journal.event(
                EventType.STRATEGY, Severity.MEDIUM,
                f"{symbol}: the strategy's book held {qty:+g} but the account holds only "
                f"{left:+g} of it (sold outside the strategy): book set to {left:+g}",
                {"symbol": symbol, "book": qty, "held": left},
            )

    # -- warnings -------------------------------------------------------------------------
    def _warn_carried_positions(self) -> None:
        """Strategy positions not entered this week were held over a weekend (the app was not
        running at a Friday close, or it ended NOT FLAT): say so; this week's close sells them."""
        refs = {e.order_ref for e in self._entries.values()}
        carried = {s: p.quantity for s, p in self.store.tracked_positions().items()
                   if p.order_ref not in refs}
        if not carried or self._friday is None:
            return
        self._warn(
            "strategy:carried_positions",
            f"Strategy positions from an earlier week are still open: {_positions_text(carried)}; "
            f"this week's Friday close "
            f"({self._friday.close_at.astimezone(ET):%a %Y-%m-%d %H:%M} ET) closes them",
            "Close them now in TWS if they should not be held until then.",
        )

    def _warn(self, key: str, message: str, next_steps: str) -> None:
        self.journal.event(EventType.STRATEGY, Severity.HIGH, message)
        self._send_alert(Alert(
            key=key, priority=Severity.HIGH, kind="trading", title=message,
            facts={"next_steps": next_steps}, timestamp=self.clock.now(),
        ))

    # -- plumbing -------------------------------------------------------------------------
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

    async def _first_of(self, *waits: Awaitable[Any]) -> set[int]:
        """Run the waits together until the first one finishes; cancel the rest. Returns the
        indexes of those that finished."""
        tasks = [asyncio.ensure_future(w) for w in waits]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            pending = [t for t in tasks if not t.done()]
            for t in pending:
                t.cancel()
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)
        won: set[int] = set()
        for i, t in enumerate(tasks):
            if t in done:
                won.add(i)
                if not t.cancelled() and (exc := t.exception()) is not None:
                    log.error("strategy wait failed: %r", exc, exc_info=exc)
        return won

    def _publish(self) -> None:
        """Journal every entry that changed since it was last journaled; tell the engine."""
        for key, e in self._entries.items():
            if self._journaled.get(key) == e:
                continue
            self._journaled[key] = e
            severity = (Severity.HIGH if e.status in (PlanStatus.FAILED, PlanStatus.REJECTED)
                        else Severity.INFO)
            details = plan_event_details(e)
            if self._week_of is not None:
                details["week_of"] = self._week_of.isoformat()
            details["strategy"] = self.strategy.name
            self.journal.event(EventType.STRATEGY, severity, describe_plan_entry(e), details)
            self._dirty = True
        if self._dirty:
            self._changed()

    def _changed(self) -> None:
        self._dirty = False
        if self._on_change is not None:
            notify((self._on_change,), what="strategy", logger=log)

    def _send_alert(self, alert: Alert) -> None:
        if self._alert is not None:
            try:
                self._alert(alert)
            except Exception:
                log.exception("alert sink failed for %s", alert.key)
