"""Orders: placeOrder (the read-only API of row 3, IB's own checks of row 20), cancelOrder,
reqGlobalCancel, open and completed orders; and `OrderEvents`, which turns what the order book
did into the owner's messages (sim/order_reports.py) and the gateway's events."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from weekly_er_tui.clock import ET
from weekly_er_tui.sim import messages as msg
from weekly_er_tui.sim.orders import OrderRequest, SimExecution, SimOrder
from weekly_er_tui.sim.session import ClientSession, Cursor

if TYPE_CHECKING:
    from weekly_er_tui.sim.handlers import Handler
    from weekly_er_tui.sim.server import SimulatedGateway


class OrderHandlers:
    def __init__(self, gw: SimulatedGateway) -> None:
        self.gw = gw

    def routes(self) -> dict[int, Handler]:
        return {
            msg.IN_PLACE_ORDER: self.place_order,
            msg.IN_CANCEL_ORDER: self.cancel_order,
            msg.IN_REQ_GLOBAL_CANCEL: self.global_cancel,
            msg.IN_REQ_OPEN_ORDERS: self.req_open_orders,
            msg.IN_REQ_ALL_OPEN_ORDERS: self.req_all_open_orders,
            msg.IN_REQ_AUTO_OPEN_ORDERS: lambda s, c: None,
            msg.IN_REQ_COMPLETED_ORDERS: self.req_completed_orders,
        }

    def place_order(self, s: ClientSession, c: Cursor) -> None:
        assert s.client_id is not None
        order_id = c.next_int()
        contract = c.contract()
        c.next_str()  # secIdType
        c.next_str()  # secId
        action = c.next_str().upper()
        quantity = c.next_float() or 0.0
        order_type = c.next_str().upper()
        lmt = c.next_float()
        aux = c.next_float()
        tif = c.next_str().upper() or "DAY"
        c.next_str()  # ocaGroup
        account = c.next_str()
        c.next_str()  # openClose
        c.next_str()  # origin
        order_ref = c.next_str()
        c.skip(6)  # transmit, parentId, blockOrder, sweepToFill, displaySize, triggerMethod
        outside_rth = c.next_bool()
        if self.gw.realism.read_only:
            # "Read-Only API" checked: the order never reaches the book (row 3).
            self.gw.book.order_refs_received.append(order_ref)
            self.gw.book.reserve_ids(s.client_id, order_id)
            self.gw.reports.read_only(s, order_id)
            self.gw._event("reject", f"order {s.client_id}/{order_id}: error 321 read-only API",
                        s.client_id)
            return
        self.gw.book.advance()
        self.gw.book.place(
            s.client_id,
            order_id,
            OrderRequest(
                symbol=contract["symbol"],
                con_id=contract["con_id"],
                sec_type=contract["sec_type"],
                action=action,
                quantity=quantity,
                order_type=order_type,
                lmt_price=lmt,
                aux_price=aux,
                tif=tif,
                outside_rth=outside_rth,
                order_ref=order_ref,
                account=account,
            ),
        )

    def cancel_order(self, s: ClientSession, c: Cursor) -> None:
        assert s.client_id is not None
        c.skip()
        order_id = c.next_int()
        self.gw.book.advance()
        refusal = self.gw.book.cancel(s.client_id, order_id)
        if refusal is not None:
            s.send(msg.error(s.version, order_id, *refusal))

    def global_cancel(self, s: ClientSession, c: Cursor) -> None:
        self.gw.book.advance()
        n = self.gw.book.global_cancel()
        self.gw._event("cancel", f"client {s.client_id}: global cancel ({n} order(s))", s.client_id)

    def send_open_orders(self, s: ClientSession, orders: list[SimOrder]) -> None:
        for o in orders:
            inst = self.gw.market.instruments[o.symbol]
            s.send(msg.open_order(s.version, o, inst))
            s.send(msg.order_status(o))
        s.send(msg.open_order_end())

    def req_open_orders(self, s: ClientSession, c: Cursor) -> None:
        self.gw.book.advance()
        self.send_open_orders(s, [o for o in self.gw.book.working() if o.client_id == s.client_id])

    def req_all_open_orders(self, s: ClientSession, c: Cursor) -> None:
        self.gw.book.advance()
        self.send_open_orders(s, self.gw.book.working())

    def req_completed_orders(self, s: ClientSession, c: Cursor) -> None:
        api_only = c.next_bool()
        today = datetime.fromtimestamp(self.gw._t(), ET).date()
        for o in self.gw.book.completed():
            if api_only and o.order_id == 0:
                continue
            if o.completed_at is None or datetime.fromtimestamp(o.completed_at, ET).date() != today:
                continue
            s.send(msg.completed_order(s.version, o, self.gw.market.instruments[o.symbol]))
        s.send(msg.completed_orders_end())


class OrderEvents:
    """The order book's listener: each thing the book did, as the owner's messages (the
    realism profile decides their order) and a gateway event."""

    def __init__(self, gw: SimulatedGateway) -> None:
        self.gw = gw

    def order_accepted(self, order: SimOrder) -> None:
        s = self.gw._owner(order.client_id)
        if s is not None:
            self.gw.reports.accepted(s, order)
        self.gw._event(
            "order",
            f"order {order.client_id}/{order.order_id}: {order.action} {order.quantity:g} "
            f"{order.symbol} {order.order_type}"
            + (f" {order.lmt_price:g}" if order.lmt_price is not None else "")
            + (f" ref={order.order_ref}" if order.order_ref else "")
            + f" perm {order.perm_id}",
            order.client_id,
        )

    def order_activated(self, order: SimOrder) -> None:
        s = self.gw._owner(order.client_id)
        if s is not None:
            self.gw.reports.activated(s, order)
        self.gw._notify()

    def order_modified(self, order: SimOrder) -> None:
        s = self.gw._owner(order.client_id)
        if s is not None:
            self.gw.reports.modified(s, order)
        self.gw._notify()

    def order_filled(self, order: SimOrder, execution: SimExecution) -> None:
        held = self.gw._holding_reports()
        if held:  # row 9: the fill happened at IB; its reports wait for the link
            self.gw._held_reports.append(lambda: self._report_fill(order, execution))
        else:
            s = self.gw._owner(order.client_id) if order.order_id else None
            if s is not None:
                self.gw.reports.filled(s, order, execution)
        self.gw._event(
            "fill",
            f"fill {order.client_id}/{order.order_id}: {execution.side} {execution.qty:g} "
            f"{order.symbol} @ {execution.price:.2f} (commission {execution.commission:.2f})",
            order.client_id,
        )
        if not held:  # after the event: a listener may move the market at the fill's instant
            self.gw.stream.position_changed(order.symbol)

    def _report_fill(self, order: SimOrder, execution: SimExecution) -> None:
        s = self.gw._owner(order.client_id) if order.order_id else None
        if s is not None:
            self.gw.reports.filled(s, order, execution)
        self.gw.stream.position_changed(order.symbol)

    def order_cancelled(self, order: SimOrder, requested: bool, reason: str = "") -> None:
        s = self.gw._owner(order.client_id)
        if s is not None:
            self.gw.reports.cancelled(s, order, requested, reason)
        why = "cancelled" if requested else (f"cancelled by IB: {reason}" if reason
                                             else "expired/cancelled by the system")
        self.gw._event("cancel", f"order {order.client_id}/{order.order_id}: {why}",
                       order.client_id)

    def order_rejected(self, client_id: int, order_id: int, code: int, message: str,
                       order: SimOrder | None = None) -> None:
        s = self.gw._owner(client_id)
        if s is not None:
            self.gw.reports.rejected(s, order_id, code, message, order)
        self.gw._event("reject", f"order {client_id}/{order_id}: error {code} {message}",
                       client_id)
