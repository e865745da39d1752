"""What the executor answers: a submit's result, a flatten's result, and an intent from strings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ib_async import Trade

from weekly_er_tui.order_life import IntentStatus
from weekly_er_tui.risk.gate import (
    ORDER_TYPES,
    REASONS,
    SIDES,
    GateDecision,
    OrderIntent,
)


@dataclass(frozen=True, slots=True)
class SubmitResult:
    intent: OrderIntent
    sent: bool
    decision: GateDecision | None = None
    order_id: int | None = None
    message: str = ""
    trade: Trade | None = field(default=None, compare=False, repr=False)
    # The intent's state after the call: DENIED for our gate's refusal (never recorded).
    status: IntentStatus | None = None


@dataclass(frozen=True, slots=True)
class FlattenResult:
    closed: tuple[str, ...]
    failed: tuple[tuple[str, str], ...]
    remaining: tuple[str, ...]
    working_orders: int
    seconds: float
    shadow: bool = False  # shadow mode: what a close would have done; nothing was sent

    @property
    def flat(self) -> bool:
        return not self.remaining and self.working_orders == 0

    def to_dict(self) -> dict[str, Any]:
        return ({"shadow": True} if self.shadow else {}) | {
            "closed": list(self.closed),
            "failed": [{"symbol": s, "reason": r} for s, r in self.failed],
            "remaining": list(self.remaining),
            "working_orders": self.working_orders,
            "flat": self.flat,
            "seconds": round(self.seconds, 3),
        }


def make_intent(symbol: str, side: str, quantity: float, order_type: str,
                limit_price: float | None, order_ref: str, reason: str) -> OrderIntent:
    """An OrderIntent from plain strings (as the store keeps them), checked against the gate's
    vocabularies."""
    if side not in SIDES or order_type not in ORDER_TYPES or reason not in REASONS:
        raise ValueError(f"bad order intent: side={side!r} type={order_type!r} reason={reason!r}")
    return OrderIntent(symbol, side, quantity, order_type, limit_price, order_ref, reason)
