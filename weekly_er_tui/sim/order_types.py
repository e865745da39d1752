"""What an order is in the simulated gateway: the placeOrder request, the order IB works, one
execution, the book's listener, and a rejection rule (the matching is sim/orders.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

COMMISSION_PER_SHARE = 0.005
COMMISSION_MIN = 1.0
COMMISSION_MAX_PCT = 0.01


class Status:
    PRE_SUBMITTED = "PreSubmitted"
    SUBMITTED = "Submitted"
    FILLED = "Filled"
    CANCELLED = "Cancelled"
    INACTIVE = "Inactive"


DONE = frozenset({Status.FILLED, Status.CANCELLED, Status.INACTIVE})


def commission_for(quantity: float, price: float) -> float:
    """IB fixed pricing: $0.005 a share, at least $1, at most 1% of the trade value."""
    c = max(COMMISSION_MIN, COMMISSION_PER_SHARE * abs(quantity))
    return round(min(c, COMMISSION_MAX_PCT * abs(quantity) * price), 4)


@dataclass(slots=True)
class OrderRequest:
    """What a placeOrder message asked for."""

    symbol: str
    action: str
    quantity: float
    order_type: str
    lmt_price: float | None = None
    aux_price: float | None = None
    tif: str = "DAY"
    outside_rth: bool = False
    order_ref: str = ""
    account: str = ""
    con_id: int = 0
    sec_type: str = "STK"


@dataclass(slots=True)
class SimOrder:
    perm_id: int
    client_id: int
    order_id: int
    symbol: str
    con_id: int
    action: str  # BUY or SELL
    quantity: float
    order_type: str
    lmt_price: float | None
    aux_price: float | None
    tif: str
    outside_rth: bool
    order_ref: str
    account: str
    placed_at: float
    day: int  # session index the order is for (DAY orders expire at its close)
    status: str = Status.PRE_SUBMITTED
    filled: float = 0.0
    avg_fill_price: float = 0.0
    last_fill_price: float = 0.0
    active: bool = False
    triggered: bool = False
    checked_until: float = 0.0
    parts: list[float] = field(default_factory=list)  # quantities of the fills still to come
    part_interval: float = 0.0
    next_part_at: float | None = None
    completed_at: float | None = None
    completed_status: str = ""
    executions: int = 0

    @property
    def remaining(self) -> float:
        return self.quantity - self.filled

    @property
    def is_done(self) -> bool:
        return self.status in DONE

    @property
    def sign(self) -> float:
        return 1.0 if self.action == "BUY" else -1.0


@dataclass(frozen=True, slots=True)
class SimExecution:
    """One fill, as the account and reqExecutions know it."""

    exec_id: str
    order_id: int
    perm_id: int
    client_id: int
    order_ref: str
    symbol: str
    con_id: int
    side: str  # BOT or SLD
    qty: float
    price: float
    time: datetime
    commission: float
    realized_pnl: float | None
    cum_qty: float
    avg_price: float
    account: str

    @property
    def signed_qty(self) -> float:
        return self.qty if self.side == "BOT" else -self.qty


class OrderListener(Protocol):
    def order_accepted(self, order: SimOrder) -> None: ...

    def order_activated(self, order: SimOrder) -> None: ...

    def order_modified(self, order: SimOrder) -> None: ...

    def order_filled(self, order: SimOrder, execution: SimExecution) -> None: ...

    def order_cancelled(self, order: SimOrder, requested: bool, reason: str = "") -> None: ...

    def order_rejected(self, client_id: int, order_id: int, code: int, message: str,
                       order: SimOrder | None = None) -> None: ...


@dataclass(slots=True)
class RejectRule:
    reason: str
    remaining: int | None = None  # None: until cleared
    symbol: str | None = None
    predicate: Callable[[str], bool] | None = None

    def matches(self, symbol: str) -> bool:
        if self.symbol is not None and self.symbol != symbol:
            return False
        return self.predicate is None or self.predicate(symbol)
