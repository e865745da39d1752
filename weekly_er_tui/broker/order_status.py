"""OrderWatcher: follows each order we sent to its end at IB, and says how it ended.

A fill is the FillRecorder's; this names every other end (cancelled, rejected) in the store,
the journal and, for a rejection, an alert.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from ib_async import Trade

from weekly_er_tui.clock import Clock
from weekly_er_tui.journal import Journal
from weekly_er_tui.model import Alert, EventType, Severity
from weekly_er_tui.risk.gate import OrderIntent
from weekly_er_tui.store import Store

log = logging.getLogger("weekly_er_tui.orders")

DONE_STATES = frozenset({"Filled", "Cancelled", "ApiCancelled", "Inactive"})

AlertSink = Callable[[Alert], None]


class OrderWatcher:
    def __init__(self, store: Store, journal: Journal, clock: Clock,
                 alert: Callable[[Alert], None]) -> None:
        self.store = store
        self.journal = journal
        self.clock = clock
        self._send_alert = alert
        self._watched: set[int] = set()

    def watch(self, trade: Trade, intent: OrderIntent) -> None:
        if id(trade) in self._watched:
            return
        self._watched.add(id(trade))

        def on_status(t: Trade) -> None:
            status = t.orderStatus.status
            if status not in DONE_STATES or status == "Filled":
                return
            self._watched.discard(id(t))
            last = t.log[-1] if t.log else None
            code = last.errorCode if last else 0
            why = last.message if last else status
            rejected = code not in (0, 202)
            self.store.update_intent(intent.order_ref, "REJECTED" if rejected else "CANCELLED",
                                     self.clock.now())
            self.journal.event(
                EventType.ORDER_REJECTED if rejected else EventType.ORDER_CANCELLED,
                Severity.HIGH if rejected else Severity.INFO,
                f"{intent.side} {intent.quantity:g} {intent.symbol} {status}: {why}",
                {"order_ref": intent.order_ref, "order_id": t.order.orderId, "code": code,
                 "filled": t.orderStatus.filled},
            )
            if rejected:
                self._send_alert(Alert(
                    key=f"order_error:{intent.symbol}", priority=Severity.HIGH, kind="trading",
                    title=f"Order rejected by IB: {intent.side} {intent.quantity:g} "
                          f"{intent.symbol}",
                    body=why, facts={"order_ref": intent.order_ref, "code": code},
                ))

        trade.statusEvent += on_status
