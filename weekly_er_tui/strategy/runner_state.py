"""What the strategy runner knows during a week, and the helpers every part of it shares:
its dependencies, the week's entry book and Friday-close state, syncing entries from their
recorded intents, publishing changes. The parts themselves are `entries.py` (the plan and its
entries), `friday_close.py` (the close, its backup and the check at the bell) and `weekly_er.py`
(the week runner that puts them together)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from weekly_er_tui.broker.closing import CloseRequest
from weekly_er_tui.broker.orders import FlattenResult, OrderExecutor
from weekly_er_tui.broker.portfolio import PortfolioTracker
from weekly_er_tui.clock import Clock
from weekly_er_tui.config import AppConfig
from weekly_er_tui.journal import Journal
from weekly_er_tui.listeners import tell
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
from weekly_er_tui.store import Store
from weekly_er_tui.strategy.base import Strategy, StrategyContext
from weekly_er_tui.strategy.book import EntryBook, status_from_intent
from weekly_er_tui.strategy.calendars import EarningsRow, MarketCalendar, market_calendar
from weekly_er_tui.strategy.plan import (
    FridayClose,
    HoldThroughReport,
    describe_plan_entry,
    plan_event_details,
)

log = logging.getLogger("weekly_er_tui.strategy")

RETRY_SECONDS = 60.0  # Clock seconds between checks of an entry that is due but waiting
ENTRY_MARGIN = timedelta(minutes=5)  # no entry is sent later than this before its session's close


class Closes(Protocol):
    """The closer (safety/closer.py), as the runner uses it."""

    async def close(self, request: CloseRequest) -> FlattenResult: ...


History = Callable[[str], Awaitable[list[float]]]
WatchSymbols = Callable[[Sequence[str]], Awaitable[object]]


class RunnerState:
    """The strategy runner's state and shared helpers (see `WeeklyERStrategy`)."""

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
        self._book = EntryBook()
        self._journaled: dict[str, PlanEntry] = {}
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
        return self._book.plan

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


    # -- statuses -------------------------------------------------------------------------
    def _update(
        self, key: str, status: PlanStatus, note: str | None = None, *,
        quantity: int | None = None, force: bool = False,
    ) -> None:
        """Move an entry forward (see `EntryBook.update`)."""
        if self._book.update(key, status, note, quantity=quantity, force=force):
            self._dirty = True

    def _sync(self, key: str, tracked: dict[str, float] | None = None) -> None:
        e = self._book.entries.get(key)
        if e is None or not e.order_ref:
            return
        rec = self.store.intent(e.order_ref)
        if rec is None:
            return
        held = rec.symbol in (self._tracked() if tracked is None else tracked)
        derived = status_from_intent(rec, held, closing_started=self._closing_started)
        if derived is not None:
            status, note = derived
            if status is PlanStatus.ENTERED and self._closing_started:
                status = PlanStatus.CLOSING
            self._update(key, status, note)

    def _sync_all(self) -> None:
        tracked = self._tracked()
        for key in list(self._book.entries):
            self._sync(key, tracked)


    def _friday_close_at(self) -> datetime:
        assert self._friday is not None
        return self._friday.close_at

    def _set_close(self, phase: FridayPhase, detail: str = "", **changes: Any) -> None:
        assert self._close is not None
        self._close = replace(self._close, phase=phase, detail=detail, **changes)
        self._dirty = True
        self._publish()

    def _warn(self, key: str, message: str, next_steps: str) -> None:
        self.journal.event(EventType.STRATEGY, Severity.HIGH, message)
        self._send_alert(Alert(
            key=key, priority=Severity.HIGH, kind="trading", title=message,
            facts={"next_steps": next_steps}, timestamp=self.clock.now(),
        ))

    # -- plumbing -------------------------------------------------------------------------
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
        for key, e in self._book.entries.items():
            if self._journaled.get(key) == e:
                continue
            self._journaled[key] = e
            severity = (Severity.HIGH if e.status in (PlanStatus.FAILED, PlanStatus.REJECTED,
                                                      PlanStatus.DENIED)
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
        tell(self._on_change, what="strategy", logger=log)

    def _send_alert(self, alert: Alert) -> None:
        tell(self._alert, alert, what=f"alert {alert.key}", logger=log)
