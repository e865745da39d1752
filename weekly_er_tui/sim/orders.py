"""Orders and the matching engine: what IB's order handling does, on simulated prices.

The book knows nothing of sockets: it tells an `OrderListener` what happened (accepted,
activated, filled, cancelled, rejected) and the gateway turns that into TWS messages.

Matching is a discrete-event simulation over the market's price points (the session steps, the
open, the close and shock instants), so the same prices give the same fills whatever the clock
speed and however often `advance` is called:

- MKT fills at once at the ask (buy) or bid (sell) during the session; outside it, without
  outsideRth, it waits PreSubmitted and fills at the next open.
- LMT fills at once at the ask/bid if marketable, else rests and fills at its limit at the first
  price point where the market crosses it.
- STP triggers when the last price reaches the stop and fills at the ask/bid of that instant.
- MOC fills at the session's closing price; LOC too when the close is within its limit.
- outsideRth LMT/STP orders also work outside the session: at any hour (the kind simulator), or
  only in extended hours on trading days (realism `extended_hours_only`).
- DAY orders still working at the close are cancelled; GTC orders carry over; IOC orders cancel
  whatever does not fill at once.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

from weekly_er_tui.sim.account import SimAccount
from weekly_er_tui.sim.market import Market, half_spread, round_price
from weekly_er_tui.sim.order_rules import (
    moc_cancel_refusal,
    price_check,
    validate,
)
from weekly_er_tui.sim.order_types import (
    DONE,
    OrderListener,
    OrderRequest,
    RejectRule,
    SimExecution,
    SimOrder,
    Status,
    commission_for,
)
from weekly_er_tui.sim.realism import Realism

__all__ = ["DONE", "OrderBook", "OrderListener", "OrderRequest", "RejectRule", "SimExecution",
           "SimOrder", "Status", "commission_for"]

log = logging.getLogger("weekly_er_tui.sim")

_EXPIRE, _ACTIVATE, _PART, _FILL = 3, 0, 1, 2
_KIND = Realism.kind()

FIRST_PERM_ID = 1_100_000_001
PERM_IDS_PER_RUN = 100_000  # far more orders than a run of weeks places


_last_run_id = 0


def fresh_run_id() -> int:
    """A run id no earlier run had: the wall-clock second the gateway was made, and never one
    this process gave before (two processes sharing a journal do not start in one second)."""
    global _last_run_id
    _last_run_id = max(int(time.time()), _last_run_id + 1)
    return _last_run_id


def first_perm_id(run_id: int) -> int:
    """The first permId of run `run_id`: each run's permIds (and the execIds made from them)
    are its own, as IB's are unique across sessions. Run 0 is the reproducible one."""
    return FIRST_PERM_ID + run_id * PERM_IDS_PER_RUN


class OrderBook:
    """Every order of the account, all clients together, and the fills they made."""

    def __init__(
        self,
        market: Market,
        account: SimAccount,
        now: Callable[[], float],
        listener: OrderListener,
        first_perm_id: int = FIRST_PERM_ID,
        realism: Callable[[], Realism] | None = None,
    ) -> None:
        self.market = market
        self.sessions = market.sessions
        self.account = account
        self._now = now
        self.listener = listener
        self.orders: dict[int, SimOrder] = {}
        self.by_client: dict[tuple[int, int], int] = {}
        self.executions: list[SimExecution] = []
        self.order_refs_received: list[str] = []
        # (clientId, "place" or "cancel", orderRef or orderId) of every order message, even one
        # that changed nothing: what each client asked of the gateway.
        self.requests: list[tuple[int, str, str]] = []
        self.reject_rules: list[RejectRule] = []
        self.partial_parts = 1
        self.partial_interval = 0.0
        # The gateway's realism profile, read at each decision (a test may switch it).
        self._realism = realism or (lambda: _KIND)
        self._perm = itertools.count(first_perm_id)
        self._next_ids: dict[int, int] = {}

    @property
    def realism(self) -> Realism:
        return self._realism()

    # ids

    def next_order_id(self, client_id: int) -> int:
        return self._next_ids.get(client_id, 1)

    def reserve_ids(self, client_id: int, order_id: int) -> None:
        self._next_ids[client_id] = max(self.next_order_id(client_id), order_id + 1)

    def working(self) -> list[SimOrder]:
        return [o for o in self.orders.values() if not o.is_done]

    def completed(self) -> list[SimOrder]:
        return [o for o in self.orders.values() if o.is_done]

    # requests

    def place(self, client_id: int, order_id: int, req: OrderRequest) -> None:
        """Handle a placeOrder: a new order, or a modification of a working one."""
        self.order_refs_received.append(req.order_ref)
        self.requests.append((client_id, "place", req.order_ref))
        self.reserve_ids(client_id, order_id)
        perm = self.by_client.get((client_id, order_id))
        if perm is not None:
            existing = self.orders[perm]
            if existing.is_done:
                self.listener.order_rejected(client_id, order_id, 103, "Duplicate order id")
                return
            self._modify(existing, req)
            return
        now = self._now()
        problem = validate(self, req, now, order_id)
        if problem is not None:
            code, message = problem
            # IB shows a rejected new order as Inactive: the listener may say so (row 2).
            rejected = self._inactive(client_id, order_id, req, now) if code == 201 else None
            self.listener.order_rejected(client_id, order_id, code, message, rejected)
            return
        order = self._new_order(client_id, order_id, req, now)
        self.by_client[(client_id, order_id)] = order.perm_id
        self.listener.order_accepted(order)
        too_far = price_check(self, order, now)
        if too_far:
            self._cancel(order, now, requested=False, reason=too_far)
            return
        if self._can_activate(order, now):
            self._activate(order, now)

    def _inactive(self, client_id: int, order_id: int, req: OrderRequest,
                  now: float) -> SimOrder:
        """The order IB refused, as its Inactive openOrder/orderStatus shows it (never booked)."""
        order = self._new_order(client_id, order_id, req, now, book=False)
        order.status = Status.INACTIVE
        order.completed_at, order.completed_status = now, "Rejected"
        return order

    def cancel(self, client_id: int, order_id: int) -> tuple[int, str] | None:
        """Cancel a working order; else IB's error: 10147 for no such order, 161 for one that
        has ended (row 15) or a MOC/LOC past its cancel cutoff (row 11)."""
        self.requests.append((client_id, "cancel", str(order_id)))
        perm = self.by_client.get((client_id, order_id))
        order = self.orders.get(perm) if perm is not None else None
        if order is None or (order.is_done and not self.realism.cancel_ended_is_161):
            return (10147, f"OrderId {order_id} that needs to be cancelled is not found.")
        now = self._now()
        if order.is_done:
            return (161, "Cancel attempted when order is not in a cancellable state. "
                         f"Order permId ={order.perm_id}")
        refusal = moc_cancel_refusal(self, order, now)
        if refusal is not None:
            return refusal
        self._cancel(order, now, requested=True)
        return None

    def global_cancel(self) -> int:
        """reqGlobalCancel: every working order of the account, however it was placed (any
        client, TWS by hand), except a MOC/LOC past its cancel cutoff."""
        now = self._now()
        todo = [o for o in self.working() if moc_cancel_refusal(self, o, now) is None]
        for order in todo:
            self._cancel(order, now, requested=True)
        return len(todo)

    def place_in_tws(self, req: OrderRequest) -> SimOrder:
        """An order the trader entered in TWS by hand: clientId 0, orderId 0 (no API client
        owns it; reqAllOpenOrders shows it, a global cancel cancels it)."""
        now = self._now()
        problem = validate(self, req, now, 0, api=False)
        if problem is not None:
            raise ValueError(problem[1])
        order = self._new_order(0, 0, req, now)
        self.listener.order_accepted(order)
        if self._can_activate(order, now):
            self._activate(order, now)
        return order

    def shocked(self, symbols: list[str], t: float) -> None:
        """A price shock at `t`: resting orders in these symbols are checked against it even
        if they were checked up to `t` already (a shock at the same instant was missed)."""
        for order in self.working():
            if order.symbol in symbols and order.active and order.checked_until >= t:
                order.checked_until = t - 1e-3

    def fill_externally(self, symbol: str, quantity: float, price: float | None = None) -> SimOrder:
        """A fill made outside the API (a 'TWS user' order): clientId 0, orderId 0."""
        if self.market.resolve(symbol) is None:
            raise ValueError(f"unknown symbol {symbol!r}")
        now = self._now()
        action = "BUY" if quantity > 0 else "SELL"
        req = OrderRequest(symbol, action, abs(quantity), "MKT", outside_rth=True)
        order = self._new_order(0, 0, req, now)
        order.status, order.active = Status.SUBMITTED, True
        if price is None:
            bid, ask = self.market.bid_ask(order.symbol, now)
            price = ask if quantity > 0 else bid
        self._execute(order, abs(quantity), price, now)
        return order

    def correct(self, exec_id: str, shares: float | None = None,
                price: float | None = None) -> tuple[SimOrder | None, SimExecution]:
        """IB's execution correction (row 5): the execution `exec_id` replaced by one whose
        execId differs only after the last period (`.01` -> `.02`), with new shares or price.
        The account is rebooked; reqExecutions returns the correction, not the original."""
        i = next((n for n, x in enumerate(self.executions) if x.exec_id == exec_id), None)
        if i is None:
            raise ValueError(f"no execution {exec_id!r} to correct")
        old = self.executions[i]
        base, _, serial = old.exec_id.rpartition(".")
        qty = old.qty if shares is None else float(shares)
        px = old.price if price is None else round_price(price)
        if qty <= 0:
            raise ValueError(f"a correction needs shares > 0 (got {qty:g})")
        sign = 1.0 if old.side == "BOT" else -1.0
        commission = commission_for(qty, px)
        t = self._now()
        # Rebook: take the original out at its own terms, then book the corrected one.
        self.account.apply_fill(old.symbol, -sign * old.qty, old.price, -old.commission, t)
        realized = self.account.apply_fill(old.symbol, sign * qty, px, commission, t)
        order = self.orders.get(old.perm_id)
        if order is not None:
            cost = order.avg_fill_price * order.filled - old.qty * old.price + qty * px
            order.filled += qty - old.qty
            order.avg_fill_price = cost / order.filled if order.filled else 0.0
        new = replace(
            old, exec_id=f"{base}.{int(serial) + 1:02d}", qty=qty, price=px,
            commission=commission, realized_pnl=realized,
            cum_qty=old.cum_qty + qty - old.qty,
            avg_price=round(order.avg_fill_price, 6) if order is not None else px,
        )
        self.executions[i] = new
        return order, new

    def _new_order(self, client_id: int, order_id: int, req: OrderRequest, now: float,
                   book: bool = True) -> SimOrder:
        inst = self.market.resolve(req.symbol, req.con_id)
        assert inst is not None
        order = SimOrder(
            perm_id=next(self._perm),
            client_id=client_id,
            order_id=order_id,
            symbol=inst.symbol,
            con_id=inst.con_id,
            action=req.action,
            quantity=req.quantity,
            order_type=req.order_type,
            lmt_price=req.lmt_price,
            aux_price=req.aux_price,
            tif=req.tif,
            outside_rth=req.outside_rth,
            order_ref=req.order_ref,
            account=req.account or self.account.account_id,
            placed_at=now,
            day=self.sessions.trading_day(now),
            checked_until=now,
        )
        if book:
            self.orders[order.perm_id] = order
        return order

    # matching

    def advance(self) -> None:
        """Process every order event up to the clock's now, in time order."""
        now = self._now()
        for _ in range(100_000):
            best: tuple[float, int, int, SimOrder, float] | None = None
            for order in self.working():
                ev = self._next_event(order, now)
                if ev is None:
                    if order.active:
                        order.checked_until = max(order.checked_until, now)
                    continue
                t, kind, price = ev
                key = (t, kind, order.perm_id)
                if best is None or key < (best[0], best[1], best[2]):
                    best = (t, kind, order.perm_id, order, price)
            if best is None:
                return
            t, kind, _, order, price = best
            self._apply(order, kind, t, price)
        log.warning("order engine stopped after 100000 events in one advance")

    def _next_event(self, order: SimOrder, now: float) -> tuple[float, int, float] | None:
        s = self.sessions
        open_t, close_t = s.opens[order.day], s.closes[order.day]
        if not order.active:
            start = self.sessions.extended_open(order.day) if self._extended(order) else open_t
            if start <= now:
                return (float(start), _ACTIVATE, 0.0)
            return None
        if order.next_part_at is not None:
            if order.next_part_at <= now:
                return (order.next_part_at, _PART, 0.0)
            return None
        expires = order.tif == "DAY" and close_t <= now
        horizon = min(now, float(close_t)) if order.tif == "DAY" else now
        ot = order.order_type
        if ot in ("MOC", "LOC"):
            if close_t <= now:
                close_price = self.market.session_close(order.symbol, order.day)
                if ot == "MOC" or self._marketable_at(order, close_price):
                    return (float(close_t), _FILL, close_price)
                return (float(close_t), _EXPIRE, 0.0)
            return None
        if ot in ("LMT", "STP") or (ot == "MKT" and order.remaining > 0):
            for t, p in self.market.price_points(order.symbol, order.checked_until, horizon):
                if ot == "MKT":
                    return (t, _FILL, self._take_price(order, p))
                if ot == "LMT" and self._marketable_at(order, p):
                    assert order.lmt_price is not None
                    return (t, _FILL, order.lmt_price)
                if ot == "STP" and self._stop_hit(order, p):
                    return (t, _FILL, self._take_price(order, p))
        if expires:
            return (float(close_t), _EXPIRE, 0.0)
        return None

    def _apply(self, order: SimOrder, kind: int, t: float, price: float) -> None:
        order.checked_until = max(order.checked_until, t)
        if kind == _ACTIVATE:
            self._activate(order, t)
        elif kind == _PART:
            order.next_part_at = None
            p = price or self._part_price(order, t)
            self._fill_plan(order, p, t)
        elif kind == _FILL:
            self._start_fill(order, price, t)
        elif kind == _EXPIRE:
            self._cancel(order, t, requested=False)

    def _activate(self, order: SimOrder, t: float) -> None:
        order.active = True
        order.status = Status.SUBMITTED
        order.checked_until = t
        self.listener.order_activated(order)
        ot = order.order_type
        if ot == "MKT":
            self._start_fill(order, self._take_price(order, self.market.price(order.symbol, t)), t)
        elif ot == "LMT":
            last = self.market.price(order.symbol, t)
            take = self._take_price(order, last)
            assert order.lmt_price is not None
            if (order.action == "BUY" and take <= order.lmt_price) or (
                order.action == "SELL" and take >= order.lmt_price
            ):
                self._start_fill(order, take, t)
        elif ot == "STP" and self._stop_hit(order, self.market.price(order.symbol, t)):
            self._start_fill(order, self._take_price(order, self.market.price(order.symbol, t)), t)
        if order.tif == "IOC" and not order.is_done and order.next_part_at is None:
            self._cancel(order, t, requested=False)

    def _start_fill(self, order: SimOrder, price: float, t: float) -> None:
        n = max(1, min(self.partial_parts, int(order.remaining) or 1))
        qty = order.remaining
        base = float(int(qty // n)) if n > 1 else qty
        parts = [base] * (n - 1) + [qty - base * (n - 1)]
        order.parts = [p for p in parts if p > 0]
        order.part_interval = self.partial_interval if order.order_type not in ("MOC", "LOC") else 0
        self._fill_plan(order, price, t)

    def _fill_plan(self, order: SimOrder, price: float, t: float) -> None:
        """Fill the next part (all of them when there is no interval between parts)."""
        while order.parts:
            qty = order.parts.pop(0)
            self._execute(order, qty, price, t)
            if order.parts and order.part_interval > 0:
                order.next_part_at = t + order.part_interval
                return
        order.next_part_at = None

    def _part_price(self, order: SimOrder, t: float) -> float:
        if order.order_type == "LMT" and order.lmt_price is not None:
            return order.lmt_price
        return self._take_price(order, self.market.price(order.symbol, t))

    def _execute(self, order: SimOrder, qty: float, price: float, t: float) -> None:
        price = round_price(price)
        commission = commission_for(qty, price)
        realized = self.account.apply_fill(order.symbol, order.sign * qty, price, commission, t)
        cost = order.avg_fill_price * order.filled + qty * price
        order.filled += qty
        order.avg_fill_price = cost / order.filled
        order.last_fill_price = price
        when = datetime.fromtimestamp(t, UTC)
        order.executions += 1
        execution = SimExecution(
            exec_id=f"{order.perm_id:08x}.{when:%y%m%d}.{order.executions:02d}.01",
            order_id=order.order_id,
            perm_id=order.perm_id,
            client_id=order.client_id,
            order_ref=order.order_ref,
            symbol=order.symbol,
            con_id=order.con_id,
            side="BOT" if order.action == "BUY" else "SLD",
            qty=qty,
            price=price,
            time=when,
            commission=commission,
            realized_pnl=realized,
            cum_qty=order.filled,
            avg_price=round(order.avg_fill_price, 6),
            account=order.account,
        )
        self.executions.append(execution)
        if order.remaining <= 1e-9:
            order.status = Status.FILLED
            order.completed_at = t
            order.completed_status = "Filled"
        self.listener.order_filled(order, execution)

    def _cancel(self, order: SimOrder, t: float, requested: bool, reason: str = "") -> None:
        order.status = Status.CANCELLED
        order.parts = []
        order.next_part_at = None
        order.completed_at = t
        order.completed_status = "Cancelled by Trader" if requested else "Cancelled"
        self.listener.order_cancelled(order, requested, reason)

    def _modify(self, order: SimOrder, req: OrderRequest) -> None:
        refusal = moc_cancel_refusal(self, order, self._now())
        if refusal is not None:  # row 11: no reduce or modify either; the order stays as it is
            self.listener.order_rejected(order.client_id, order.order_id, 201,
                                         "Order rejected - reason: " + refusal[1])
            return
        if req.quantity < order.filled:
            self.listener.order_rejected(
                order.client_id,
                order.order_id,
                201,
                "Order rejected - reason: quantity below filled",
            )
            return
        order.quantity = req.quantity
        order.lmt_price = req.lmt_price if req.lmt_price is not None else order.lmt_price
        order.aux_price = req.aux_price if req.aux_price is not None else order.aux_price
        order.order_ref = req.order_ref or order.order_ref
        order.checked_until = max(order.checked_until, self._now())
        self.listener.order_modified(order)
        if order.active and order.order_type == "LMT" and order.next_part_at is None:
            t = self._now()
            take = self._take_price(order, self.market.price(order.symbol, t))
            if self._marketable_at(order, take, taker=True):
                self._start_fill(order, take, t)

    # rules

    def _can_activate(self, order: SimOrder, now: float) -> bool:
        if self.sessions.is_open(now):
            return True
        if order.outside_rth and order.order_type in ("LMT", "STP"):
            if self._extended(order) and not self.sessions.in_extended_hours(now):
                return False  # row 10: it waits for the next 04:00 ET of a trading day
            order.day = self.sessions.trading_day(now)
            return True
        return False

    def _extended(self, order: SimOrder) -> bool:
        """Whether the order works in extended hours only (an outsideRth LMT/STP, row 10)."""
        return (order.outside_rth and order.order_type in ("LMT", "STP")
                and self.realism.extended_hours_only)

    def _take_price(self, order: SimOrder, last: float) -> float:
        half = half_spread(last)
        return round_price(last + half if order.action == "BUY" else last - half)

    def _marketable_at(self, order: SimOrder, last: float, taker: bool = False) -> bool:
        """Whether the market at `last` reaches the limit (ask for a buy, bid for a sell)."""
        assert order.lmt_price is not None
        if order.order_type == "LOC":
            return last <= order.lmt_price if order.action == "BUY" else last >= order.lmt_price
        px = last if taker else self._take_price(order, last)
        return px <= order.lmt_price if order.action == "BUY" else px >= order.lmt_price

    def _stop_hit(self, order: SimOrder, last: float) -> bool:
        assert order.aux_price is not None
        return last >= order.aux_price if order.action == "BUY" else last <= order.aux_price
