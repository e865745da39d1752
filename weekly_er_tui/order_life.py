"""An order's life: the states an order intent goes through and the moves allowed between them.

One vocabulary for every part: the store keeps it, the broker moves it (only through
`Store.update_intent`, which checks each move here), the strategy and the screen read it.
A move the table does not allow raises IllegalTransition: a bug to see, never a state to guess.
Pure data and rules: no I/O.

    RECORDED --> SUBMITTED --> PARTIAL --> FILLED
        |            |            |
        |            +------------+--> CANCELLED (a cancel: ours, the trader's, IB's expiry)
        |            +------------+--> REJECTED  (IB refused it: 201, Inactive, 321, a 202 with
        |            |                            IB's own reason, any error that ended it)
        +------------+--> UNSENT (recorded, but it never reached IB)

DENIED is our own pre-trade gate's refusal: the order never left, so it is never recorded
(nothing can be sent twice) and lives only in the ORDER_DENIED event and the submit result.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class IntentStatus(StrEnum):
    """Where an order intent is in its life (values are the strings the store has kept)."""

    RECORDED = "RECORDED"  # in the store, about to be sent
    SUBMITTED = "SUBMITTED"  # handed to IB
    PARTIAL = "PARTIAL"  # some of it filled, the rest working (or ended: see filled)
    FILLED = "FILLED"
    CANCELLED = "CANCELLED"  # cancelled: by us, by the trader in TWS, or expired at IB
    REJECTED = "REJECTED"  # IB refused or ended it with an error (IB's reason in the event)
    DENIED = "DENIED"  # our own pre-trade gate refused it: never sent, never recorded
    UNSENT = "UNSENT"  # recorded, but it never reached IB (the link was down)


S = IntentStatus

# An intent in one of these states may still have an order working at the broker.
OPEN_STATUSES = frozenset({S.RECORDED, S.SUBMITTED, S.PARTIAL})

# Every allowed move. A state may "move" to itself where a figure changes without a new state:
# more fills of a PARTIAL order, a correction of a FILLED one, a late fill of a cancelled one.
TRANSITIONS: dict[IntentStatus, frozenset[IntentStatus]] = {
    # A restart's reconcile may find a RECORDED intent already filled or ended at IB.
    S.RECORDED: frozenset({S.SUBMITTED, S.PARTIAL, S.FILLED, S.CANCELLED, S.REJECTED,
                           S.UNSENT}),
    S.SUBMITTED: frozenset({S.PARTIAL, S.FILLED, S.CANCELLED, S.REJECTED, S.UNSENT}),
    S.PARTIAL: frozenset({S.PARTIAL, S.FILLED, S.CANCELLED, S.REJECTED}),
    S.FILLED: frozenset({S.FILLED}),
    S.CANCELLED: frozenset({S.CANCELLED}),
    S.REJECTED: frozenset({S.REJECTED}),
    # UNSENT is our belief that IB never got it; IB's own word about the order overrides it.
    S.UNSENT: frozenset({S.PARTIAL, S.FILLED, S.CANCELLED, S.REJECTED}),
    S.DENIED: frozenset(),
}


class IllegalTransition(Exception):
    """A move the order's life does not allow (for example REJECTED -> CANCELLED)."""

    def __init__(self, order_ref: str, old: IntentStatus, new: IntentStatus) -> None:
        allowed = ", ".join(sorted(TRANSITIONS[old])) or "none"
        super().__init__(
            f"order intent {order_ref}: {old} -> {new} is not allowed (from {old}: {allowed})")
        self.order_ref, self.old, self.new = order_ref, old, new


def check_transition(order_ref: str, old: IntentStatus, new: IntentStatus) -> None:
    if new not in TRANSITIONS[old]:
        raise IllegalTransition(order_ref, old, new)


def after_fill(status: IntentStatus, filled: float, quantity: float) -> IntentStatus:
    """The state after a fill (or a correction) left `filled` of `quantity` done. An order that
    has already ended keeps its end: a late fill changes its figure, not its fate."""
    if status in (S.FILLED, S.CANCELLED, S.REJECTED):
        return status
    return S.FILLED if filled >= quantity - 1e-9 else S.PARTIAL


def tracked_after(tracked: float | None, delta: float, opening: bool) -> float | None:
    """The strategy's tracked position in a symbol after a fill of `delta` shares (None: not
    tracked). Its own entries (`opening`) add; any other fill of our own orders only reduces
    what it tracks, and never turns a tracked long into a tracked short (or back): it stops at
    zero. A fill that is not of our orders (the trader's own, in TWS) is not applied at all
    (Store._track): the strategy's book is its own fills only."""
    if opening:
        qty = (tracked or 0.0) + delta
    elif tracked is None:
        return None
    else:
        qty = tracked + delta
        if qty != 0 and (qty > 0) != (tracked > 0):
            return None
    return None if abs(qty) < 1e-9 else qty


def correction_base(exec_id: str) -> str:
    """IB's execId without its last part: a correction differs from the original only there
    (`0000e0d5.6564f2b5.01.01` -> `.01.02`)."""
    base, dot, _ = exec_id.rpartition(".")
    return base if dot else exec_id


@dataclass(frozen=True, slots=True)
class OrderIntentRecord:
    """One order intent as the store keeps it."""

    order_ref: str
    symbol: str
    side: str
    quantity: float
    order_type: str
    limit_price: float | None
    reason: str
    status: IntentStatus
    created_at: str
    updated_at: str
    order_id: int | None
    perm_id: int | None
    filled: float
    details: dict[str, Any]

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


@dataclass(frozen=True, slots=True)
class ExecutionRecord:
    """One execution as the store keeps it (so a fill is counted once, and a correction
    replaces what it corrects instead of adding to it)."""

    exec_id: str
    order_ref: str
    symbol: str
    signed_qty: float  # + bought, - sold
    price: float
    at: str
    commission: float | None = None
    realized_pnl: float | None = None
    corrects: str = ""  # the execId this one replaces ("" for an original)
    superseded_by: str = ""  # the execId that replaced this one ("" while it stands)


@dataclass(frozen=True, slots=True)
class ExecutionApplied:
    """What recording one execution changed: `delta` is the shares it adds to everything that
    counts shares (the full quantity for a new one, the difference for a correction)."""

    execution: ExecutionRecord
    delta: float
    replaced: ExecutionRecord | None
    intent: OrderIntentRecord | None
