"""Lost state rebuilt, not forgotten: the strategy's positions from the week's executions.

A state database that is new or empty (deleted, truncated, moved aside as corrupt) while the
account holds positions would make the Friday close see "no strategy position" and leave them
open over the weekend. So at the first connect, when the store holds no intent and no tracked
position, the week's executions of this app's own orders (order_refs.py: WER-..., and wer-... of
an earlier version) are read from the trade journal (every day of the week), from IB's executions
(today's) and its completed orders (today's); what the account still holds of them becomes the
strategy's tracked positions again, and each entry's intent is recorded as filled (so it is
never sent twice). Said loudly: a CRITICAL event and alert that list what was rebuilt.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from ib_async import IB

from weekly_er_tui.clock import ET, Clock
from weekly_er_tui.journal import Journal
from weekly_er_tui.model import Alert, EventType, Severity
from weekly_er_tui.order_refs import is_entry, is_ours
from weekly_er_tui.store import Store

log = logging.getLogger("weekly_er_tui.rebuild")

COMPLETED_ORDERS_TIMEOUT = 10.0  # real seconds


@dataclass(frozen=True, slots=True)
class OurExecution:
    exec_id: str
    order_ref: str
    symbol: str
    quantity: float  # signed: + bought, - sold
    when: datetime


def _signed(side: str, qty: float) -> float:
    return qty if side.upper() in ("BOT", "BUY") else -qty


def _correction_key(exec_id: str) -> str:
    # IB corrects an execution with a later execId differing after the last period (.01 -> .02).
    return exec_id.rsplit(".", 1)[0] if exec_id.count(".") >= 2 else exec_id


def week_start(now: datetime) -> date:
    day = now.astimezone(ET).date()
    return day - timedelta(days=day.weekday())


def strategy_positions(executions: Iterable[OurExecution], held: dict[str, float]
                       ) -> dict[str, float]:
    """What the account still holds of the strategy's own net buys and sells: never more than
    it holds, never the other side of it (the rest is the trader's)."""
    net: dict[str, float] = {}
    for x in executions:
        net[x.symbol] = net.get(x.symbol, 0.0) + x.quantity
    out: dict[str, float] = {}
    for symbol, qty in net.items():
        have = held.get(symbol, 0.0)
        if abs(qty) < 1e-9 or have == 0 or (qty > 0) != (have > 0):
            continue
        out[symbol] = min(abs(qty), abs(have)) * (1 if have > 0 else -1)
    return out


class LostStateRebuild:
    """A resync hook: at the first connect, rebuild an empty store from the week's executions."""

    def __init__(self, store: Store, journal: Journal, clock: Clock,
                 alert: Callable[[Alert], None], account: str = "") -> None:
        self.store = store
        self.journal = journal
        self.clock = clock
        self._alert = alert
        self.account = account
        self._looked = False

    async def resync(self, ib: IB) -> dict[str, Any]:
        if self._looked:
            return {}
        self._looked = True
        if self.store.intents() or self.store.tracked_positions():
            return {}
        executions = self._from_journal() | self._from_ib(ib)
        by_ref = self._merge(executions.values())
        by_ref.update(await self._from_completed_orders(ib, set(by_ref)))
        if not by_ref:
            return {}
        held = {p.contract.symbol: float(p.position)
                for p in ib.positions(self.account) if p.position}
        positions = strategy_positions([x for xs in by_ref.values() for x in xs], held)
        self._record(by_ref, positions)
        return {"rebuilt_positions": len(positions)}

    # -- sources -----------------------------------------------------------------------------
    def _from_journal(self) -> dict[str, OurExecution]:
        monday = week_start(self.clock.now())
        out: dict[str, OurExecution] = {}
        for row in self.journal.trades.rows():
            ref = row.get("order_ref") or ""
            if not is_ours(ref):
                continue
            try:
                when = datetime.fromisoformat(row["timestamp"])
                qty = _signed(row["side"], float(row["quantity"]))
            except (KeyError, TypeError, ValueError):
                continue  # a torn row
            if when.astimezone(ET).date() < monday:
                continue
            out[_correction_key(row["exec_id"])] = OurExecution(
                row["exec_id"], ref, row["symbol"], qty, when)
        return out

    def _from_ib(self, ib: IB) -> dict[str, OurExecution]:
        out: dict[str, OurExecution] = {}
        for f in ib.fills():
            ex = f.execution
            if not is_ours(ex.orderRef):
                continue
            out[_correction_key(ex.execId)] = OurExecution(
                ex.execId, ex.orderRef, f.contract.symbol, _signed(ex.side, float(ex.shares)),
                ex.time if ex.time else self.clock.now())
        return out

    @staticmethod
    def _merge(executions: Iterable[OurExecution]) -> dict[str, list[OurExecution]]:
        by_ref: dict[str, list[OurExecution]] = {}
        for x in executions:
            by_ref.setdefault(x.order_ref, []).append(x)
        return by_ref

    async def _from_completed_orders(self, ib: IB, known: set[str]
                                     ) -> dict[str, list[OurExecution]]:
        """Today's completed orders of ours whose executions were not seen (one line each)."""
        try:
            async with asyncio.timeout(COMPLETED_ORDERS_TIMEOUT):
                trades = await ib.reqCompletedOrdersAsync(apiOnly=True)
        except (TimeoutError, ConnectionError) as exc:
            log.warning("completed orders not available for the rebuild: %r", exc)
            return {}
        out: dict[str, list[OurExecution]] = {}
        for t in trades:
            ref = t.order.orderRef
            filled = float(t.orderStatus.filled or 0)
            if not is_ours(ref) or ref in known or filled <= 0:
                continue
            out[ref] = [OurExecution(f"completed:{ref}", ref, t.contract.symbol,
                                     _signed(t.order.action, filled), self.clock.now())]
        return out

    # -- the record ------------------------------------------------------------------------
    def _record(self, by_ref: dict[str, list[OurExecution]], positions: dict[str, float]
                ) -> None:
        now = self.clock.now()
        entries: list[str] = []
        for ref, xs in sorted(by_ref.items()):
            if not is_entry(ref):
                continue
            qty = sum(x.quantity for x in xs)
            side = "BUY" if qty > 0 else "SELL"
            when = min(x.when for x in xs)
            if self.store.record_intent(ref, xs[0].symbol, side, abs(qty), "MKT", "ENTRY", when,
                                        details={"rebuilt": True}):
                self.store.update_intent(ref, "FILLED", now, filled=abs(qty))
            entries.append(ref)
        for symbol, qty in sorted(positions.items()):
            ref = next((r for r in sorted(by_ref) if is_entry(r)
                        and by_ref[r][0].symbol == symbol), "rebuilt")
            self.store.track_position(symbol, qty, ref, now)
        listing = ", ".join(f"{s} {q:+g}" for s, q in sorted(positions.items())) or "none"
        if positions:
            message = (
                f"State database was empty but the account holds this app's positions: "
                f"rebuilt the strategy's positions from the week's executions: {listing}. "
                f"The Friday close will close them. Check them against TWS."
            )
            self.journal.event(EventType.SYSTEM, Severity.CRITICAL, message,
                               {"rebuilt": positions, "entries": entries})
            self._alert(Alert(
                key="state_rebuilt", priority=Severity.CRITICAL, kind="system",
                title=f"State database lost: strategy positions rebuilt from IB: {listing}",
                body=message, facts={"rebuilt": listing},
            ))
        else:
            self.journal.event(
                EventType.SYSTEM, Severity.HIGH,
                f"State database was empty: this week's entries {', '.join(entries) or 'none'} "
                f"were recorded again from the executions (never sent twice); the account holds "
                f"none of the strategy's positions", {"rebuilt": {}, "entries": entries})
