"""How large a closing order may be: the never-oversell rule, and what it needs to know.

A closing order for a symbol never exceeds the position, minus what is already working to close
it, minus what has filled and IB's position stream has not reported yet. Without the last two a
restart in the middle of a close (its orders still working) or a position message trailing a
fill by a few seconds sells the same shares twice and leaves the account short.

`closing_quantity` is the pure rule. `UnreportedFills` keeps the fills IB's position stream has
not caught up with, dropped once a position message for the symbol arrives after them: the
executions (execDetails), and the shares an order's status already says are filled while their
executions have not come (a real gateway sends orderStatus Filled before execDetails: in that
gap the order is done, its last shares neither working nor in an execution nor in the position,
and a close that looked then sent them again, 1.5x the position). `working_to_close` sums the
working orders that reduce a position.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ib_async import IB, Trade
from ib_async import Fill as IBFill
from ib_async import Position as IBPosition

from .order_status import DONE_STATES

# Real seconds a fill counts as unreported when no position message follows it: a gateway that
# sent the position before the execution would otherwise keep the fill pending forever (and the
# close short of what it must sell). Counting it for a while errs on the side of selling less.
UNREPORTED_GRACE = 15.0


def _sign(x: float) -> int:
    return (x > 0) - (x < 0)


def closing_quantity(position: float, working: float, unreported: float,
                     owned: float | None = None, held_before: float = 0.0) -> float:
    """Shares (>= 0) a new closing order may be for.

    `position`: IB's position (signed). `unreported`: signed fills not in it yet. `working`:
    shares of working orders that already close it. `owned`: the caller's own part (the
    strategy's book, signed); None closes the whole position. `held_before`: what the account
    held in the symbol before the strategy's entry (the trader's own, signed).

    With `owned`, the close leaves the trader's own holding (position minus the book) as it is:
    the trader's 100 AAPL beside the strategy's 43 stay, and a trader's short of 50 XOM beside
    the strategy's 90 long is still -50 after the close. When the position is smaller than the
    book because the trader sold strategy shares by hand (held_before is not on the other
    side), the close never crosses zero: it sells what is left, at most."""
    actual = position + unreported
    if owned is None:
        keep = 0.0
    else:
        own_now = actual - owned
        if own_now * owned >= 0:
            keep = own_now
        elif own_now * held_before > 0:
            # The trader's own holding on the other side, as before the entry: kept, never more.
            keep = _sign(own_now) * min(abs(own_now), abs(held_before))
        else:
            keep = 0.0
    side = _sign(actual - keep)
    if side == 0 or (owned is not None and side != _sign(owned)):
        return 0.0
    target = abs(actual - keep)
    if owned is not None:
        target = min(target, abs(owned))
    return max(0.0, target - max(0.0, working))


def closing_direction(position: float, owned: float | None) -> float:
    """+1 when the close sells, -1 when it buys: against the book when there is one (the
    position itself may be on the other side, a trader's short beside a strategy long)."""
    return float(_sign(owned if owned else position))


def remaining(trade: Trade) -> float:
    """What a working order has still to fill: by its executions or its status, whichever knows
    more (execDetails and orderStatus arrive in either order)."""
    filled = max(float(trade.orderStatus.filled or 0.0), trade.filled())
    return max(0.0, float(trade.order.totalQuantity) - filled)


def working_to_close(trades: Iterable[Trade], symbol: str, direction: float,
                     mine: Callable[[Trade], bool] = lambda _t: True) -> tuple[float, list[Trade]]:
    """Shares of `symbol` that working orders (those `mine` accepts) will sell (`direction` +1)
    or buy (-1), and those orders."""
    side = "SELL" if direction > 0 else "BUY"
    found = [t for t in trades if t.contract.symbol == symbol and t.order.action == side
             and t.orderStatus.status not in DONE_STATES and mine(t)]
    return sum(remaining(t) for t in found), found


def filled_ahead(trade: Trade) -> float:
    """Shares (>= 0) the order's status says are filled and no execution has reported yet."""
    return max(0.0, float(trade.orderStatus.filled or 0.0) - trade.filled())


@dataclass(slots=True)
class _Pending:
    at: float
    key: str  # the execId, or "status:<permId>" for shares filled by the status alone
    signed: float
    trade: Trade | None = None  # a status entry: its shares are re-read from the trade

    def shares(self) -> float:
        if self.trade is None:
            return self.signed
        return self.signed * filled_ahead(self.trade)


class UnreportedFills:
    """Fills IB's position stream has not reported yet, per symbol (signed): executions, and
    the shares an order's status reports filled before their executions arrive."""

    def __init__(self, ib: IB, grace: float = UNREPORTED_GRACE) -> None:
        self.ib = ib
        self.grace = grace
        self._pending: dict[str, list[_Pending]] = {}
        ib.execDetailsEvent += self._on_exec
        ib.orderStatusEvent += self._on_status
        ib.positionEvent += self._on_position

    def close(self) -> None:
        self.ib.execDetailsEvent -= self._on_exec
        self.ib.orderStatusEvent -= self._on_status
        self.ib.positionEvent -= self._on_position

    def _on_exec(self, trade: Trade, fill: IBFill) -> None:
        ex = fill.execution
        pending = self._pending.setdefault(fill.contract.symbol, [])
        if any(p.key == ex.execId for p in pending):
            return
        signed = float(ex.shares) if ex.side.upper() in ("BOT", "BUY") else -float(ex.shares)
        pending.append(_Pending(time.monotonic(), ex.execId, signed))

    def _on_status(self, trade: Trade) -> None:
        # Filled by the status, not by an execution yet: counted from now until the position
        # message after it (the execution, when it comes, takes its shares over: `shares()`
        # re-reads the trade).
        if filled_ahead(trade) <= 0:
            return
        key = f"status:{trade.order.permId or trade.order.orderId}"
        pending = self._pending.setdefault(trade.contract.symbol, [])
        for p in pending:
            if p.key == key:
                p.at = time.monotonic()  # more filled by the status: counted from now
                return
        sign = 1.0 if trade.order.action.upper() in ("BUY", "BOT") else -1.0
        pending.append(_Pending(time.monotonic(), key, sign, trade))

    def _on_position(self, position: IBPosition) -> None:
        # The position message carries every fill before it.
        self._pending.pop(position.contract.symbol, None)

    def of(self, symbol: str) -> float:
        pending = self._pending.get(symbol)
        if not pending:
            return 0.0
        cutoff = time.monotonic() - self.grace
        pending[:] = [p for p in pending if p.at >= cutoff]
        return sum(p.shares() for p in pending)

    def settling(self) -> set[str]:
        """Symbols with fills the position stream has not reported yet: IB's position there is
        not the account's yet."""
        return {s for s in list(self._pending) if self.of(s)}

    def to_dict(self) -> dict[str, Any]:
        return {s: self.of(s) for s in sorted(self.settling())}


@dataclass(frozen=True, slots=True)
class CloseRequest:
    """One closing action asked of the closer (safety/closer.py).

    `symbols`: close these symbols' whole positions. `owned`: close the caller's own quantities
    (the strategy's book, read at every attempt). Neither: the whole account."""

    reason: str  # the orders' reason: EMERGENCY, DAILY_LOSS, FRIDAY_CLOSE, ...
    why: str  # what the trader reads: "emergency stop: portfolio down 11%", "Friday close"
    symbols: tuple[str, ...] | None = None
    owned: Callable[[], Mapping[str, float]] | None = None
    cancel_first: bool = True
    # Joining a close already running: cancel its working closing orders and send again (the
    # Friday close's backup: orders too slow for the bell). Without it a joining request waits
    # for them: cancelling half-filled closes and re-sending the rest sends 1.5x every position.
    resend: bool = False
