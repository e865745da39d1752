"""IB's (and TWS's) checks of an order: what they refuse (error 201 with IB's reason, 200 for an
unknown contract, 451 for TWS's precautionary settings, row 19), what IB cancels at once (its
price check, row 20), and when a MOC/LOC may no longer be entered or cancelled (row 11).

The book calls these with itself: the checks read its market, account, sessions and realism.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from weekly_er_tui.clock import ET

if TYPE_CHECKING:
    from weekly_er_tui.sim.market import Instrument
    from weekly_er_tui.sim.order_types import OrderRequest, SimOrder
    from weekly_er_tui.sim.orders import OrderBook

ORDER_TYPES = ("MKT", "LMT", "STP", "MOC", "LOC")
TIFS = ("DAY", "GTC", "IOC")
MOC_CUTOFF_SECONDS = 600  # NYSE: MOC/LOC entry until 15:50; no exchange cancels after 15:50
NASDAQ_MOC_CUTOFF_SECONDS = 300  # Nasdaq takes them until 15:55
PRECAUTIONS = "Restriction is specified in Precautionary Settings of Global Configuration/Presets."

def validate(book: OrderBook, req: OrderRequest, now: float, order_id: int,
             api: bool = True) -> tuple[int, str] | None:  # fmt: skip
    """IB's refusal of a new order as (code, message), or None when it is accepted. TWS's
    precautions apply to `api` orders (by hand, the trader confirms past them)."""
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
    price = book.market.price(inst.symbol, now)
    precaution = _precaution(book, req, order_id, price, now) if api else None
    if precaution is not None:
        return (451, precaution)
    if req.order_type in ("MOC", "LOC"):
        i = book.sessions.trading_day(now)
        cutoff = book.sessions.closes[i] - _entry_cutoff(book, inst)
        if book.sessions.opens[i] <= now and now >= cutoff:
            return (
                201,
                "Order rejected - reason: the MOC/LOC order entry cutoff time has passed "
                f"for this session ({_et(cutoff)} ET for {inst.exchange})",
            )
    if 0 < book.realism.size_check_value < req.quantity * price:
        return (
            201,
            f"Order rejected - reason: the order value {req.quantity * price:,.0f} USD is "
            f"above IB's size limit of {book.realism.size_check_value:,.0f} USD: please submit a "
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
    pct = book.realism.price_check_pct
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


def _precaution(book: OrderBook, req: OrderRequest, order_id: int, price: float,
                now: float) -> str | None:  # fmt: skip
    """TWS's precautionary settings (row 19), as TWS words a refusal (IBC issue 227 quotes the
    Total Value one; the others follow its pattern), or None."""
    real = book.realism
    head = f'The following order "ID:{order_id}"'
    pct = real.precaution_percentage
    if pct > 0 and req.lmt_price is not None and req.order_type in ("LMT", "LOC"):
        bid, ask = book.market.bid_ask(req.symbol, now)
        ref = ask if req.action == "BUY" else bid
        if ref > 0 and abs(req.lmt_price / ref - 1) * 100 > pct:
            return f"{head} price exceeds the Percentage constraint of {pct:g}%. {PRECAUTIONS}"
    value = req.quantity * (req.lmt_price or price)
    if 0 < real.precaution_total_value < value:
        return (f"{head} value estimate of {value:,.0f} USD exceeds  the Total Value Limit of "
                f"{real.precaution_total_value:,.0f} USD. {PRECAUTIONS}")
    if 0 < real.precaution_size_limit < req.quantity:
        return (f"{head} size of {req.quantity:g} exceeds the Size Limit of "
                f"{real.precaution_size_limit:g}. {PRECAUTIONS}")
    return None


def _entry_cutoff(book: OrderBook, inst: Instrument) -> int:
    """Seconds before the close that a new MOC/LOC is still taken (row 11)."""
    if book.realism.moc_exchange_cutoffs and inst.exchange.upper() == "NASDAQ":
        return NASDAQ_MOC_CUTOFF_SECONDS
    return MOC_CUTOFF_SECONDS


def moc_cancel_refusal(book: OrderBook, order: SimOrder, now: float) -> tuple[int, str] | None:
    """Row 11: a working MOC/LOC is neither cancelled nor reduced from 10 minutes before its
    session's close (15:50 ET; 12:50 on a 13:00 early close), on NYSE and Nasdaq alike."""
    if order.order_type not in ("MOC", "LOC") or not book.realism.moc_exchange_cutoffs:
        return None
    s = book.sessions
    close = s.closes[order.day]
    if not (s.opens[order.day] <= now < close and now >= close - MOC_CUTOFF_SECONDS):
        return None
    return (161, "Cancel attempted when order is not in a cancellable state. Order permId ="
                 f"{order.perm_id}: a MOC/LOC order cannot be cancelled or reduced after "
                 f"{_et(close - MOC_CUTOFF_SECONDS)} ET")


def _et(t: float) -> str:
    return datetime.fromtimestamp(t, ET).strftime("%H:%M")
