"""A close in shadow mode: what it would have closed, journaled; nothing sent.

The executor's flatten hands over to `would_be_flatten` when its sender is a ShadowSender. It
decides the scope the way the live close does and sends each closing order through
`executor.submit` (the gate, the intent, the sender), so the ShadowSender journals every one
with its likely price and books it as a would-be fill; it never waits for IB, since nothing
works there.

What a shadow close closes:
- the whole account (the emergency stop, the trader's flatten, `flatten --yes`, a daily-loss
  HALT): every position IB reports in the account (the other system's: a live engine would
  close them), then whatever the would-be book still holds;
- some symbols (the daily-loss reduction): those symbols' positions in the account, then the
  would-be book's part of them that is left;
- the strategy's own quantities (the Friday close and its backup): the would-be book.
A would-be fill only ever reduces the would-be book toward zero (order_life.tracked_after), so
closing the other system's 150 AAPL takes the book's 43 AAPL to zero, never short.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING

from weekly_er_tui.order_life import IntentStatus

from .order_results import FlattenResult
from .sender import ShadowSender

if TYPE_CHECKING:
    from .orders import OrderExecutor


def _listing(positions: Mapping[str, float]) -> str:
    return ", ".join(f"{s} {q:+g}" for s, q in sorted(positions.items())) or "nothing"


async def would_be_flatten(
    ex: OrderExecutor, sender: ShadowSender, reason: str, symbols: Iterable[str] | None, *,
    owned: Callable[[], Mapping[str, float]] | None, why: str, cancel_first: bool,
    reconnect_timeout: float,
) -> FlattenResult:
    t0 = time.monotonic()
    scope = sorted(set(symbols)) if symbols is not None else None

    def book() -> dict[str, float]:
        mine = dict(owned()) if owned is not None else {
            s: p.quantity for s, p in ex.store.tracked_positions().items()}
        return {s: q for s, q in mine.items() if q and (scope is None or s in scope)}

    if not await ex._link_up(reconnect_timeout):
        left = book() if owned is not None else {**book(), **ex.open_positions(scope)}
        sender.journal.close_action(
            ex.clock.now(), reason=reason,
            note=f"SHADOW: would have waited for the connection to close {_listing(left)}"
                 + (f" ({why})" if why else ""))
        return FlattenResult(closed=(), failed=tuple((s, "not connected") for s in sorted(left)),
                             remaining=tuple(sorted(left)), working_orders=0,
                             seconds=time.monotonic() - t0, shadow=True)
    account = {} if owned is not None else ex.open_positions(scope)
    what = ("the strategy's would-be book" if owned is not None
            else "the whole account" if scope is None else ", ".join(scope))
    sender.journal.close_action(
        ex.clock.now(), reason=reason,
        note=f"SHADOW: would have closed {what}: "
             + (f"account {_listing(account)}; would-be book " if owned is None else "")
             + _listing(book()) + (f" ({why})" if why else ""))
    if cancel_first:
        working = ex.working_orders(scope)
        if scope is None and owned is None:
            sender.cancel_all(len(working))
        else:
            for t in working:
                if owned is None or ex._recorded(t):
                    sender.cancel(t)
    closed: set[str] = set()
    failed: dict[str, str] = {}
    # The account's positions first (a live close would send these), then the book's rest.
    for targets in (account, None):
        for symbol, qty in (targets if targets is not None else book()).items():
            result = await ex.submit(ex.closing_intent(symbol, qty, reason))
            if result.status is IntentStatus.FILLED:
                closed.add(symbol)
                failed.pop(symbol, None)
            else:
                failed[symbol] = result.message or "not sent"
    left = book()
    return FlattenResult(
        closed=tuple(sorted(closed - set(failed) - set(left))),
        failed=tuple(sorted((s, r) for s, r in failed.items())),
        remaining=tuple(sorted(set(left) | set(failed))), working_orders=0,
        seconds=time.monotonic() - t0, shadow=True,
    )
