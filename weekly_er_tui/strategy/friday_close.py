"""The Friday close, its emergency backup and the check at the bell (see `weekly_er.py`).

It belongs to the runner, not to the strategy, and runs whenever the strategy is enabled, also
with no calendar or a bad one, so positions the strategy opened are never held over a weekend.

- `close_at` (close_offset_minutes before the last session's close): FRIDAY_CLOSE "started";
  entries not yet sent are SKIPPED; working ENTRY orders are cancelled; every strategy position
  (`store.tracked_positions()`, never orphans or the trader's other positions) is closed with
  `executor.flatten("FRIDAY_CLOSE", symbols=tracked, cancel_first=False)`; "done" with the result.
  If the link is down at close_at, the close waits for it (real time) until the bell and runs as
  soon as it is back; a link back after backup_at goes straight to the backup.
- `backup_at` (backup_offset_minutes before the close): a close still working is stopped (its
  orders are cancelled by the backup's flatten), and whatever strategy position is still open gets
  market orders again, with a CRITICAL alert listing it: FRIDAY_CLOSE "backup".
- The bell: FRIDAY_CLOSE "result": INFO when every strategy position is flat, CRITICAL with an
  alert when one is not (or the link is down and it cannot be verified).

`friday_close_state` shows the week's close times and how far it got.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from weekly_er_tui.broker.closing import CloseRequest
from weekly_er_tui.broker.orders import FlattenResult
from weekly_er_tui.clock import ET
from weekly_er_tui.model import Alert, EventType, FridayPhase, PlanStatus, Severity
from weekly_er_tui.strategy.book import positions_text
from weekly_er_tui.strategy.plan import FridayClose
from weekly_er_tui.strategy.runner_state import RETRY_SECONDS, RunnerState, log


class FridayCloseRunner(RunnerState):
    """Closes what the strategy holds before the weekend, and checks it at the bell."""

    def _working_entries(self) -> list[Any]:
        refs = {e.order_ref for e in self._book.entries.values()}
        out: list[Any] = []
        for trade in self.executor.working_orders():
            ref = trade.order.orderRef
            if not ref:
                continue
            if ref in refs:
                out.append(trade)
                continue
            rec = self.store.intent(ref)
            if rec is not None and rec.reason == "ENTRY":
                out.append(trade)
        return out

    async def _friday_close(self, fc: FridayClose) -> None:
        now = self.clock.now()
        tracked = self._tracked()
        working = self._working_entries()
        self._closing_started = True
        for key, e in self._book.entries.items():
            if e.status is PlanStatus.PLANNED:
                self._book.blocked.pop(key, None)
                self._update(key, PlanStatus.SKIPPED, "the Friday close started before it was sent")
        if not self._book.entries and not tracked and not working:
            self._set_close(FridayPhase.NOTHING, "no plan and no strategy position this week")
            await self.clock.sleep_until(fc.bell)
            self._set_close(FridayPhase.NOTHING, "no plan and no strategy position this week",
                            finished_at=self.clock.now())
            return
        self.journal.event(
            EventType.FRIDAY_CLOSE, Severity.INFO,
            f"Friday close started ({fc.last_session:%a %Y-%m-%d}, bell "
            f"{fc.bell.astimezone(ET):%H:%M} ET): closing strategy positions "
            f"{positions_text(tracked) or '(none)'}; {len(working)} working entry order(s) to "
            "cancel",
            {"phase": "started", "positions": tracked, "working_entries": len(working),
             "close_at": fc.close_at.astimezone(ET).isoformat(),
             "backup_at": fc.backup_at.astimezone(ET).isoformat(),
             "bell": fc.bell.astimezone(ET).isoformat()},
        )
        self._set_close(FridayPhase.CLOSING, started_at=now)
        if await self._link_before(fc.bell) and self.clock.now() < fc.backup_at:
            task = asyncio.ensure_future(self._close_positions())
            if not await self._task_until(task, fc.backup_at):
                self.journal.event(
                    EventType.FRIDAY_CLOSE, Severity.HIGH,
                    "Friday close still working at the backup time: the backup takes over",
                    {"phase": "done", "interrupted": True},
                )
        await self.clock.sleep_until(fc.backup_at)
        if self.clock.now() < fc.bell and await self._link_before(fc.bell):
            task = asyncio.ensure_future(self._backup(fc))
            if not await self._task_until(task, fc.bell):
                log.error("Friday close backup still working at the bell")
        await self.clock.sleep_until(fc.bell)
        self._final_check(fc)

    async def _link_before(self, deadline: datetime) -> bool:
        """True when connected (waiting, in real time, for the link to return before the
        Clock reaches `deadline`)."""
        if self._is_connected():
            return True
        assert self._close is not None
        phase = self._close.phase
        self.journal.event(
            EventType.FRIDAY_CLOSE, Severity.HIGH,
            f"Friday close waiting for the connection to IB (it runs as soon as the link is back, "
            f"until the bell at {self._close.bell.astimezone(ET):%H:%M} ET)",
            {"phase": "waiting"},
        )
        self._set_close(FridayPhase.WAITING_FOR_LINK)
        while not self._is_connected() and self.clock.now() < deadline:
            won = await self._first_of(self._wait_connected(), self.clock.sleep_until(deadline))
            if 0 in won and not self._is_connected():
                # wait_connected returned but the link dropped again: retry on the Clock.
                await self._first_of(
                    self.clock.sleep(RETRY_SECONDS), self.clock.sleep_until(deadline)
                )
        if not self._is_connected():
            return False
        self.journal.event(
            EventType.FRIDAY_CLOSE, Severity.INFO,
            "Connection back: the Friday close resumes", {"phase": "resumed"},
        )
        self._set_close(phase)
        return True

    async def _task_until(self, task: asyncio.Future[None], when: datetime) -> bool:
        """Wait for `task` until the Clock reaches `when`; cancel it if it is not done then."""
        won = await self._first_of(task, self.clock.sleep_until(when))
        return 0 in won

    async def _close_positions(self) -> None:
        """At close_at: cancel working entries, then close every tracked strategy position."""
        try:
            working = self._working_entries()
            if working:
                await self.executor.cancel_orders(working)
            self._sync_all()  # ENTERED becomes CLOSING; cancelled unfilled entries SKIPPED
            tracked = self._tracked()
            self._publish()
            scope = sorted(tracked)
            self._close_symbols |= set(scope)
            if not scope:
                self.journal.event(
                    EventType.FRIDAY_CLOSE, Severity.INFO,
                    f"Friday close done: no strategy position to close ({len(working)} working "
                    "entry order(s) cancelled)",
                    {"phase": "done", "cancelled_entries": len(working), "flat": True},
                )
                self._set_close(FridayPhase.CLOSED, "no strategy position")
                return
            # The strategy's own quantities only: the trader's shares in the same symbols stay.
            result = await self._flatten("Friday close", cancel_first=False)
            self._sync_all()
            verdict = "flat" if result.flat else "NOT flat: " + ", ".join(result.remaining)
            self.journal.event(
                EventType.FRIDAY_CLOSE, Severity.INFO if result.flat else Severity.HIGH,
                f"Friday close done: closed {', '.join(result.closed) or 'nothing'}; {verdict}",
                {"phase": "done", "cancelled_entries": len(working), **result.to_dict()},
            )
            self._set_close(FridayPhase.CLOSED, verdict)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("Friday close failed")
            self.journal.event(
                EventType.FRIDAY_CLOSE, Severity.HIGH,
                f"Friday close failed: {exc!r}; the backup runs at its time", {"phase": "done"},
            )

    async def _backup(self, fc: FridayClose) -> None:
        """At backup_at: market orders again for every strategy position still open."""
        working = self._working_entries()
        if working:
            await self.executor.cancel_orders(working)
        still = self.executor.owned_open(self._tracked())
        if not still:
            self.journal.event(
                EventType.FRIDAY_CLOSE, Severity.INFO,
                "Friday close backup: no strategy position left open",
                {"phase": "backup", "open": {}},
            )
            self._set_close(FridayPhase.BACKUP, "nothing left open")
            return
        listing = positions_text(still)
        minutes = max(0, round((fc.bell - self.clock.now()).total_seconds() / 60))
        self._send_alert(Alert(
            key="friday_close_incomplete:backup", priority=Severity.CRITICAL, kind="trading",
            title=f"Friday close backup: still open {minutes} min before the bell: {listing}",
            body=f"Strategy positions still open at the backup time: {listing}.",
            facts={
                "open": still,
                "action": "Sending market orders again for every position listed.",
                "next_steps": "Watch TWS: if the result at the bell says NOT FLAT, close them "
                              "by hand.",
            },
            timestamp=self.clock.now(),
        ))
        self.journal.event(
            EventType.FRIDAY_CLOSE, Severity.CRITICAL,
            f"Friday close backup: still open {minutes} min before the bell: {listing}; "
            "sending market orders again",
            {"phase": "backup", "open": still},
        )
        self._close_symbols |= set(still)
        self._set_close(FridayPhase.BACKUP, f"closing {listing}",
                        open_positions=tuple(sorted(still.items())))
        try:
            result = await self._flatten("Friday close backup", cancel_first=True)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("Friday close backup failed")
            self.journal.event(EventType.FRIDAY_CLOSE, Severity.CRITICAL,
                               f"Friday close backup failed: {exc!r}", {"phase": "backup"})
            return
        self._sync_all()
        self._set_close(FridayPhase.BACKUP, "flat" if result.flat
                        else "still open: " + ", ".join(result.remaining))

    async def _flatten(self, why: str, *, cancel_first: bool) -> FlattenResult:
        """Close the strategy's own quantities through the closer (one owner of every close),
        or the executor when there is none (the runner's own tests)."""
        if self._closer is not None:
            return await self._closer.close(CloseRequest(
                "FRIDAY_CLOSE", why, owned=self._tracked, cancel_first=cancel_first,
                resend=cancel_first))
        return await self.executor.flatten("FRIDAY_CLOSE", owned=self._tracked,
                                           cancel_first=cancel_first)

    def _final_check(self, fc: FridayClose) -> None:
        """At the bell: flat or not, loudly."""
        scope = sorted(set(self._tracked()) | self._close_symbols)
        connected = self._is_connected()
        if not scope:
            still: dict[str, float] = {}
        elif connected:
            still = self.executor.owned_open(self._tracked())
            self._trim_book(still)
        else:
            still = {s: q for s, q in self._tracked().items()}
        self._sync_all()
        now = self.clock.now()
        if not still:
            detail = f"{', '.join(scope)} closed" if scope else "no strategy position"
            if scope and not connected:
                detail += " by the journaled fills; not connected to IB at the bell to confirm"
            self.journal.event(EventType.FRIDAY_CLOSE, Severity.INFO,
                               f"Friday close result: flat ({detail})",
                               {"phase": "result", "flat": True, "symbols": scope})
            self._set_close(FridayPhase.FLAT, detail, open_positions=(), finished_at=now)
            return
        listing = positions_text(still) or "unknown"
        why = (f"NOT FLAT at the bell: {listing} still open" if connected
               else f"NOT VERIFIED at the bell: not connected to IB; the strategy tracks "
                    f"{listing} as open")
        self.journal.event(
            EventType.FRIDAY_CLOSE, Severity.CRITICAL, f"Friday close result: {why}",
            {"phase": "result", "flat": False, "connected": connected, "open": still},
        )
        self._send_alert(Alert(
            key="friday_close_incomplete:result", priority=Severity.CRITICAL, kind="trading",
            title=f"Friday close {why}",
            body=f"These strategy positions may be held over the weekend: {listing}.",
            facts={
                "open": still, "connected": connected,
                "action": "The close and its backup ran; nothing more is sent automatically.",
                "next_steps": "Check TWS now and close what is listed (after-hours if need be).",
            },
            timestamp=now,
        ))
        self._set_close(FridayPhase.NOT_FLAT, why, open_positions=tuple(sorted(still.items())),
                        finished_at=now)

    def _trim_book(self, held: dict[str, float]) -> None:
        """At the bell: a book that says more than the account holds of it (the trader sold
        strategy shares by hand) is cut to what is held, and said so, so the next week does not
        carry shares that are gone."""
        for symbol, qty in self._tracked().items():
            left = held.get(symbol, 0.0)
            if abs(left) >= abs(qty):
                continue
            self.store.track_position(symbol, left - qty, "", self.clock.now())
            self.journal.event(
                EventType.STRATEGY, Severity.MEDIUM,
                f"{symbol}: the strategy's book held {qty:+g} but the account holds only "
                f"{left:+g} of it (sold outside the strategy): book set to {left:+g}",
                {"symbol": symbol, "book": qty, "held": left},
            )
