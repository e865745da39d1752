"""The account's real executions, as a shadow engine sees them: the other system's trades.

A shadow engine sends nothing, so every execution in the account is the system that trades it
(reason OTHER_SYSTEM in trade_journal.csv, at the execution's own time). They are journaled once
each (by execId) and never counted in the shadow engine's store: the would-be book is the
would-be orders' (broker/sender.py), never another system's fills, even one whose orderRef looks
like ours. No fill listener is told.

IB pushes execDetails only to the client that placed the order (and to the Master API client
set in TWS); the day's executions of every client come with reqExecutions. So the day's
executions are asked at every resync, and again after every position change (coalesced, and at
most once every REQUEST_SPACING real seconds): a position that moved is an execution somewhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from ib_async import IB, Trade
from ib_async import Fill as IBFill

from weekly_er_tui.clock import Clock
from weekly_er_tui.journal import Fill, Journal

log = logging.getLogger("weekly_er_tui.orders")

OTHER_SYSTEM = "OTHER_SYSTEM"
REQUEST_SPACING = 0.5  # real seconds between two reqExecutions after position changes
REQUEST_TIMEOUT = 10.0


class OtherSystemFills:
    """Journals the account's executions (FillRecorder's place in a shadow engine)."""

    def __init__(self, ib: IB, journal: Journal, clock: Clock) -> None:
        self.ib = ib
        self.journal = journal
        self.clock = clock
        self._task: asyncio.Task[None] | None = None
        self._again = False
        ib.execDetailsEvent += self._on_exec
        ib.commissionReportEvent += self._on_exec
        ib.positionEvent += self._on_position

    def on_fill(self, fn: Callable[[Fill], None]) -> None:
        """No listener is told: another system's fills are not the strategy's."""

    def close(self) -> None:
        self.ib.execDetailsEvent -= self._on_exec
        self.ib.commissionReportEvent -= self._on_exec
        self.ib.positionEvent -= self._on_position
        if self._task is not None:
            self._task.cancel()
        for f in self.ib.fills():
            self.record(f)

    def _on_exec(self, trade: Trade, fill: IBFill, *_: Any) -> None:
        self.record(fill)

    def _on_position(self, *_: Any) -> None:
        if self._task is not None and not self._task.done():
            self._again = True
            return
        with contextlib.suppress(RuntimeError):  # no running loop: the next resync asks
            self._task = asyncio.get_running_loop().create_task(self._ask(), name="executions")

    async def _ask(self) -> None:
        while True:
            self._again = False
            await asyncio.sleep(REQUEST_SPACING)  # the position's own execution is on its way
            if self.ib.isConnected():
                await self.resync(self.ib)
            if not self._again:
                return

    async def resync(self, ib: IB) -> dict[str, Any]:
        """The day's executions of every client in the account, each journaled once."""
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT):
                fills = await ib.reqExecutionsAsync()
        except (TimeoutError, ConnectionError) as exc:
            log.warning("the day's executions could not be read (%r)", exc)
            fills = ib.fills()
        new = sum(1 for f in fills if self.record(f))
        return {"other_system_fills": new}

    def record(self, fill: IBFill) -> bool:
        """Journal one execution once, at its own time. True if it was new."""
        ex = fill.execution
        if self.journal.has_fill(ex.execId):
            return False
        report = fill.commissionReport
        commission = report.commission if report and report.execId else None
        self.journal.record_fill(Fill(
            exec_id=ex.execId, symbol=fill.contract.symbol, side=ex.side,
            quantity=float(ex.shares), price=float(ex.price), order_ref=ex.orderRef,
            order_id=ex.orderId, perm_id=ex.permId, commission=commission,
            realized_pnl=None, reason=OTHER_SYSTEM, timestamp=ex.time or self.clock.now(),
        ))
        return True
