"""The one seam where an order, a cancel or a global cancel leaves for IB.

The executor (broker/orders.py) is the only caller, and every path that places, cancels or
modifies an order goes through it: the strategy's entries, the closer (the emergency stop, the
daily-loss reduction, the Friday close and its backup, the trader's flatten), `flatten --yes`.
Nothing else in the app calls ib_async's placeOrder, cancelOrder or reqGlobalCancel (a test
reads the source to keep it so).

- `LiveSender` sends.
- `ShadowSender` (shadow mode) sends nothing: it writes each order to logs/shadow_orders.csv
  with the gate's verdict and the price it would likely have got, and books it as a would-be
  fill at that price in the shadow engine's own state database (the would-be book the Friday
  close then closes). A would-be fill never reaches trade_journal.csv, the live state database
  or the strategy's listeners as a fill.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from ib_async import IB, Contract, Order, Trade

from weekly_er_tui.clock import Clock
from weekly_er_tui.order_life import ExecutionRecord
from weekly_er_tui.risk.gate import GateDecision, OrderIntent
from weekly_er_tui.shadow.journal import ACCEPTED, DENIED, ShadowJournal, likely_price
from weekly_er_tui.store import Store

if TYPE_CHECKING:
    from .portfolio import PortfolioTracker

log = logging.getLogger("weekly_er_tui.orders")

SHADOW_EXEC_PREFIX = "shadow:"  # the execId of a would-be fill: never one of IB's


class OrderSender(Protocol):
    """What the executor sends through. `live` False: nothing reaches IB."""

    live: bool

    def place(self, intent: OrderIntent, decision: GateDecision, contract: Contract,
              order: Order) -> Trade | None:
        """Send an order the gate accepted (its intent recorded); None when nothing was sent."""
        ...

    def refused(self, intent: OrderIntent, decision: GateDecision) -> None:
        """The gate refused `intent`: nothing is sent (the executor journals and alerts it)."""
        ...

    def cancel(self, trade: Trade) -> None: ...

    def cancel_all(self, working: int) -> None:
        """IB's global cancel (`working`: the orders working as far as this app knows)."""
        ...


class LiveSender:
    """Sends to IB."""

    live = True

    def __init__(self, ib: IB) -> None:
        self.ib = ib

    def place(self, intent: OrderIntent, decision: GateDecision, contract: Contract,
              order: Order) -> Trade | None:
        return self.ib.placeOrder(contract, order)

    def refused(self, intent: OrderIntent, decision: GateDecision) -> None:
        return None

    def cancel(self, trade: Trade) -> None:
        self.ib.cancelOrder(trade.order)

    def cancel_all(self, working: int) -> None:
        self.ib.reqGlobalCancel()  # type: ignore[no-untyped-call]


class ShadowSender:
    """Sends nothing: journals what would have been sent and books it as a would-be fill."""

    live = False

    def __init__(self, journal: ShadowJournal, store: Store, clock: Clock,
                 portfolio: PortfolioTracker | None = None) -> None:
        self.journal = journal
        self.store = store
        self.clock = clock
        self.portfolio = portfolio

    def _price(self, intent: OrderIntent) -> tuple[float | None, ...]:
        if self.portfolio is None:
            return None, None, None, None
        bid, ask, last = self.portfolio.quote(intent.symbol)
        return bid, ask, last, self.portfolio.price(intent.symbol)

    def _write(self, intent: OrderIntent, verdict: str, note: str = "") -> float | None:
        bid, ask, last, mark = self._price(intent)
        price = likely_price(intent.side, bid, ask, last, mark, intent.limit_price)
        if price.source == "none":
            note = "; ".join(n for n in (note, "no quote: likely price unknown") if n)
        elif self.portfolio is not None and self.portfolio.is_delayed(intent.symbol):
            note = "; ".join(n for n in (note, "DELAYED quote") if n)
        self.journal.order(self.clock.now(), order_ref=intent.order_ref, symbol=intent.symbol,
                           side=intent.side, quantity=intent.quantity,
                           order_type=intent.order_type, limit_price=intent.limit_price,
                           reason=intent.reason, verdict=verdict, price=price, note=note)
        return price.price

    def place(self, intent: OrderIntent, decision: GateDecision, contract: Contract,
              order: Order) -> Trade | None:
        price = self._write(intent, ACCEPTED)
        signed = intent.quantity if intent.side == "BUY" else -intent.quantity
        now = self.clock.now()
        # The would-be fill: the intent FILLED and the would-be book moved (entries add, closes
        # reduce and never cross zero: order_life.tracked_after), in the shadow store only.
        self.store.apply_execution(ExecutionRecord(
            exec_id=f"{SHADOW_EXEC_PREFIX}{intent.order_ref}", order_ref=intent.order_ref,
            symbol=intent.symbol, signed_qty=signed, price=price or 0.0, at=now.isoformat(),
        ), now)
        log.info("SHADOW: not sent: %s %g %s %s (orderRef %s, %s)", intent.side,
                 intent.quantity, intent.symbol, intent.order_type, intent.order_ref,
                 intent.reason)
        return None

    def refused(self, intent: OrderIntent, decision: GateDecision) -> None:
        self._write(intent, f"{DENIED}: " + "; ".join(decision.reasons))

    def cancel(self, trade: Trade) -> None:
        o = trade.order
        self.journal.cancel(self.clock.now(), order_ref=o.orderRef, symbol=trade.contract.symbol,
                            note=f"would have cancelled order {o.orderId} of clientId "
                                 f"{o.clientId} ({o.action} {o.totalQuantity:g})")

    @classmethod
    def in_data_dir(cls, data_dir: Path | str, store: Store, clock: Clock,
                    portfolio: PortfolioTracker | None = None) -> ShadowSender:
        """Journaling to `data_dir`/logs/shadow_orders.csv; close() closes that file."""
        return cls(ShadowJournal(data_dir), store, clock, portfolio)

    def close(self) -> None:
        self.journal.close()

    def cancel_all(self, working: int) -> None:
        self.journal.cancel_all(self.clock.now(),
                                f"would have cancelled every working order in the account "
                                f"({working} known)")
