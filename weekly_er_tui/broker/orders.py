"""OrderExecutor: the only way an order leaves the app.

Every order passes the pre-trade gate (risk/gate.py), then its intent is recorded in the store
under its orderRef BEFORE it is sent, so a crash or restart never sends it twice. Fills enter
through broker/fills.py (FillRecorder); how each order ends is followed by broker/order_status.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from ib_async import IB, LimitOrder, MarketOrder, Order, Stock, Trade

from weekly_er_tui.clock import ET, Clock
from weekly_er_tui.config import SafetyLimits
from weekly_er_tui.journal import Journal
from weekly_er_tui.listeners import tell
from weekly_er_tui.model import Alert, EventType, Severity, TradingState
from weekly_er_tui.order_life import IntentStatus
from weekly_er_tui.order_refs import action_ref
from weekly_er_tui.risk.gate import (
    GateDecision,
    MarketQuote,
    OrderIntent,
    check_order,
    delayed_cap,
)
from weekly_er_tui.store import Store

from . import resync_orders
from .closing import UnreportedFills, closing_direction, closing_quantity, working_to_close
from .fills import FillRecorder
from .order_results import FlattenResult, SubmitResult, make_intent
from .order_status import DONE_STATES, OrderWatcher
from .portfolio import PortfolioTracker
from .sender import LiveSender, OrderSender, ShadowSender
from .shadow_close import would_be_flatten

log = logging.getLogger("weekly_er_tui.orders")

__all__ = ["FillRecorder", "FlattenResult", "OrderExecutor", "SubmitResult",
           "make_intent"]

MARKETABLE_LIMIT_SLIPPAGE = 0.02  # outside regular hours a close is a limit 2% through the market
SHADOW_NOT_SENT = "SHADOW mode: journaled in logs/shadow_orders.csv, NOT sent"

AlertSink = Callable[[Alert], None]


class OrderExecutor:
    def __init__(
        self,
        ib: IB,
        portfolio: PortfolioTracker,
        store: Store,
        journal: Journal,
        clock: Clock,
        limits: SafetyLimits,
        *,
        trading_state: Callable[[], TradingState],
        market_open: Callable[[], bool],
        closed_until: Callable[[], datetime | None] = lambda: None,
        alert: AlertSink | None = None,
        correlated_groups: Callable[[], Sequence[tuple[str, ...]]] = lambda: (),
        wait_connected: Callable[[], Awaitable[None]] | None = None,
        sender: OrderSender | None = None,
    ) -> None:
        self.ib = ib
        # Every order, cancel and global cancel leaves through it (broker/sender.py); shadow
        # mode's sends nothing.
        self.sender: OrderSender = sender or LiveSender(ib)
        self.portfolio = portfolio
        self.store = store
        self.journal = journal
        self.clock = clock
        self.limits = limits
        self._trading_state = trading_state
        self._market_open = market_open
        # None while IB can fill (the session, its extended hours); else when it next can.
        self._closed_until = closed_until
        self._alert = alert
        self._correlated = correlated_groups
        # Waits until the link is up and resynced (the ConnectionMonitor's); None: no waiting.
        self._wait_connected = wait_connected
        self._recent: deque[tuple[datetime, OrderIntent]] = deque(maxlen=500)
        self._seq = 0
        self._watcher = OrderWatcher(store, journal, clock, self._send_alert, ib=ib)
        self._unreported = UnreportedFills(ib)

    # -- refs ------------------------------------------------------------------------------
    def new_ref(self, reason: str, symbol: str) -> str:
        """A unique orderRef for an action taken now (entries use their own stable refs)."""
        self._seq += 1
        return action_ref(reason, symbol, self.clock.now().astimezone(ET), self._seq)

    # -- submit ----------------------------------------------------------------------------
    def _quote(self, symbol: str) -> MarketQuote | None:
        bid, ask, last = self.portfolio.quote(symbol)
        return MarketQuote(bid, ask, last, delayed=self.portfolio.is_delayed(symbol)) \
            if any(v is not None for v in (bid, ask, last)) else None

    def gate(self, intent: OrderIntent) -> GateDecision:
        quote = self._quote(intent.symbol)
        return check_order(
            intent, self.portfolio.snapshot(), self.limits,
            trading_state=self._trading_state(), quote=quote,
            recent_orders=list(self._recent), now=self.clock.now(),
            correlated_groups=self._correlated(),
        )

    async def submit(self, intent: OrderIntent) -> SubmitResult:
        """Gate, record, send. Never raises for a refusal or a down link: the result says."""
        if intent.reason == "ENTRY" and intent.sector is None:
            # The gate must know a new symbol's sector (contract details, cached) before it
            # accepts an entry; closing orders never wait for it.
            intent = replace(intent, sector=await self.portfolio.sector_of(intent.symbol))
        decision = self.gate(intent)
        if not decision.accepted:
            # DENIED: our own refusal, never sent (a REJECTED is IB's; see order_life.py).
            self.sender.refused(intent, decision)
            why = "; ".join(decision.reasons)
            self.journal.event(
                EventType.ORDER_DENIED, Severity.HIGH,
                f"DENIED by the pre-trade gate, nothing sent: {intent.side} {intent.quantity:g} "
                f"{intent.symbol} ({intent.reason}): {why}",
                {"order_ref": intent.order_ref, "reasons": list(decision.reasons),
                 "checks": list(decision.checks), "status": IntentStatus.DENIED.value},
            )
            self._send_alert(Alert(
                key=f"order_denied:gate:{intent.symbol}", priority=Severity.HIGH, kind="trading",
                title=f"Order DENIED by the safety gate: {intent.side} {intent.quantity:g} "
                      f"{intent.symbol}",
                body=why, facts={"order_ref": intent.order_ref, "reason": intent.reason},
            ))
            return SubmitResult(intent, False, decision, message=why,
                                status=IntentStatus.DENIED)
        cap = delayed_cap(intent, self._quote(intent.symbol), self.limits)
        if cap is not None and intent.reason == "ENTRY":
            # Valued at the collar's edge of a delayed quote: it may fill no higher (lower).
            intent = replace(intent, order_type="LMT", limit_price=round(cap, 2))
        if not self.store.record_intent(
            intent.order_ref, intent.symbol, intent.side, intent.quantity, intent.order_type,
            intent.reason, self.clock.now(), limit_price=intent.limit_price,
            details=self._entry_details(intent),
        ):
            msg = f"orderRef {intent.order_ref} is already recorded: not sent again"
            log.warning(msg)
            return SubmitResult(intent, False, decision, message=msg)
        if intent.reason == "ENTRY" and not (self.store.durable and self.journal.durable):
            # At most once needs the intent on disk before the order leaves: a close goes out
            # anyway (a restart re-reads the account), a new entry does not.
            msg = "records cannot be written to disk: entry refused, NOT sent"
            self.store.update_intent(intent.order_ref, IntentStatus.UNSENT, self.clock.now())
            self.journal.event(
                EventType.ORDER_REJECTED, Severity.HIGH,
                f"{intent.side} {intent.quantity:g} {intent.symbol}: {msg}",
                {"order_ref": intent.order_ref, "reason": intent.reason},
            )
            return SubmitResult(intent, False, decision, message=msg)
        if not self.ib.isConnected():
            msg = "not connected: intent recorded, order NOT sent"
            self.store.update_intent(intent.order_ref, IntentStatus.UNSENT, self.clock.now())
            self.journal.event(
                EventType.ORDER_ERROR, Severity.HIGH,
                f"{intent.side} {intent.quantity:g} {intent.symbol}: {msg}",
                {"order_ref": intent.order_ref},
            )
            return SubmitResult(intent, False, decision, message=msg)
        trade = self.sender.place(intent, decision, self._contract(intent.symbol),
                                  self._order(intent))
        if trade is None:  # shadow mode: journaled and booked as a would-be fill, not sent
            self._recent.append((self.clock.now(), intent))
            return SubmitResult(intent, False, decision, message=SHADOW_NOT_SENT,
                                status=IntentStatus.FILLED)
        order_id = trade.order.orderId
        self._recent.append((self.clock.now(), intent))
        self.store.update_intent(intent.order_ref, IntentStatus.SUBMITTED, self.clock.now(),
                                 order_id=order_id)
        self.journal.event(
            EventType.ORDER_SUBMITTED, Severity.INFO,
            f"{intent.side} {intent.quantity:g} {intent.symbol} {intent.order_type}"
            + (f" @ {intent.limit_price:.2f}" if intent.limit_price else "")
            + f" (orderRef {intent.order_ref}, {intent.reason})"
            + (" priced on a DELAYED quote" if self.portfolio.is_delayed(intent.symbol) else ""),
            {"order_ref": intent.order_ref, "order_id": order_id, "reason": intent.reason},
        )
        self._watch(trade, intent)
        return SubmitResult(intent, True, decision, order_id=order_id, trade=trade)

    def _entry_details(self, intent: OrderIntent) -> dict[str, Any] | None:
        """An entry remembers what the account held in its symbol before it (the trader's own),
        so the Friday close can leave that holding as it was (broker/closing.py)."""
        if intent.reason != "ENTRY":
            return None
        return {"held_before": self.open_positions([intent.symbol]).get(intent.symbol, 0.0)}

    def _contract(self, symbol: str) -> Stock:
        return Stock(symbol, "SMART", "USD")

    def _order(self, intent: OrderIntent) -> Order:
        order: Order
        if intent.order_type == "LMT":
            assert intent.limit_price is not None
            order = LimitOrder(intent.side, intent.quantity, round(intent.limit_price, 2))
        elif intent.order_type == "MOC":
            order = Order(action=intent.side, totalQuantity=intent.quantity, orderType="MOC")
        else:
            order = MarketOrder(intent.side, intent.quantity)
        order.orderRef = intent.order_ref
        order.tif = "DAY"
        if intent.order_type == "LMT" and not self._market_open():
            order.outsideRth = True
        return order

    def _watch(self, trade: Trade, intent: OrderIntent) -> None:
        self._watcher.watch(trade, intent)

    # -- the resync of open orders (broker/resync_orders.py) --------------------------------
    async def foreign_working_orders(self) -> list[str]:
        """Working orders with this app's orderRefs that this data directory never recorded,
        placed by another clientId (another engine, or lost records)."""
        return await resync_orders.foreign_working_orders(self.ib, self.store)

    async def reconcile(self, ib: IB) -> dict[str, Any]:
        """The connection monitor's resync hook: match recorded intents with IB by orderRef
        and adopt our orders still working, before anything new is decided."""
        return await resync_orders.reconcile(ib, self.store, self.journal, self.clock,
                                             self._watch)

    # -- waiting ---------------------------------------------------------------------------
    async def wait_done(self, trades: Iterable[Trade], timeout: float) -> bool:
        """Wait (real seconds) until every trade is in a done state, or the link drops.
        True when every trade is done."""
        pending = [t for t in trades if t.orderStatus.status not in DONE_STATES]
        if not pending:
            return True
        done = asyncio.Event()

        def check(_: Any = None) -> None:
            if all(t.orderStatus.status in DONE_STATES for t in pending):
                done.set()

        def lost() -> None:
            # ib_async forgets these trades with the connection: they will never update.
            done.set()

        for t in pending:
            t.statusEvent += check
        self.ib.disconnectedEvent += lost
        try:
            check()
            async with asyncio.timeout(timeout):
                await done.wait()
            return all(t.orderStatus.status in DONE_STATES for t in pending)
        except TimeoutError:
            return False
        finally:
            for t in pending:
                t.statusEvent -= check
            self.ib.disconnectedEvent -= lost

    async def _wait_for(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Wait until `predicate()` holds, re-checked on every order or position message."""
        if predicate():
            return True
        changed = asyncio.Event()

        def poke(*_: Any) -> None:
            changed.set()

        events = (self.ib.orderStatusEvent, self.ib.positionEvent, self.ib.openOrderEvent,
                  self.ib.updatePortfolioEvent, self.ib.execDetailsEvent)
        for ev in events:
            ev += poke
        try:
            async with asyncio.timeout(timeout):
                while not predicate():
                    changed.clear()
                    await changed.wait()
            return True
        except TimeoutError:
            return predicate()
        finally:
            for ev in events:
                ev -= poke

    # -- cancel and flatten ----------------------------------------------------------------
    def open_positions(self, symbols: Iterable[str] | None = None) -> dict[str, float]:
        wanted = set(symbols) if symbols is not None else None
        out: dict[str, float] = {}
        for p in self.ib.positions(self.portfolio.account):
            if p.position != 0 and (wanted is None or p.contract.symbol in wanted):
                out[p.contract.symbol] = float(p.position)
        return out

    def working_orders(self, symbols: Iterable[str] | None = None) -> list[Trade]:
        wanted = set(symbols) if symbols is not None else None
        return [t for t in self.ib.openTrades()
                if wanted is None or t.contract.symbol in wanted]

    async def cancel_all(self, timeout: float = 10.0) -> bool:
        """reqGlobalCancel (bracket children left working are a known trap), then wait."""
        self.sender.cancel_all(len(self.ib.openTrades()))
        return await self._wait_for(lambda: not self.ib.openTrades(), timeout)

    async def cancel_orders(self, trades: Sequence[Trade], timeout: float = 10.0) -> bool:
        for t in trades:
            if t.orderStatus.status not in DONE_STATES:
                self.sender.cancel(t)
        return await self.wait_done(trades, timeout)

    def closing_intent(self, symbol: str, quantity: float, reason: str) -> OrderIntent:
        """An order that reduces a position of `quantity` (signed) by |quantity|."""
        side = "SELL" if quantity > 0 else "BUY"
        qty = abs(quantity)
        if self._market_open():
            return make_intent(symbol, side, qty, "MKT", None, self.new_ref(reason, symbol), reason)
        bid, ask, last = self.portfolio.quote(symbol)
        ref_price = (bid if side == "SELL" else ask) or last or self.portfolio.price(symbol)
        price = (ref_price or 0.0) * (1 - MARKETABLE_LIMIT_SLIPPAGE if side == "SELL"
                                      else 1 + MARKETABLE_LIMIT_SLIPPAGE)
        return make_intent(symbol, side, qty, "LMT", round(price, 2),
                           self.new_ref(reason, symbol), reason)

    # -- the never-oversell rule -----------------------------------------------------------
    def _recorded(self, trade: Trade) -> bool:
        ref = trade.order.orderRef
        return bool(ref) and self.store.intent(ref) is not None

    def unbooked(self, symbol: str) -> float:
        """Signed fills of our own orders in `symbol` that ib_async has and the strategy's book
        (the store's tracked positions, counted at execDetails) has not yet: none, unless the
        FillRecorder has not seen an execution ib_async holds."""
        total = 0.0
        for f in self.ib.fills():
            ex = f.execution
            if (f.contract.symbol != symbol or not ex.orderRef
                    or self.store.execution(ex.execId) is not None
                    or self.store.intent(ex.orderRef) is None):
                continue
            total += float(ex.shares) if ex.side.upper() in ("BOT", "BUY") else -float(ex.shares)
        return total

    def settling(self) -> set[str]:
        """Symbols whose fills IB's position stream has not reported yet (their position at IB
        is not the account's yet: judged once it has caught up)."""
        return self._unreported.settling()

    def held_before(self, symbol: str) -> float:
        """What the account held in `symbol` before the strategy's entry (the trader's own),
        as recorded with the entry's intent; 0 when unknown."""
        tracked = self.store.tracked_positions().get(symbol)
        rec = self.store.intent(tracked.order_ref) if tracked is not None else None
        value = rec.details.get("held_before", 0.0) if rec is not None else 0.0
        return float(value) if isinstance(value, int | float) else 0.0

    def owned_open(self, owned: Mapping[str, float]) -> dict[str, float]:
        """Of the caller's own quantities (the strategy's book), what is still held at IB, per
        symbol (signed like the book): never more than the position's part that is not the
        trader's own. In shadow mode: the would-be book itself (nothing is held at IB)."""
        if isinstance(self.sender, ShadowSender):
            return {s: q for s, q in owned.items() if q}
        positions = self.open_positions(owned)
        out: dict[str, float] = {}
        for symbol, mine in owned.items():
            book = mine + self.unbooked(symbol)
            left = closing_quantity(positions.get(symbol, 0.0), 0.0, self._unreported.of(symbol),
                                    book, self.held_before(symbol))
            if left > 0:
                out[symbol] = left * closing_direction(0.0, book)
        return out

    def closable(self, symbol: str, position: float, owned: float | None = None
                 ) -> tuple[float, float, list[Trade]]:
        """How many shares a new closing order for `symbol` may be for (>= 0), which way (+1
        sell, -1 buy), and the working orders that already close it. Never more than the
        position (with `owned`, the strategy's part of it), minus what is working to close it,
        minus what has filled and IB's position stream has not reported yet."""
        unreported = self._unreported.of(symbol)
        book = None if owned is None else owned + self.unbooked(symbol)
        direction = closing_direction(position + unreported, book)
        working, found = working_to_close(self.ib.openTrades(), symbol, direction)
        qty = closing_quantity(position, working, unreported, book,
                               self.held_before(symbol) if owned is not None else 0.0)
        return qty, direction, found

    async def flatten(
        self,
        reason: str = "EMERGENCY",
        symbols: Iterable[str] | None = None,
        *,
        owned: Callable[[], Mapping[str, float]] | None = None,
        attempts: int = 3,
        order_timeout: float = 30.0,
        cancel_first: bool = True,
        reconnect_timeout: float = 120.0,
        why: str = "",
    ) -> FlattenResult:
        """Cancel working orders, close every position (or `symbols`), follow each order to its
        end, retry what did not fill, and verify: flat and no working orders.

        Every closing order obeys the never-oversell rule (`closable`): orders already working
        to close a symbol (an earlier close, or one adopted after a restart) are waited for, not
        sent again. `owned()` (the strategy's book, read at every attempt) limits the close to
        the caller's own quantities: the trader's own shares in the same symbols stay.

        A disconnect does not stall it: ib_async drops its order objects with the connection,
        so waiting on them would sit out the timeout. The close waits for the reconnect (up to
        `reconnect_timeout` real seconds), cancels whatever of its orders is still working at IB
        (so nothing is sold twice), re-reads the positions and closes what is left. An attempt
        cut short by a disconnect does not count against `attempts`. In shadow mode it only
        journals what it would have closed (broker/shadow_close.py)."""
        if isinstance(self.sender, ShadowSender):
            return await would_be_flatten(self, self.sender, reason, symbols, owned=owned, why=why,
                                          cancel_first=cancel_first,
                                          reconnect_timeout=reconnect_timeout)
        t0 = time.monotonic()
        scope = list(symbols) if symbols is not None else None
        if owned is not None:
            scope = sorted(set(scope or ()) | set(owned()))
        failed: dict[str, str] = {}

        def left() -> dict[str, float]:
            if owned is None:
                return self.open_positions(scope)
            mine = owned()
            return self.owned_open({s: mine.get(s, 0.0) for s in scope or ()})

        if not await self._link_up(reconnect_timeout):
            remaining = left()
            return self._result(set(remaining), remaining, {
                s: "not connected: nothing could be sent" for s in remaining}, scope, t0)
        initial = set(left())
        if cancel_first:
            if scope is None:
                await self.cancel_all()
            else:
                # A close of the strategy's part leaves the trader's own working orders alone.
                await self.cancel_orders([t for t in self.working_orders(scope)
                                          if owned is None or self._recorded(t)])
        if initial and (why := self._nothing_fills(reason, sorted(initial))):
            return self._result(initial, left(), dict.fromkeys(initial, why), scope, t0)
        attempt = interruptions = 0
        while attempt < attempts and interruptions <= attempts:
            if not self.ib.isConnected():
                if not await self._link_up(reconnect_timeout):
                    break
                # Orders sent before the drop may still be working: cancel, then re-read.
                await self.cancel_orders([t for t in self.working_orders(scope)
                                          if owned is None or self._recorded(t)])
            targets = left()
            if not targets:
                break
            attempt += 1
            positions = self.open_positions(targets)
            mine = owned() if owned is not None else None
            trades: list[Trade] = []
            for symbol in targets:
                qty, direction, working = self.closable(
                    symbol, positions.get(symbol, 0.0),
                    None if mine is None else mine.get(symbol, 0.0))
                trades += working  # an earlier close still working: followed, not re-sent
                log.info("close %s (%s, attempt %d): position %g, not yet reported %g, "
                         "working %s: send %g", symbol, reason, attempt,
                         positions.get(symbol, 0.0), self._unreported.of(symbol),
                         [t.order.orderRef for t in working], qty)
                if qty <= 0:
                    continue
                result = await self.submit(self.closing_intent(symbol, qty * direction, reason))
                if result.trade is not None:
                    trades.append(result.trade)
                else:
                    failed[symbol] = f"attempt {attempt}: {result.message}"
            await self.wait_done(trades, order_timeout)
            if not self.ib.isConnected():
                interruptions += 1
                attempt -= 1
                for t in trades:
                    failed[t.contract.symbol] = f"attempt {attempt + 1}: connection lost"
                continue
            for t in trades:
                status = t.orderStatus.status
                if status == "Filled":
                    failed.pop(t.contract.symbol, None)
                elif status in DONE_STATES:
                    why = t.log[-1].message if t.log else status
                    failed[t.contract.symbol] = f"attempt {attempt}: {status}: {why}"
                else:
                    failed[t.contract.symbol] = f"attempt {attempt}: still {status}"
                    with contextlib.suppress(Exception):
                        self.sender.cancel(t)
            unfinished = [t for t in trades if t.orderStatus.status not in DONE_STATES]
            if unfinished:
                await self.wait_done(unfinished, 5.0)
            # Wait for IB's position messages to catch up with every fill in the targets (this
            # attempt's, an earlier close's, one filled by its status alone): re-read before,
            # the positions would show shares already sold and the close run out its attempts
            # on them, ending with a false "NOT flat".
            def caught_up(symbols: tuple[str, ...] = tuple(targets)) -> bool:
                return all(not self._unreported.of(s) for s in symbols)

            await self._wait_for(caught_up, 5.0)
        remaining = left()
        return self._result(initial, remaining, failed, scope, t0)

    def _nothing_fills(self, reason: str, symbols: list[str]) -> str:
        """Outside extended hours (04:00-20:00 ET on trading days) IB fills nothing, not even
        an outsideRth limit (notes row 10): say so, and when it fills again, rather than send
        orders that cannot fill. "" when it can fill now."""
        reopens = self._closed_until()
        if reopens is None:
            return ""
        when = f"{reopens.astimezone(ET):%a %Y-%m-%d %H:%M} ET"
        why = (f"IB fills nothing outside extended hours (04:00-20:00 ET on trading days): no "
               f"closing order sent; IB fills again from {when}")
        self.journal.event(EventType.ORDER_ERROR, Severity.HIGH,
                           f"{reason}: {', '.join(symbols)} not closed: {why}",
                           {"reason": reason, "symbols": symbols, "reopens": reopens.isoformat()})
        self._send_alert(Alert(
            key="closed_outside_extended_hours", priority=Severity.HIGH, kind="trading",
            title=f"Nothing closed ({reason}): IB fills nothing outside extended hours "
                  f"until {when}",
            body=f"{', '.join(symbols)} are still open. {why}. Flatten again then, or place "
                 "the orders in TWS to work from the pre-market.",
            facts={"reason": reason, "reopens": reopens.isoformat()}))
        return why

    async def _link_up(self, timeout: float) -> bool:
        """True once connected and resynced (waiting up to `timeout` real seconds for it)."""
        if self.ib.isConnected() and self._wait_connected is None:
            return True
        if self._wait_connected is None:
            return False
        try:
            async with asyncio.timeout(timeout):
                await self._wait_connected()
        except TimeoutError:
            return False
        return self.ib.isConnected()

    def _result(self, initial: set[str], remaining: dict[str, float], failed: dict[str, str],
                scope: list[str] | None, t0: float) -> FlattenResult:
        for symbol in remaining:
            failed.setdefault(symbol, "still open after all attempts")
        return FlattenResult(
            closed=tuple(sorted(initial - set(remaining))),
            failed=tuple(sorted((s, r) for s, r in failed.items() if s in remaining)),
            remaining=tuple(sorted(remaining)),
            working_orders=len(self.working_orders(scope)) if self.ib.isConnected() else 0,
            seconds=time.monotonic() - t0,
        )

    def _send_alert(self, alert: Alert) -> None:
        tell(self._alert, alert, what=f"alert {alert.key}", logger=log)
