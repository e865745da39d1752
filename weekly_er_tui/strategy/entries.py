"""The week's plan and its entries, as the strategy runner sends them (see `weekly_er.py`).

- At an entry's planned instant the runner asks the strategy (`on_time`) what to send and sends
  it through `executor.submit` with the entry's deterministic orderRef. An orderRef already
  recorded in the store is never sent again: the entry takes its status from the recorded intent.
- An entry is "due" from its planned instant until its deadline: `ENTRY_MARGIN` (5 min) before
  the close of its session, and never after the Friday close starts. While it is due and trading
  is not ACTIVE (PAUSED: no new entries; REDUCING, HALTED: none), the link is down, or there is
  no price, it waits: re-checked every `RETRY_SECONDS` of the Clock and at once when the link
  returns. Resumed in time, the entry goes late (sized at the then-current price) and its note
  says so; at the deadline it is SKIPPED with the reason it waited for.
- A refusal by the pre-trade gate makes the entry DENIED (REJECTED is IB's refusal), with the
  gate's reason as the note (the executor journals and alerts it). An intent recorded but
  never sent (the link dropped at that moment) makes it FAILED: recorded orders are never
  re-sent automatically.
- Restart in the middle of the week: entries with a recorded intent keep the intent's status
  (ENTERING, ENTERED, CLOSED, ...). An entry whose time passed with no recorded intent is still
  sent if it is before its deadline (same session, before the Friday close), since the position
  is still held through the report; after its deadline it is SKIPPED ("entry time passed while
  the app was not running").

"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta

from weekly_er_tui.broker.orders import make_intent
from weekly_er_tui.clock import ET
from weekly_er_tui.model import EventType, PlanEntry, PlanStatus, Severity, TradingState
from weekly_er_tui.risk.gate import REASONS
from weekly_er_tui.strategy.base import OrderIntentProposal, StrategyContext
from weekly_er_tui.strategy.book import FINAL, RANK
from weekly_er_tui.strategy.plan import FridayClose, entry_session_of, plan_symbols
from weekly_er_tui.strategy.runner_state import (
    ENTRY_MARGIN,
    RETRY_SECONDS,
    RunnerState,
    log,
)
from weekly_er_tui.strategy.sizing import NO_PRICE_YET

HISTORY_TIMEOUT = 30.0  # real seconds: daily bars come over the network
WATCH_TIMEOUT = 10.0  # real seconds: subscribing market data for the plan's symbols


def _valid(price: float | None) -> float | None:
    return price if price is not None and math.isfinite(price) and price > 0 else None


class EntryRunner(RunnerState):
    """Plans the week and sends its entries at their instants."""

    # -- the plan -------------------------------------------------------------------------
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
        old = dict(self._book.entries)
        entries: dict[str, PlanEntry] = {}
        for e in fresh:
            key = e.order_ref or f"{e.symbol}-{e.report_date}"
            prev = old.get(key)
            if prev is not None and prev.status is not PlanStatus.PLANNED:
                entries[key] = prev  # already under way: keep it as it is
            else:
                entries[key] = e if e.order_ref else replace(e, order_ref=key)
                self._book.base_notes[key] = e.note
        for key, prev in old.items():
            if key not in entries and RANK.get(prev.status, FINAL) >= 1:
                entries[key] = prev  # dropped from the calendar but already sent: still shown
        self._book.entries = dict(sorted(entries.items(), key=lambda kv: kv[1].planned_entry))
        self._dirty = True
        self._sync_all()
        now = self.clock.now()
        for key, e in self._book.entries.items():
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
        if self._book.blocked.get(key) == why:
            return
        self._book.blocked[key] = why
        e = self._book.entries[key]
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
        for key, e in self._book.entries.items():
            if e.status is not PlanStatus.PLANNED or now < e.planned_entry:
                continue
            deadline = self._deadline(e)
            if now >= deadline:
                why = self._book.blocked.pop(key, "")
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
            e = self._book.entries[key]
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
        e = self._book.entries.get(key)
        if e is not None:
            now = self.clock.now()
            waited = self._book.blocked.pop(key, "")
            late = ""
            if (now - e.planned_entry).total_seconds() > RETRY_SECONDS / 2:
                late = (f"sent {now.astimezone(ET):%H:%M} ET, after the planned "
                        f"{e.planned_entry.astimezone(ET):%H:%M}"
                        + (f" ({waited})" if waited else ""))
            # Sized now at a price: the plan's "no price yet" is no longer true.
            base = self._book.base_notes.get(key, "")
            base = self._book.base_notes[key] = "; ".join(
                n for n in base.split("; ") if n and n != NO_PRICE_YET)
            if p.note and p.note != base:
                late = "; ".join(n for n in (late, p.note) if n)
            self._book.sent_notes[key] = late
            self._update(key, PlanStatus.ENTERING, "", quantity=p.quantity)
            self._publish()
        result = await self.executor.submit(intent)
        if result.sent:
            self._sync(key)
        elif result.decision is not None and not result.decision.accepted:
            # The executor journaled the refusal and alerted it.
            self._update(key, PlanStatus.DENIED,
                         f"refused by the pre-trade gate: {result.message}")
        elif self.store.intent(key) is not None:
            self._sync(key)
        else:
            self._update(key, PlanStatus.FAILED, result.message or "not sent")

    def _next_wake(self, now: datetime, friday: FridayClose) -> tuple[datetime, bool]:
        """The next instant the entry loop must look again, and whether a returning link should
        wake it earlier (an entry is due and waits for the connection)."""
        times = [friday.close_at]
        waiting = False
        for e in self._book.entries.values():
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
