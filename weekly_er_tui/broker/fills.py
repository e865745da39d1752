"""FillRecorder: the only way a fill enters the app.

Every execution is journaled (keyed by execId, exactly once) before anything else happens with
it; then the store (intent progress, the strategy's tracked positions); then the listeners.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable
from typing import Any

from ib_async import IB, Trade
from ib_async import Fill as IBFill

from weekly_er_tui.clock import Clock
from weekly_er_tui.journal import Fill, Journal
from weekly_er_tui.model import EventType, Severity
from weekly_er_tui.store import Store

log = logging.getLogger("weekly_er_tui.orders")

COMMISSION_GRACE = 3.0  # real seconds to wait for a commission report before journaling without

FillListener = Callable[[Fill], None]


def _signed(side: str, qty: float) -> float:
    return qty if side.upper() in ("BOT", "BUY") else -qty


def _clean(v: float | None) -> float | None:
    if v is None or math.isnan(v) or abs(v) >= 1e300:
        return None
    return v


class FillRecorder:
    """Journals every execution once (by execId), then updates the store, then tells others."""

    def __init__(self, ib: IB, journal: Journal, store: Store, clock: Clock) -> None:
        self.ib = ib
        self.journal = journal
        self.store = store
        self.clock = clock
        self._listeners: list[FillListener] = []
        self._grace: dict[str, asyncio.TimerHandle] = {}
        ib.execDetailsEvent += self._on_exec
        ib.commissionReportEvent += self._on_commission

    def on_fill(self, fn: FillListener) -> None:
        self._listeners.append(fn)

    def close(self) -> None:
        self.ib.execDetailsEvent -= self._on_exec
        self.ib.commissionReportEvent -= self._on_commission
        for handle in self._grace.values():
            handle.cancel()
        self._grace.clear()

    def _on_exec(self, trade: Trade, fill: IBFill) -> None:
        exec_id = fill.execution.execId
        if self.journal.has_fill(exec_id) or exec_id in self._grace:
            return
        # The commission report follows the execution; give it a moment, but never lose the fill.
        loop = asyncio.get_running_loop()
        self._grace[exec_id] = loop.call_later(COMMISSION_GRACE, self.record, fill)

    def _on_commission(self, trade: Trade, fill: IBFill, report: Any) -> None:
        self.record(fill)

    async def resync(self, ib: IB) -> dict[str, Any]:
        """After a reconnect: journal the day's executions that were missed while away."""
        new = sum(1 for f in ib.fills() if self.record(f))
        return {"fills_recovered": new}

    def record(self, fill: IBFill) -> bool:
        ex = fill.execution
        handle = self._grace.pop(ex.execId, None)
        if handle is not None:
            handle.cancel()
        if self.journal.has_fill(ex.execId):
            return False
        report = fill.commissionReport
        commission = _clean(report.commission) if report and report.execId else None
        realized = _clean(report.realizedPNL) if report and report.execId else None
        intent = self.store.intent(ex.orderRef) if ex.orderRef else None
        reason = intent.reason if intent else ("EXTERNAL" if not ex.orderRef else "UNKNOWN_REF")
        entry = Fill(
            exec_id=ex.execId, symbol=fill.contract.symbol, side=ex.side,
            quantity=float(ex.shares), price=float(ex.price), order_ref=ex.orderRef,
            order_id=ex.orderId, perm_id=ex.permId, commission=commission,
            realized_pnl=realized, reason=reason, timestamp=self.clock.now(),
        )
        # 1. Journal (fsynced) before anything else happens with it.
        if not self.journal.record_fill(entry):
            return False
        signed = _signed(ex.side, float(ex.shares))
        now = self.clock.now()
        # 2. The store: intent progress, and the strategy's tracked positions.
        if intent is not None:
            self.store.update_intent(
                intent.order_ref, "FILLED" if intent.filled + abs(signed) >= intent.quantity
                else "PARTIAL", now, order_id=ex.orderId, perm_id=ex.permId,
                filled=intent.filled + abs(signed),
            )
        tracked = self.store.tracked_positions().get(entry.symbol)
        if intent is not None and intent.reason == "ENTRY":
            self.store.track_position(entry.symbol, signed, ex.orderRef, now)
        elif tracked is not None:
            # A close never turns a tracked long into a tracked short: clamp at zero.
            if (tracked.quantity > 0) != (tracked.quantity + signed > 0):
                self.store.untrack_position(entry.symbol)
            else:
                self.store.track_position(entry.symbol, signed, tracked.order_ref, now)
        # 3. Then everyone else.
        self.journal.event(
            EventType.ORDER_FILLED, Severity.INFO,
            f"{ex.side} {entry.quantity:g} {entry.symbol} @ {entry.price:.2f} "
            f"(orderRef {ex.orderRef or '-'}, {reason})",
            {"exec_id": ex.execId, "order_ref": ex.orderRef, "order_id": ex.orderId,
             "reason": reason, "commission": commission},
        )
        for fn in list(self._listeners):
            try:
                fn(entry)
            except Exception:
                log.exception("fill listener failed for %s", ex.execId)
        return True
