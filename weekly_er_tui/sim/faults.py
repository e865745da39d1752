"""The fault timeline: a scenario's `timeline` entries played against the gateway on its clock.

Each entry waits for its instant with `clock.sleep_until`, applies its action through the
gateway's fault methods, and, when it has a `duration`, schedules the undo after that many clock
seconds (refuse -> accept, stall -> unstall, delay -> no delay, connectivity loss -> restored, ...).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from weekly_er_tui.sim.orders import RejectRule
from weekly_er_tui.sim.scenario import RESTORE_CODES, TimelineEntry

if TYPE_CHECKING:
    from weekly_er_tui.sim.server import SimulatedGateway

log = logging.getLogger("weekly_er_tui.sim")

RESTART_SECONDS = 150.0  # clock seconds a daily restart refuses connects when no duration is set


class Timeline:
    """Plays timeline entries on a gateway; `applied` records (clock instant, entry) pairs."""

    def __init__(self, gw: SimulatedGateway) -> None:
        self.gw = gw
        self.applied: list[tuple[datetime, TimelineEntry]] = []

    async def run(self, entries: list[TimelineEntry], start: datetime) -> None:
        clock = self.gw.clock
        plan = sorted(enumerate(entries), key=lambda e: (e[1].instant(start), e[0]))
        for index, entry in plan:
            when = entry.instant(start)
            if when < start:
                log.warning(
                    "timeline[%d] (%s at %s) is before the gateway's start; skipped",
                    index,
                    entry.action,
                    when.isoformat(),
                )
                continue
            await clock.sleep_until(when)
            try:
                self.apply(entry, when)
            except Exception:
                log.exception("timeline[%d] (%s) failed", index, entry.action)

    def apply(self, entry: TimelineEntry, scheduled: datetime | None = None) -> None:
        """Apply one entry now; with a duration, undo it `duration` clock seconds after
        `scheduled` (the entry's instant on the timeline) or after now."""
        gw = self.gw
        applied_at = gw.clock.now()
        self.applied.append((applied_at, entry))
        undo: Callable[[], None] | None = None
        a = entry.action
        if a == "drop":
            gw.drop_all()
        elif a == "refuse":
            gw.refuse_connections()
            undo = gw.accept_connections
        elif a == "accept":
            gw.accept_connections()
        elif a == "stall":
            gw.stall()
            undo = gw.unstall
        elif a == "unstall":
            gw.unstall()
        elif a == "delay":
            gw.set_delay(entry.seconds or 0.0)
            undo = lambda: gw.set_delay(0.0)  # noqa: E731
        elif a == "reject":
            count = entry.count if entry.count is not None else (None if entry.duration else 1)
            rule = RejectRule(
                reason=entry.reason or "Simulated rejection", remaining=count, symbol=entry.symbol
            )
            gw.book.reject_rules.append(rule)
            gw._event("fault", f"fault: rejecting orders ({count or 'all'})")

            def _remove() -> None:
                if rule in gw.book.reject_rules:
                    gw.book.reject_rules.remove(rule)

            undo = _remove
        elif a == "partial_fills":
            gw.partial_fills(entry.parts or 1, entry.interval_seconds)
            undo = lambda: gw.partial_fills(1)  # noqa: E731
        elif a == "connectivity":
            code = entry.code or 1100
            gw.emit_connectivity(code)
            restore = entry.restore_code or RESTORE_CODES.get(code)
            if restore is not None:
                undo = lambda: gw.emit_connectivity(restore)  # noqa: E731
        elif a == "price_shock":
            gw.price_shock(entry.pct or 0.0, symbol=entry.symbol, sector=entry.sector)
        elif a == "restart":
            gw.drop_all()
            gw.refuse_connections()
            gw._event("fault", "fault: the gateway's scheduled daily restart")
            undo = gw.accept_connections
            if entry.duration is None:  # IB's auto-restart takes 2-3 minutes
                gw._spawn(self._undo_at(applied_at + timedelta(seconds=RESTART_SECONDS),
                                        undo, a), "sim-undo-restart")
        elif a == "relogin_outage":
            gw.drop_all()
            gw.refuse_connections()
            gw._event("fault", "fault: the weekly re-login: refusing until someone logs in")
        elif a == "login":
            gw.accept_connections()
        elif a == "fill_external":
            gw.fill_externally(entry.symbol or "", entry.quantity or 0.0, entry.price)
        else:  # pragma: no cover - the scenario validator knows every action
            raise ValueError(f"unknown action {a!r}")
        duration = entry.duration_seconds
        if duration is not None and undo is not None:
            end = (scheduled or applied_at) + timedelta(seconds=duration)
            gw._spawn(self._undo_at(end, undo, a), f"sim-undo-{a}")

    async def _undo_at(self, end: datetime, undo: Callable[[], None], action: str) -> None:
        await self.gw.clock.sleep_until(end)
        log.info("timeline: end of %s at %s", action, end.isoformat())
        undo()
