"""The orders working at IB as the screen lists them, and cancelling one of them.

ib_async's openTrades() holds this client's orders and, after the resync's reqAllOpenOrders,
those of other clients (TWS, another app). IB lets a client cancel only its own orders.
"""

from __future__ import annotations

from datetime import datetime

from ib_async import IB, Trade

from weekly_er_tui.clock import Clock
from weekly_er_tui.model import WorkingOrder
from weekly_er_tui.order_refs import is_ours

from .closing import remaining
from .order_status import DONE_STATES


def _num(x: object) -> float | None:
    try:
        f = float(x)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return None if f != f or abs(f) >= 1e300 else f


class OrderAges:
    """When each order was first seen, on the engine's Clock: the working-orders pane's age.
    ib_async stamps a trade's log with the wall clock, which on a simulated or accelerated
    clock is another day. An order is known by its orderRef (ours), its permId (IB's, 0 until
    its first openOrder) and its clientId and orderId, so it keeps its age as those arrive."""

    def __init__(self, ib: IB, clock: Clock) -> None:
        self.clock = clock
        self._seen: dict[tuple[object, ...], datetime] = {}
        for event in (ib.newOrderEvent, ib.openOrderEvent, ib.orderStatusEvent):
            event += self.at

    @staticmethod
    def _keys(trade: Trade) -> list[tuple[object, ...]]:
        order = trade.order
        keys: list[tuple[object, ...]] = []
        if order.orderRef:
            keys.append(("ref", order.orderRef))
        if order.permId:
            keys.append(("perm", int(order.permId)))
        if order.orderId:
            keys.append(("id", int(order.clientId), int(order.orderId)))
        return keys

    def at(self, trade: Trade) -> datetime:
        """When the trade was first seen (now, the first time it is asked)."""
        keys = self._keys(trade)
        when = next((self._seen[k] for k in keys if k in self._seen), None)
        if when is None:
            when = self.clock.now()
        for k in keys:
            self._seen.setdefault(k, when)
        return when


def working_order(trade: Trade, our_client_id: int, ages: OrderAges | None = None
                  ) -> WorkingOrder:
    order, status = trade.order, trade.orderStatus
    filled = max(float(status.filled or 0.0), trade.filled())
    limit = _num(order.lmtPrice) if order.orderType != "MKT" else None
    return WorkingOrder(
        order_id=int(order.orderId),
        perm_id=int(order.permId or 0),
        client_id=int(order.clientId),
        symbol=trade.contract.symbol,
        action=order.action,
        quantity=float(order.totalQuantity),
        filled=filled,
        remaining=remaining(trade),
        order_type=order.orderType,
        limit_price=limit or None,
        status=status.status,
        order_ref=order.orderRef or "",
        ours=int(order.clientId) == our_client_id and is_ours(order.orderRef or ""),
        placed_at=(ages.at(trade) if ages is not None
                   else trade.log[0].time if trade.log else None),
    )


def working_orders(ib: IB, our_client_id: int, ages: OrderAges | None = None
                   ) -> tuple[WorkingOrder, ...]:
    """Every order still working, oldest first (aged on `ages`' clock)."""
    trades = [t for t in ib.openTrades() if t.orderStatus.status not in DONE_STATES]
    out = [working_order(t, our_client_id, ages) for t in trades]
    return tuple(sorted(out, key=lambda o: (o.placed_at is None, o.placed_at, o.order_id)))


def find_cancellable(ib: IB, order_id: int, our_client_id: int) -> Trade:
    """The working trade with this orderId that this client may cancel; ValueError naming
    why not (gone, done, another client's)."""
    for trade in ib.openTrades():
        if trade.order.orderId != order_id:
            continue
        if trade.orderStatus.status in DONE_STATES:
            raise ValueError(f"order {order_id} is no longer working "
                             f"({trade.orderStatus.status}): nothing sent")
        if int(trade.order.clientId) != our_client_id:
            raise ValueError(
                f"order {order_id} was placed by clientId {trade.order.clientId}, not this app "
                f"(clientId {our_client_id}): IB lets only its own client cancel it; cancel it "
                f"there (TWS: the Orders panel)")
        return trade
    raise ValueError(f"order {order_id} is not working at IB (filled or cancelled already): "
                     f"nothing sent")
