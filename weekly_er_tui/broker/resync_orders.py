"""The resync of open orders after a (re)connect or a restart: recorded intents matched with what
IB knows by orderRef, our orders still working adopted, and the working orders of another engine
on the same account told apart.

The connect's reqOpenOrders shows only this clientId's orders; reqAllOpenOrders also those an
earlier run placed under another clientId (after a clientId fallback) and another engine's. Both
questions here ask for all of them, through `request_all_open_orders`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from ib_async import IB, Trade

from weekly_er_tui.clock import Clock
from weekly_er_tui.journal import Journal
from weekly_er_tui.model import EventType, Severity
from weekly_er_tui.order_life import IntentStatus
from weekly_er_tui.order_refs import is_ours
from weekly_er_tui.risk.gate import OrderIntent
from weekly_er_tui.store import Store

from .order_results import make_intent
from .order_status import DONE_STATES

log = logging.getLogger("weekly_er_tui.orders")

OPEN_ORDERS_TIMEOUT = 5.0  # real seconds for reqAllOpenOrders at a resync


async def request_all_open_orders(ib: IB, *, unknown: str) -> bool:
    """Ask IB for every open order, of every clientId (ib_async's openTrades() then holds
    them), waiting up to OPEN_ORDERS_TIMEOUT real seconds. No answer is logged with `unknown`
    (what cannot be known without it) and the caller goes on with what ib_async holds.
    True when IB answered."""
    try:
        async with asyncio.timeout(OPEN_ORDERS_TIMEOUT):
            await ib.reqAllOpenOrdersAsync()
    except TimeoutError:
        log.warning("no answer to reqAllOpenOrders in %gs: %s", OPEN_ORDERS_TIMEOUT, unknown)
        return False
    return True


async def foreign_working_orders(ib: IB, store: Store) -> list[str]:
    """Working orders at IB that carry this app's orderRefs but that this data directory never
    recorded, placed by another clientId: another engine trades the account (on another
    machine: the account lock covers one), or this store lost its records. Asked before
    anything is rebuilt or adopted, since both would take them for ours."""
    await request_all_open_orders(ib, unknown="another engine's working orders cannot be told")
    own = ib.client.clientId
    return sorted(
        f"{t.order.orderRef} ({t.contract.symbol}, clientId {t.order.clientId})"
        for t in ib.openTrades()
        if is_ours(t.order.orderRef) and t.order.clientId != own
        and store.intent(t.order.orderRef) is None
    )


async def reconcile(ib: IB, store: Store, journal: Journal, clock: Clock,
                    watch: Callable[[Trade, OrderIntent], None]) -> dict[str, Any]:
    """After a (re)connect, before anything new is decided: match recorded intents with what
    IB knows by orderRef, and adopt our orders still working (`watch` follows each to its end:
    after a restart in the middle of a close, the new closer waits for them instead of selling
    the same shares again). Intents IB never saw become UNSENT and are NOT re-sent."""
    await request_all_open_orders(
        ib, unknown="orders placed by another clientId are not known")
    known: dict[str, str] = {}
    for t in ib.trades():
        if t.order.orderRef:
            known[t.order.orderRef] = t.orderStatus.status
    for f in ib.fills():
        known.setdefault(f.execution.orderRef, "Filled")
    lost: list[str] = []
    for rec in store.intents():
        if not rec.is_open:
            continue
        status = known.get(rec.order_ref)
        if status is None:
            if rec.status in (IntentStatus.RECORDED, IntentStatus.SUBMITTED):
                lost.append(rec.order_ref)
                store.update_intent(rec.order_ref, IntentStatus.UNSENT, clock.now())
        elif status == "Filled":
            store.update_intent(rec.order_ref, IntentStatus.FILLED, clock.now())
        elif status in DONE_STATES:
            # Inactive is IB's refusal; the other done states are cancels.
            store.update_intent(
                rec.order_ref, IntentStatus.REJECTED if status == "Inactive"
                else IntentStatus.CANCELLED, clock.now())
    for t in ib.openTrades():
        ref = t.order.orderRef
        found = store.intent(ref) if ref else None
        if found is not None:
            watch(t, make_intent(found.symbol, found.side, found.quantity,
                                 found.order_type, found.limit_price, ref, found.reason))
    if lost:
        journal.event(
            EventType.ORDER_ERROR, Severity.HIGH,
            f"{len(lost)} recorded order(s) never reached IB and will NOT be re-sent "
            f"automatically: {', '.join(lost)}",
            {"order_refs": lost},
        )
    return {"intents_lost": len(lost), "open_orders_ours": sum(
        1 for t in ib.openTrades() if is_ours(t.order.orderRef))}
