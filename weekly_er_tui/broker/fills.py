"""FillRecorder: the only way a fill enters the app.

An execution is counted when it happens (its execDetails): the store records it once, keyed by
execId, in one transaction with its intent's progress and the strategy's tracked position, so a
fresh entry is never briefly an orphan; then the event and the listeners. Its row in
trade_journal.csv follows with the commission report (which can trail the fill), or without it
after COMMISSION_GRACE; the report's figures are added to the store's execution when they come.
An execution correction (the same execId up to its last period, `.01` -> `.02`) replaces the
execution it corrects in every quantity; the journal gets its own row saying what it corrects.
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
from weekly_er_tui.listeners import notify
from weekly_er_tui.model import EventType, Severity
from weekly_er_tui.order_life import ExecutionRecord
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


def _costs(fill: IBFill) -> tuple[float | None, float | None]:
    """The commission report's commission and realized P&L, None where IB left them unset.
    ib_async turns IB's unset realizedPNL (max double, every opening fill) into 0.0, so a 0.0 is
    read as unset: an exact zero realized P&L after commission is not a figure IB reports."""
    report = fill.commissionReport
    if not report or not report.execId:
        return None, None
    realized = _clean(report.realizedPNL)
    return _clean(report.commission), None if realized == 0.0 else realized


class FillRecorder:
    """Counts every execution once (by execId) when it happens, journals it with its
    commission, then tells others."""

    def __init__(self, ib: IB, journal: Journal, store: Store, clock: Clock) -> None:
        self.ib = ib
        self.journal = journal
        self.store = store
        self.clock = clock
        self._listeners: list[FillListener] = []
        self._grace: dict[str, asyncio.TimerHandle] = {}
        self._unwritten: dict[str, IBFill] = {}  # counted, its row waiting for the commission
        ib.execDetailsEvent += self._on_exec
        ib.commissionReportEvent += self._on_commission

    def on_fill(self, fn: FillListener) -> None:
        self._listeners.append(fn)

    def close(self) -> None:
        """Stop listening; a row still waiting for its commission report is written now,
        without it (a command that flattens and exits must not leave its fills unjournaled)."""
        self.ib.execDetailsEvent -= self._on_exec
        self.ib.commissionReportEvent -= self._on_commission
        for handle in self._grace.values():
            handle.cancel()
        self._grace.clear()
        for fill in list(self._unwritten.values()):
            self.record(fill)

    def _on_exec(self, trade: Trade, fill: IBFill) -> None:
        self.count(fill)
        exec_id = fill.execution.execId
        if self.journal.has_fill(exec_id) or exec_id in self._grace:
            return
        # The commission report follows the execution; give it a moment, but never lose the row.
        loop = asyncio.get_running_loop()
        self._unwritten[exec_id] = fill
        self._grace[exec_id] = loop.call_later(COMMISSION_GRACE, self.record, fill)

    def _on_commission(self, trade: Trade, fill: IBFill, report: Any) -> None:
        self.record(fill)

    async def resync(self, ib: IB) -> dict[str, Any]:
        """After a reconnect: count and journal the day's executions missed while away."""
        new = sum(1 for f in ib.fills() if self.record(f))
        return {"fills_recovered": new}

    def record(self, fill: IBFill) -> bool:
        """Count the execution (if not yet) and journal it with what is known of its
        commission. True when the execution was new to the app."""
        ex = fill.execution
        handle = self._grace.pop(ex.execId, None)
        if handle is not None:
            handle.cancel()
        self._unwritten.pop(ex.execId, None)
        counted = self.count(fill)
        commission, realized = _costs(fill)
        if commission is not None or realized is not None:
            self.store.set_execution_costs(ex.execId, commission, realized)
        if not self.journal.has_fill(ex.execId):
            self._journal(fill, commission, realized)
        return counted

    def count(self, fill: IBFill) -> bool:
        """Count one execution in the store (once), then publish it. False if counted before."""
        ex = fill.execution
        if self.store.execution(ex.execId) is not None:
            return False
        now = self.clock.now()
        intent = self.store.intent(ex.orderRef) if ex.orderRef else None
        reason = intent.reason if intent else ("EXTERNAL" if not ex.orderRef else "UNKNOWN_REF")
        record = ExecutionRecord(
            exec_id=ex.execId, order_ref=ex.orderRef, symbol=fill.contract.symbol,
            signed_qty=_signed(ex.side, float(ex.shares)), price=float(ex.price),
            at=now.isoformat(),
        )
        # Journaled by a version that did not count executions in the store: its quantities
        # are in the store already; record it without adding them again.
        already = self.journal.has_fill(ex.execId)
        applied = self.store.apply_execution(record, now, count=not already)
        if applied is None or already:
            return False
        entry = self._entry(fill, reason, None, None)
        if applied.replaced is not None:
            old = applied.replaced
            self.journal.event(
                EventType.EXECUTION_CORRECTED, Severity.MEDIUM,
                f"IB corrected execution {old.exec_id} ({abs(old.signed_qty):g} {old.symbol} @ "
                f"{old.price:.2f}) to {ex.execId}: {ex.side} {entry.quantity:g} @ "
                f"{entry.price:.2f} (orderRef {ex.orderRef or '-'}, {reason}); the correction "
                "replaces it in the intent's fill and the tracked position",
                {"exec_id": ex.execId, "corrects": old.exec_id, "order_ref": ex.orderRef,
                 "shares_change": applied.delta, "reason": reason},
            )
        else:
            self.journal.event(
                EventType.ORDER_FILLED, Severity.INFO,
                f"{ex.side} {entry.quantity:g} {entry.symbol} @ {entry.price:.2f} "
                f"(orderRef {ex.orderRef or '-'}, {reason})",
                {"exec_id": ex.execId, "order_ref": ex.orderRef, "order_id": ex.orderId,
                 "reason": reason},
            )
        notify(self._listeners, entry, what=f"fill {ex.execId}", logger=log)
        return True

    def _entry(self, fill: IBFill, reason: str, commission: float | None,
               realized: float | None) -> Fill:
        ex = fill.execution
        return Fill(
            exec_id=ex.execId, symbol=fill.contract.symbol, side=ex.side,
            quantity=float(ex.shares), price=float(ex.price), order_ref=ex.orderRef,
            order_id=ex.orderId, perm_id=ex.permId, commission=commission,
            realized_pnl=realized, reason=reason, timestamp=self.clock.now(),
        )

    def _journal(self, fill: IBFill, commission: float | None, realized: float | None) -> None:
        ex = fill.execution
        intent = self.store.intent(ex.orderRef) if ex.orderRef else None
        reason = intent.reason if intent else ("EXTERNAL" if not ex.orderRef else "UNKNOWN_REF")
        counted = self.store.execution(ex.execId)
        if counted is not None and counted.corrects:
            reason = f"CORRECTION of {counted.corrects} ({reason})"
        self.journal.record_fill(self._entry(fill, reason, commission, realized))
