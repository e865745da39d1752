"""What the gateway tells a client about its orders, in the order a real gateway tells it.

The order book says what happened (accepted, activated, filled, cancelled, rejected); this turns
each into the TWS messages of the order's owner, following the realism profile
(../shared/notes/ib-real-behaviour.md rows 2, 3, 12, 13, 20): the kind simulator's tidy sequence,
or a real gateway's (a rejection as error 201 plus an `Inactive` status in either order, no
Submitted for a paper market order, Filled before execDetails, a commission report that trails).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from weekly_er_tui.sim import messages as msg
from weekly_er_tui.sim.market import Instrument
from weekly_er_tui.sim.orders import SimExecution, SimOrder, Status

if TYPE_CHECKING:
    from weekly_er_tui.sim.realism import Realism
    from weekly_er_tui.sim.server import SimulatedGateway
    from weekly_er_tui.sim.session import ClientSession

# What TWS answers to every placeOrder while "Read-Only API" is checked (IBC issue 10).
READ_ONLY_TEXT = ("Error validating request.-'bW' : cause - The API interface is currently in "
                  "Read-Only mode.")


def _variant(choice: str, order: SimOrder, odd: str, even: str) -> str:
    """One of two real behaviours: `alternate` picks by the permId's parity (deterministic)."""
    if choice != "alternate":
        return choice
    return odd if order.perm_id % 2 else even


class OrderReports:
    """The messages of one order event, sent to its owner's session."""

    def __init__(self, gw: SimulatedGateway) -> None:
        self.gw = gw

    @property
    def realism(self) -> Realism:
        # Read at the moment of each message: a test may switch a behaviour on a running gateway.
        return self.gw.realism

    def accepted(self, s: ClientSession, order: SimOrder) -> None:
        s.send(msg.open_order(s.version, order, _inst(s, order)))
        s.send(msg.order_status(order))

    def activated(self, s: ClientSession, order: SimOrder) -> None:
        # A paper gateway never says Submitted for a market order that fills at once (row 13).
        if self.realism.fill_messages != "kind" and order.order_type == "MKT":
            return
        self.modified(s, order)

    def modified(self, s: ClientSession, order: SimOrder) -> None:
        s.send(msg.open_order(s.version, order, _inst(s, order)))
        s.send(msg.order_status(order))

    def filled(self, s: ClientSession, order: SimOrder, execution: SimExecution) -> None:
        inst = _inst(s, order)
        status_first = _variant(self.realism.fill_messages, order, "paper",
                                "filled_first") == "filled_first"
        status = [msg.order_status(order)]
        if order.status == Status.FILLED:
            status.insert(0, msg.open_order(s.version, order, inst))
        if status_first:
            for m in status:
                s.send(m)
        s.send(msg.exec_details(s.version, -1, execution, inst))
        if not status_first:
            for m in status:
                s.send(m)
        self.commission(s, execution)

    def corrected(self, s: ClientSession, order: SimOrder | None, execution: SimExecution) -> None:
        """A corrected execution: a new execDetails (execId `.02`) and its commission report."""
        inst = s.gw.market.instruments[execution.symbol]
        s.send(msg.exec_details(s.version, -1, execution, inst))
        if order is not None:
            s.send(msg.order_status(order))
        self.commission(s, execution)

    def commission(self, s: ClientSession, execution: SimExecution) -> None:
        delay = self.realism.commission_delay_seconds
        report = msg.commission_report(execution)
        if delay <= 0:
            s.send(report)
            return
        # Real seconds: a network behaviour, like the gateway's answer delay.
        asyncio.get_running_loop().call_later(
            delay, lambda: None if s.closed else s.send(report))

    def cancelled(self, s: ClientSession, order: SimOrder, requested: bool, reason: str) -> None:
        s.send(msg.order_status(order))
        if requested or reason:
            # IB's own cancels (a price check, row 20) carry their reason after "reason:".
            s.send(msg.error(s.version, order.order_id, 202,
                             "Order Canceled - reason:" + (f" {reason}" if reason else "")))

    def rejected(self, s: ClientSession, order_id: int, code: int, message: str,
                 order: SimOrder | None) -> None:
        error = msg.error(s.version, order_id, code, message)
        style = self.realism.rejection_messages
        if order is None or style == "error_only":
            s.send(error)
            return
        inactive = [msg.open_order(s.version, order, _inst(s, order)), msg.order_status(order)]
        if _variant(style, order, "error_first", "status_first") == "error_first":
            s.send(error)
            for m in inactive:
                s.send(m)
        else:
            for m in inactive:
                s.send(m)
            s.send(error)

    def read_only(self, s: ClientSession, order_id: int) -> None:
        s.send(msg.error(s.version, order_id, 321, READ_ONLY_TEXT))


def _inst(s: ClientSession, order: SimOrder) -> Instrument:
    return s.gw.market.instruments[order.symbol]
