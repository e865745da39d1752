"""IB's checks of a new order, before and after it is accepted: what it refuses (error 201 with
IB's reason, 200 for an unknown contract) and what it cancels at once (its price check, row 20).

The book calls these with itself: the checks read its market, account, sessions and switches.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from weekly_er_tui.sim.orders import OrderBook, OrderRequest, SimOrder

ORDER_TYPES = ("MKT", "LMT", "STP", "MOC", "LOC")
TIFS = ("DAY", "GTC", "IOC")

def validate(book: OrderBook, req: OrderRequest, now: float) -> tuple[int, str] | None:
    """IB's refusal of a new order as (code, message), or None when it is accepted."""
    inst = book.market.resolve(req.symbol, req.con_id)
    if inst is None or req.sec_type not in ("STK", ""):
        return (200, "No security definition has been found for the request")
    if req.order_type not in ORDER_TYPES:
        return (
            201,
            f"Order rejected - reason: order type {req.order_type!r} is not supported "
            f"(the simulator takes {', '.join(ORDER_TYPES)})",
        )
    if req.tif not in TIFS:
        return (201, f"Order rejected - reason: time in force {req.tif!r} is not supported")
    if req.action not in ("BUY", "SELL"):
        return (201, f"Order rejected - reason: action {req.action!r} must be BUY or SELL")
    if req.quantity <= 0:
        return (201, "Order rejected - reason: the order quantity must be greater than 0")
    if req.order_type in ("LMT", "LOC") and (req.lmt_price is None or req.lmt_price <= 0):
        return (201, "Order rejected - reason: a limit order needs a limit price")
    if req.order_type == "STP" and (req.aux_price is None or req.aux_price <= 0):
        return (201, "Order rejected - reason: a stop order needs a stop price")
    for rule in list(book.reject_rules):
        if rule.matches(inst.symbol):
            if rule.remaining is not None:
                rule.remaining -= 1
                if rule.remaining <= 0:
                    book.reject_rules.remove(rule)
            return (201, f"Order rejected - reason: {rule.reason}")
    if req.order_type in ("MOC", "LOC"):
        i = book.sessions.trading_day(now)
        close = book.sessions.closes[i]
        if book.sessions.opens[i] <= now and now >= close - book.moc_cutoff_seconds:
            return (
                201,
                "Order rejected - reason: the MOC/LOC order entry cutoff time has passed "
                "for this session",
            )
    price = book.market.price(inst.symbol, now)
    if 0 < book.size_check_value < req.quantity * price:
        return (
            201,
            f"Order rejected - reason: the order value {req.quantity * price:,.0f} USD is "
            f"above IB's size limit of {book.size_check_value:,.0f} USD: please submit a "
            "smaller order",
        )
    sign = 1.0 if req.action == "BUY" else -1.0
    if not book.account.margin_ok(inst.symbol, sign * req.quantity, price):
        return (
            201,
            "Order rejected - reason: YOUR ORDER IS NOT ACCEPTED. IN ORDER TO OBTAIN THE "
            f"DESIRED POSITION YOUR EQUITY WITH LOAN VALUE [{book.account.net_liquidation:.2f} "
            "USD] MUST EXCEED THE INITIAL MARGIN",
        )
    return None


def price_check(book: OrderBook, order: SimOrder, now: float) -> str:
    """IB's own price check (row 20): why a limit is too far through the market, or ""."""
    pct = book.price_check_pct
    if pct <= 0 or order.lmt_price is None or order.order_type not in ("LMT", "LOC"):
        return ""
    bid, ask = book.market.bid_ask(order.symbol, now)
    lmt = order.lmt_price
    through = (lmt / ask - 1) if order.action == "BUY" else (1 - lmt / bid)
    if through * 100 <= pct:
        return ""
    ref = ask if order.action == "BUY" else bid
    return (f"The limit price {order.lmt_price:.2f} is too far through the market "
            f"({through * 100:.1f}% from {ref:.2f}, more than {pct:g}%)")
