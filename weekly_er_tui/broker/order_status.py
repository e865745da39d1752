"""OrderWatcher: follows each order we sent to its end at IB, and names how it ended.

A fill is the FillRecorder's. Every other end is one of two words, in the store, the journal
and (for a rejection) an alert:
- REJECTED: IB refused or ended the order: error 201 with or without an `Inactive` status (in
  either order: the reason is waited for up to REASON_GRACE), 321 on an order IB never took (a
  read-only API: CRITICAL, with the fix), a 202 that carries IB's own reason (a price check)
  rather than a cancel we asked for, and any other error that ends it. HIGH, IB's reason named.
- CANCELLED: a cancel we asked for, the trader's in TWS, another client's, or IB's expiry of a
  DAY order. INFO.

Error 161 ("Cancel attempted when order is not in a cancellable state": the order filled, or
ended, before our cancel reached IB, or is a MOC past its cutoff) is no end, though ib_async
marks the order Cancelled on it: the order is put back as it was and its real end names it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ib_async import IB, OrderStatus, Trade, TradeLogEntry

from weekly_er_tui.clock import Clock
from weekly_er_tui.journal import Journal
from weekly_er_tui.model import Alert, EventType, Severity
from weekly_er_tui.order_life import IllegalTransition, IntentStatus
from weekly_er_tui.risk.gate import OrderIntent
from weekly_er_tui.store import Store

log = logging.getLogger("weekly_er_tui.orders")

# IB's end states: ib_async's own set, under the one name the rest of the app uses.
DONE_STATES = OrderStatus.DoneStates
CANCELLED_STATES = frozenset({OrderStatus.Cancelled, OrderStatus.ApiCancelled})

# Real seconds to wait for IB's reason when an order's end arrives without it (an Inactive
# before its 201, a Cancelled before its 202): both come within milliseconds of each other.
REASON_GRACE = 1.0

READ_ONLY_FIX = ('In TWS or IB Gateway: Global Configuration > API > Settings, uncheck '
                 '"Read-Only API" and press Apply. Until then IB refuses every order with '
                 'error 321.')

# TWS's precautionary settings (notes row 19) apply to API orders unless bypassed: error 451
# naming the constraint. A large emergency close can be stopped this way.
PRECAUTIONS_FIX = ('In TWS or IB Gateway: Global Configuration > API > Precautions, check '
                   '"Bypass Order Precautions for API Orders" and press Apply (or widen the '
                   'limit in Global Configuration > Presets). Until then TWS refuses every API '
                   'order past its presets with error 451.')

AlertSink = Callable[[Alert], None]

_ACKNOWLEDGED = frozenset({"PreSubmitted", "Submitted", "PendingCancel", "Filled"})
NOT_CANCELLABLE = 161  # IB's answer to a cancel of an order that is past cancelling


def ibs_reason(message: str) -> str:
    """What IB wrote after "reason:" in a 201/202 ("" when nothing: a plain cancel)."""
    _, sep, rest = message.partition("reason:")
    return rest.strip() if sep else message.strip()


def _bare(message: str) -> str:
    """ib_async's log text without its "Error 202, reqId 5: " prefix."""
    head, sep, rest = message.partition(": ")
    return rest if sep and head.startswith(("Error ", "Warning ")) else message


@dataclass(slots=True)
class _Watch:
    trade: Trade
    intent: OrderIntent
    handler: Callable[[Trade], None]
    timer: asyncio.TimerHandle | None = None
    error: tuple[int, str] | None = None
    done: bool = False
    notes: list[str] = field(default_factory=list)


class OrderWatcher:
    def __init__(self, store: Store, journal: Journal, clock: Clock,
                 alert: Callable[[Alert], None], ib: IB | None = None) -> None:
        self.store = store
        self.journal = journal
        self.clock = clock
        self._send_alert = alert
        self._watched: dict[int, _Watch] = {}  # by orderId (what IB's errors carry)
        if ib is not None:
            ib.errorEvent += self._on_error

    def watch(self, trade: Trade, intent: OrderIntent) -> None:
        order_id = trade.order.orderId
        if order_id in self._watched:
            return
        w = _Watch(trade, intent, lambda t: self._on_status(w))
        self._watched[order_id] = w
        trade.statusEvent += w.handler
        self._on_status(w)  # a trade adopted at a resync may have ended already

    # -- what IB says ------------------------------------------------------------------------
    def _on_status(self, w: _Watch) -> None:
        if w.done:
            return
        t = w.trade
        status = t.orderStatus.status
        last = t.log[-1] if t.log else None
        code = last.errorCode if last else 0
        text = _bare(last.message) if last else status
        if status == "Filled":
            self._forget(w)  # the FillRecorder names it
        elif status == "ValidationError" and code == 321 and not self._acknowledged(t):
            self._finish(w, IntentStatus.REJECTED, 321, text)
        elif status == "Inactive":
            if w.error is not None:
                self._finish(w, IntentStatus.REJECTED, *w.error)
            else:
                self._wait_for_reason(w, "Inactive: IB did not accept the order")
        elif status in CANCELLED_STATES:
            if code == NOT_CANCELLABLE:
                self._not_cancellable(w, text)
            elif code == 202:
                self._cancelled_with_202(w, text)
            elif code:
                # ib_async ends the order on an error (201 and the like); an Inactive may follow.
                w.error = (code, text)
                self._finish(w, IntentStatus.REJECTED, code, text)
            elif self._we_asked(t):
                self._finish(w, IntentStatus.CANCELLED, 0, "cancelled as asked")
            else:
                self._wait_for_reason(w, "cancelled by IB or in TWS (not by this app)")

    def _on_error(self, req_id: int, code: int, text: str, contract: Any) -> None:
        w = self._watched.get(req_id)
        if w is None or w.done or code == NOT_CANCELLABLE:
            return
        if code == 202:
            self._cancelled_with_202(w, text)
        elif code == 321 and not self._acknowledged(w.trade):
            self._finish(w, IntentStatus.REJECTED, code, text)
        elif w.timer is not None and not 2100 <= code < 2200:
            # The reason for an end that came first (an Inactive before its 201).
            self._finish(w, IntentStatus.REJECTED, code, text)
        else:
            w.error = (code, text)

    def _cancelled_with_202(self, w: _Watch, text: str) -> None:
        reason = ibs_reason(text)
        if reason and not self._we_asked(w.trade):
            self._finish(w, IntentStatus.REJECTED, 202, text)  # IB's own check, not a cancel
        else:
            self._finish(w, IntentStatus.CANCELLED, 202,
                         "cancelled as asked" if self._we_asked(w.trade) else
                         "cancelled (not by this app: in TWS, by another client or by IB)")

    @staticmethod
    def _we_asked(t: Trade) -> bool:
        return any(e.status == "PendingCancel" for e in t.log)

    @staticmethod
    def _acknowledged(t: Trade) -> bool:
        return any(e.status in _ACKNOWLEDGED for e in t.log)

    def _wait_for_reason(self, w: _Watch, fallback: str) -> None:
        if w.timer is not None:
            return
        status = IntentStatus.REJECTED if w.trade.orderStatus.status == "Inactive" else \
            IntentStatus.CANCELLED
        w.timer = asyncio.get_running_loop().call_later(
            REASON_GRACE, lambda: self._finish(w, status, 0, fallback))

    def _not_cancellable(self, w: _Watch, text: str) -> None:
        """A 161: the cancel came too late (the order filled or ended first, its reports may
        still be on the way) or the order may not be cancelled (a MOC after 15:50). Not an end:
        the trade goes back to its status before ib_async's Cancelled, so nothing takes it for
        done (a close would send again), and its real end follows."""
        t = w.trade
        before = next((e.status for e in reversed(t.log[:-1])
                       if e.status not in CANCELLED_STATES), "PendingCancel")
        t.orderStatus.status = before
        t.log.append(TradeLogEntry(self.clock.now(), before, "cancel refused by IB (161)", 0))
        i = w.intent
        self.journal.event(
            EventType.ORDER_ERROR, Severity.INFO,
            f"{i.side} {i.quantity:g} {i.symbol}: IB refused the cancel (error 161), the order "
            f"is past cancelling (filled, ended, or a MOC/LOC after its cutoff); its end "
            f"follows: {text}", {"order_ref": i.order_ref, "code": NOT_CANCELLABLE})

    def _mark_inactive(self, t: Trade, code: int, why: str) -> None:
        """ib_async keeps an order that got 321 "working" (ValidationError) for ever, as if IB
        might still take it; IB never took it. Say so on the trade, so nothing waits on it or
        counts it as working (a close would otherwise hold back what it may send)."""
        t.orderStatus.status = OrderStatus.Inactive
        t.log.append(TradeLogEntry(self.clock.now(), OrderStatus.Inactive, why, code))
        t.statusEvent.emit(t)

    # -- naming the end ----------------------------------------------------------------------
    def _forget(self, w: _Watch) -> None:
        w.done = True
        if w.timer is not None:
            w.timer.cancel()
        w.trade.statusEvent -= w.handler
        self._watched.pop(w.trade.order.orderId, None)

    def _finish(self, w: _Watch, status: IntentStatus, code: int, why: str) -> None:
        if w.done:
            return
        self._forget(w)
        intent, t = w.intent, w.trade
        if t.orderStatus.status == "ValidationError":
            self._mark_inactive(t, code, why)
        current = self.store.intent(intent.order_ref)
        if current is not None and current.is_open:
            try:
                self.store.update_intent(intent.order_ref, status, self.clock.now())
            except IllegalTransition:
                log.exception("order %s: its end could not be recorded", intent.order_ref)
        rejected = status is IntentStatus.REJECTED
        read_only = code == 321 and "read-only" in why.lower()
        precautions = rejected and "Precautionary Settings" in why
        severity = Severity.CRITICAL if read_only or precautions else (
            Severity.HIGH if rejected else Severity.INFO)
        what = f"{intent.side} {intent.quantity:g} {intent.symbol}"
        filled = float(t.orderStatus.filled or 0)
        if filled > 0:  # what filled is what the account holds now: said, not only the end
            what += f" ({filled:g} filled @ {t.orderStatus.avgFillPrice:.2f})"
        if precautions:
            message = (f"{what} REJECTED by TWS's precautionary settings (error {code}): "
                       f"{why} {PRECAUTIONS_FIX}")
        elif rejected:
            message = f"{what} REJECTED by IB (error {code}): {why}" if code else \
                f"{what} REJECTED by IB: {why}"
        else:
            message = f"{what} CANCELLED: {why}"
        if read_only:
            message += f". {READ_ONLY_FIX}"
        self.journal.event(
            EventType.ORDER_REJECTED if rejected else EventType.ORDER_CANCELLED, severity,
            message,
            {"order_ref": intent.order_ref, "order_id": t.order.orderId, "code": code,
             "status": status.value, "ib_status": t.orderStatus.status,
             "filled": t.orderStatus.filled, "reason": ibs_reason(why)},
        )
        if precautions:
            self._send_alert(Alert(
                key="tws_precautions", priority=Severity.CRITICAL, kind="trading",
                title=f"TWS's Precautionary Settings refused {what}: check \"Bypass Order "
                      "Precautions for API Orders\"",
                body=f"{why}\n{PRECAUTIONS_FIX}",
                facts={"order_ref": intent.order_ref, "code": code},
            ))
        elif read_only:
            self._send_alert(Alert(
                key="read_only_api", priority=Severity.CRITICAL, kind="trading",
                title="IB's API is in Read-Only mode: no order can be placed",
                body=f"{what} was refused: {why}\n{READ_ONLY_FIX}",
                facts={"order_ref": intent.order_ref, "code": code},
            ))
        elif rejected:
            self._send_alert(Alert(
                key=f"order_error:{intent.symbol}", priority=Severity.HIGH, kind="trading",
                title=f"Order rejected by IB: {what}", body=why,
                facts={"order_ref": intent.order_ref, "code": code},
            ))
