"""The Closer: the one owner of every closing action.

The trader's flatten, the emergency stop, the daily-loss reduction, the Friday close and its backup
all ask it, never the executor directly. Run apart they fought: each opened with its own cancel
(a global cancel cancels the other's orders), each re-sent what the other had working, and each
gave its own verdict (a false CRITICAL "Emergency close INCOMPLETE" while the account was flat).

- One close at a time. A request that arrives while a close runs joins it: the scopes are merged
  (the whole account absorbs everything; symbols and the strategy's book add up), the running
  attempt is stopped (its orders stay working, and the never-oversell rule in broker/orders.py
  waits for them instead of sending them again) and one close of the merged scope goes on.
- A global cancel only when the scope is the whole account.
- One verdict at the end, journaled once (EMERGENCY_CLOSE "Close finished"), with the CRITICAL
  "INCOMPLETE" alert only when the account-wide close really left something open.
- What is being closed, why and how far it got is published (`progress`, in EngineState).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from weekly_er_tui.broker.closing import CloseRequest
from weekly_er_tui.broker.orders import FlattenResult, OrderExecutor
from weekly_er_tui.clock import Clock
from weekly_er_tui.journal import Journal
from weekly_er_tui.listeners import tell
from weekly_er_tui.model import Alert, CloseProgress, EventType, Severity
from weekly_er_tui.risk.gate import OrderReason

log = logging.getLogger("weekly_er_tui.safety")

# The reason the merged close's orders carry: the most urgent of the requests.
_URGENCY: tuple[OrderReason, ...] = ("EMERGENCY", "DAILY_LOSS", "FRIDAY_CLOSE", "MANUAL", "EXIT")


@dataclass(slots=True)
class _Scope:
    account: bool = False
    whole: set[str] = field(default_factory=set)
    owned: list[Callable[[], Mapping[str, float]]] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    whys: list[str] = field(default_factory=list)
    cancel_first: bool = False

    def add(self, req: CloseRequest) -> None:
        self.account |= req.symbols is None and req.owned is None
        self.whole |= set(req.symbols or ())
        if req.owned is not None:
            self.owned.append(req.owned)
        self.reasons.append(req.reason)
        if req.why not in self.whys:
            self.whys.append(req.why)
        self.cancel_first |= req.cancel_first

    @property
    def reason(self) -> str:
        return min(self.reasons, key=lambda r: _URGENCY.index(r) if r in _URGENCY else 99)

    def book(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for fn in self.owned:
            out.update(fn())
        return {s: q for s, q in out.items() if s not in self.whole}

    def describe(self) -> str:
        if self.account:
            return "the whole account"
        parts = []
        if self.whole:
            parts.append(", ".join(sorted(self.whole)))
        if self.owned:
            parts.append("the strategy's positions")
        return " and ".join(parts) or "nothing"


def _shadow(executor: OrderExecutor) -> bool:
    """Shadow mode: the executor's sender sends nothing (broker/sender.py)."""
    sender = getattr(executor, "sender", None)
    return sender is not None and not sender.live


def _reduces(action: str, position: float) -> bool:
    return (action == "SELL" and position > 0) or (action == "BUY" and position < 0)


class Closer:
    """Every closing action, one at a time, scopes merged; see the module docstring."""

    def __init__(self, executor: OrderExecutor, journal: Journal, clock: Clock,
                 alert: Callable[[Alert], None] | None = None,
                 on_change: Callable[[], None] | None = None) -> None:
        self.executor = executor
        self.journal = journal
        self.clock = clock
        self._alert = alert
        self._on_change = on_change
        self._scope: _Scope | None = None
        self._waiters: list[asyncio.Future[FlattenResult]] = []
        self._runner: asyncio.Task[None] | None = None
        self._attempt: asyncio.Task[FlattenResult] | None = None
        self._grew = False
        self._resend = False  # a joining request asked to cancel and send again (the backup)
        self.progress = CloseProgress()

    @property
    def running(self) -> bool:
        return self._runner is not None and not self._runner.done()

    async def close(self, request: CloseRequest) -> FlattenResult:
        """Close `request`'s scope (joining a close already running); the close's one result."""
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[FlattenResult] = loop.create_future()
        self._waiters.append(waiter)
        if self._scope is None:
            self._scope = _Scope()
        self._scope.add(request)
        if self.running:
            self._grew = True
            self._resend |= request.resend
            self._publish(why=tuple(self._scope.whys), scope=self._scope.describe(),
                          targets=self._targets(self._scope))
            self.journal.event(
                EventType.EMERGENCY_CLOSE, Severity.HIGH,
                f"Close request joins the close running ({request.why}): now closing "
                f"{self._scope.describe()}", {"reason": request.reason, "joined": True},
            )
            if self._attempt is not None and not self._attempt.done():
                self._attempt.cancel()  # its orders stay working and are waited for, not re-sent
        else:
            self._runner = asyncio.create_task(self._run(), name="closer")
        return await asyncio.shield(waiter)

    async def _run(self) -> None:
        scope = self._scope
        assert scope is not None
        started = self.clock.now()
        self._publish(running=True, scope=scope.describe(), why=tuple(scope.whys),
                      targets=self._targets(scope), phase="closing", started_at=started,
                      finished_at=None, verdict="", closed=(), remaining=())
        if scope.account:
            n = len(self.executor.open_positions())
            self.journal.event(
                EventType.EMERGENCY_CLOSE, Severity.CRITICAL,
                ("SHADOW, nothing is sent: " if _shadow(self.executor) else "")
                + f"Emergency close of ALL {n} positions started (every position in the account, "
                f"the trader's own included): {'; '.join(scope.whys)}",
                {"reason": scope.reason, "scope": "account", "why": list(scope.whys)},
            )
        result: FlattenResult | None = None
        error: BaseException | None = None
        try:
            first = True
            while True:
                self._grew = False
                cancel, self._resend = first or self._resend, False
                self._attempt = asyncio.ensure_future(self._flatten(scope, cancel=cancel))
                first = False
                try:
                    result = await self._attempt
                except asyncio.CancelledError:
                    if not self._grew:
                        raise
                    continue  # a request joined: close the merged scope
                if not self._grew:
                    break
        except asyncio.CancelledError as exc:
            error = exc
            raise
        except Exception as exc:
            log.exception("close failed")
            error = exc
        finally:
            waiters, self._waiters = self._waiters, []
            self._scope = None
            self._attempt = None
            self._finish(scope, result, error, started)
            for w in waiters:
                if w.done():
                    continue
                if result is not None:
                    w.set_result(result)
                else:
                    w.set_exception(error if isinstance(error, Exception)
                                    else RuntimeError("the close was stopped"))

    async def _flatten(self, scope: _Scope, *, cancel: bool) -> FlattenResult:
        """One attempt at the merged scope. The first attempt of a close cancels as its requests
        ask; a later one (a request joined) only when the joiner asked to send again (the
        Friday close's backup): the close's own orders may be working, half filled, and
        cancelling them (a global cancel) would have the attempt send the rest again. Widened to
        the whole account later, it cancels only the working orders that close nothing."""
        if not cancel and scope.account:
            await self._cancel_orders_that_close_nothing()
        why = "; ".join(scope.whys)
        if scope.account:
            return await self.executor.flatten(scope.reason, cancel_first=cancel, why=why)
        owned = scope.book if scope.owned else None
        return await self.executor.flatten(
            scope.reason, sorted(scope.whole) if scope.whole else None, owned=owned,
            cancel_first=scope.cancel_first and cancel, why=why,
        )

    def _targets(self, scope: _Scope) -> tuple[str, ...]:
        """The open positions the close is for: what the screen counts (a Friday close closes
        the strategy's, not the trader's own in the same account)."""
        held = self.executor.open_positions()
        if scope.account:
            return tuple(sorted(held))
        return tuple(sorted((scope.whole | set(scope.book())) & set(held)))

    async def _cancel_orders_that_close_nothing(self) -> None:
        positions = self.executor.open_positions()
        others = [t for t in self.executor.working_orders()
                  if not _reduces(t.order.action, positions.get(t.contract.symbol, 0.0))]
        if others:
            await self.executor.cancel_orders(others)

    def _finish(self, scope: _Scope, result: FlattenResult | None,
                error: BaseException | None, started: datetime) -> None:
        now = self.clock.now()
        if result is None:
            verdict = f"FAILED: {error!r}"
            self.journal.event(EventType.EMERGENCY_CLOSE, Severity.CRITICAL,
                               f"Close finished: {verdict} ({scope.describe()})",
                               {"flat": False, "error": repr(error)})
            self._publish(running=False, phase="failed", verdict=verdict, finished_at=now)
            return
        what = "account" if scope.account else "close"
        verdict = (f"{what} is FLAT" if result.flat else f"{what} is NOT flat: "
                   + ", ".join(result.remaining or ("working orders",)))
        if result.shadow:  # nothing was sent: say what it would have been
            verdict = (f"SHADOW, nothing sent: would have closed "
                       f"{', '.join(result.closed) or 'nothing'}"
                       + (f"; could not: {', '.join(result.remaining)}" if result.remaining
                          else ""))
        if scope.account or len(scope.reasons) > 1:
            # One verdict for the merged close (a close of the strategy's or of one symbol
            # alone is reported by its requester: the Friday close, the daily-loss reduction).
            self.journal.event(
                EventType.EMERGENCY_CLOSE, Severity.CRITICAL if scope.account else Severity.HIGH,
                f"{'Emergency close' if scope.account else 'Close'} finished: {verdict}; closed "
                f"{len(result.closed)}, failed {len(result.failed)}, remaining "
                f"{', '.join(result.remaining) or 'none'}, working orders "
                f"{result.working_orders} ({scope.describe()}: {'; '.join(scope.whys)})",
                {**result.to_dict(), "scope": "account" if scope.account else "symbols",
                 "why": list(scope.whys), "requests": len(scope.reasons)},
            )
        self._publish(running=False, phase="done", verdict=verdict, finished_at=now,
                      closed=result.closed, remaining=result.remaining)
        if scope.account and not result.flat and not result.shadow:
            self._send(Alert(
                key="emergency_stop:incomplete", priority=Severity.CRITICAL, kind="safety",
                title=f"Emergency close INCOMPLETE: {verdict}",
                body="Positions still open: " + ", ".join(result.remaining)
                + "\nClose them in TWS now.",
                facts=result.to_dict(),
            ))

    def _publish(self, **changes: Any) -> None:
        self.progress = replace(self.progress, **changes)
        tell(self._on_change, what="closer", logger=log)

    def _send(self, alert: Alert) -> None:
        tell(self._alert, alert, what=f"alert {alert.key}", logger=log)

    async def stop(self) -> None:
        """Stop a running close (engine shutdown): its orders stay as they are."""
        if self._runner is not None and not self._runner.done():
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._runner
