"""logs/shadow_orders.csv: what a shadow engine would have sent, and what it would have closed.

A shadow engine (`run --shadow`, `"mode": "shadow"`) decides everything and sends nothing. Every
order it would have sent is one ORDER row: its orderRef, the pre-trade gate's verdict, and the
price it would likely have got at that instant (the bid for a sell, the ask for a buy; with no
bid or ask, the last trade, then the position's mark price, then the order's limit; with none of
them, blank and `price_source` "none"). Every cancel it would have sent is a CANCEL or
CANCEL_ALL row, and every closing action (the emergency stop, the daily-loss reduction, the
Friday close and its backup, the trader's flatten) is one CLOSE row naming what it would have
closed, before the ORDER rows of that close.

Append-only like the other journals (journal.CsvAppender): header once, a row per call, flushed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from weekly_er_tui.clock import ET
from weekly_er_tui.journal import CsvAppender

SHADOW_ORDERS = "shadow_orders.csv"
SHADOW_COLUMNS = (
    "timestamp", "kind", "order_ref", "symbol", "side", "quantity", "order_type", "limit_price",
    "reason", "verdict", "likely_price", "price_source", "bid", "ask", "note",
)

# kind
ORDER, CANCEL, CANCEL_ALL, CLOSE = "ORDER", "CANCEL", "CANCEL_ALL", "CLOSE"
# verdict of an ORDER row
ACCEPTED, DENIED = "ACCEPTED", "DENIED"


def _num(v: float | None) -> str:
    if v is None:
        return ""
    return str(int(v)) if float(v).is_integer() else f"{v:.4f}".rstrip("0")


@dataclass(frozen=True, slots=True)
class LikelyPrice:
    """The price an order would likely have got, and where it came from."""

    price: float | None
    source: str  # bid, ask, last, mark, limit or none
    bid: float | None = None
    ask: float | None = None


def likely_price(side: str, bid: float | None, ask: float | None, last: float | None,
                 mark: float | None, limit: float | None) -> LikelyPrice:
    """A sell gets the bid, a buy the ask; without that side of the quote the last trade, then
    the mark price, then the order's own limit."""
    def ok(v: float | None) -> bool:
        return v is not None and v == v and v > 0  # not None, not NaN, positive

    touch, name = (bid, "bid") if side == "SELL" else (ask, "ask")
    for value, source in ((touch, name), (last, "last"), (mark, "mark"), (limit, "limit")):
        if ok(value):
            return LikelyPrice(value, source, bid if ok(bid) else None, ask if ok(ask) else None)
    return LikelyPrice(None, "none", bid if ok(bid) else None, ask if ok(ask) else None)


class ShadowJournal:
    """The shadow engine's record of what it would have done (logs/shadow_orders.csv)."""

    def __init__(self, data_dir: Path | str) -> None:
        self.path = Path(data_dir) / "logs" / SHADOW_ORDERS
        self._csv = CsvAppender(self.path, SHADOW_COLUMNS)

    def order(self, when: datetime, *, order_ref: str, symbol: str, side: str, quantity: float,
              order_type: str, limit_price: float | None, reason: str, verdict: str,
              price: LikelyPrice, note: str = "") -> None:
        self._row(when, ORDER, order_ref=order_ref, symbol=symbol, side=side,
                  quantity=_num(quantity), order_type=order_type, limit_price=_num(limit_price),
                  reason=reason, verdict=verdict, likely_price=_num(price.price),
                  price_source=price.source, bid=_num(price.bid), ask=_num(price.ask), note=note)

    def cancel(self, when: datetime, *, order_ref: str, symbol: str, note: str) -> None:
        self._row(when, CANCEL, order_ref=order_ref, symbol=symbol, note=note)

    def cancel_all(self, when: datetime, note: str) -> None:
        self._row(when, CANCEL_ALL, note=note)

    def close_action(self, when: datetime, *, reason: str, note: str) -> None:
        self._row(when, CLOSE, reason=reason, note=note)

    def _row(self, when: datetime, kind: str, **values: str) -> None:
        values["timestamp"] = when.astimezone(ET).isoformat(timespec="milliseconds")
        values["kind"] = kind
        self._csv.append([values.get(c, "") for c in SHADOW_COLUMNS], fsync=False)

    def close(self) -> None:
        self._csv.close()
