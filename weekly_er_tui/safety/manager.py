"""PositionSafetyManager: when to check, which action to take, and the trading state.

The rules themselves are pure (risk/rules.py). This module decides what happens on their verdict:

- emergency_stop_loss (CRITICAL): trading HALTED, then an emergency close of ALL positions.
- max_daily_loss (CRITICAL): trading REDUCING for the rest of the session, the positions losing
  today closed (the largest day loss first), the rest kept while the day's loss is contained;
  everything closed and HALTED once it grows past the breach by daily_loss_halt_margin of the
  limit. The next session starts ACTIVE (unless HALTED).
- HIGH and MEDIUM violations: a warning event and an alert; the pre-trade gate refuses orders
  that would worsen them. No automatic action.
- Orphaned positions: a warning with details, no automatic action.

Checks run every `safety_check_interval` seconds of the engine's clock AND after every portfolio,
PnL or price change, coalesced: a burst of updates costs one evaluation. Every check is a
SAFETY_CHECK event with its duration. Trading state is persisted: a HALT survives a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

from weekly_er_tui.broker.closing import CloseRequest
from weekly_er_tui.clock import ET, Clock, WallClock
from weekly_er_tui.config import SafetyLimits
from weekly_er_tui.journal import Journal
from weekly_er_tui.listeners import notify, tell
from weekly_er_tui.model import (
    Alert,
    EventType,
    PortfolioSnapshot,
    SafetyReport,
    Severity,
    TradingState,
    Violation,
)
from weekly_er_tui.risk.correlation import correlated_groups, daily_returns
from weekly_er_tui.risk.rules import (
    EMERGENCY_STOP_LOSS,
    MAX_DAILY_LOSS,
    ORPHANED_POSITION,
    daily_loss_halt_line,
    daily_loss_losers,
    evaluate,
    position_day_pnl,
)
from weekly_er_tui.safety import guide_api
from weekly_er_tui.safety.check_log import CheckLog
from weekly_er_tui.safety.closer import Closer
from weekly_er_tui.safety.confirming import BreachConfirmer
from weekly_er_tui.safety.initial_sync import InitialSyncGate
from weekly_er_tui.safety.notices import (
    PORTFOLIO_RULES,
    STATE_EVENTS,
    STATE_PRIORITY,
    state_alert,
    state_message,
    violation_alert,
)
from weekly_er_tui.store import Store

log = logging.getLogger("weekly_er_tui.safety")

COALESCE_SECONDS = 0.05  # real seconds: how long a burst of updates is gathered into one check
DAILY_BREACH = "daily_loss_breach"  # baseline kind: the day's P&L at the session's breach

AlertSink = Callable[[Alert], None]


class PositionSafetyManager:
    """The documented API (safety/guide_api.py):

        safety = PositionSafetyManager(limits)
        report = await safety.perform_safety_check(ib)   # {'overall_risk_score', 'violations', ...}
        result = await safety.emergency_close_all_positions(ib)

    Inside the engine it is built with the store, journal, alert sink, the portfolio tracker and
    the order executor, and runs `monitor()` as a long-running task.
    """

    def __init__(
        self,
        limits: SafetyLimits | None = None,
        *,
        store: Store | None = None,
        journal: Journal | None = None,
        alert: AlertSink | None = None,
        clock: Clock | None = None,
        portfolio: Any = None,
        executor: Any = None,
        check_interval: float = 300.0,
        is_connected: Callable[[], bool] = lambda: True,
        shadow: bool = False,
    ) -> None:
        self.limits = limits or SafetyLimits()
        # Shadow mode: every position in the account is the other system's (not an orphan).
        self.shadow = shadow
        self.store = store
        self.journal = journal
        self._alert = alert
        self.clock: Clock = clock or WallClock()
        self.portfolio = portfolio
        self.executor = executor
        # The one owner of every closing action (the engine wires it); None: the standalone API
        # closes through the executor itself.
        self.closer: Closer | None = None
        self.check_interval = check_interval
        self._is_connected = is_connected
        self.last_report: SafetyReport | None = None
        self.last_check: datetime | None = None
        self._state, self._state_reason = (
            store.trading_state() if store is not None else (TradingState.ACTIVE, "")
        )
        self._dirty = asyncio.Event()
        self._action_lock = asyncio.Lock()
        self._active_violations: set[tuple[str, tuple[str, ...]]] = set()
        self._known_tracked: set[str] = set()
        self._listeners: list[Callable[[], None]] = []
        self._mem_baselines: dict[tuple[str, str], float] = {}
        self._hw_persisted: dict[str, float] = {}
        self._provisional: set[tuple[str, str]] = set()  # baselines taken without IB's P&L
        # Groups of held symbols that move together (refresh_correlations), for the
        # correlated_exposure rule and the gate.
        self.correlated_groups: list[tuple[str, ...]] = []
        self.correlation_symbols: tuple[str, ...] = ()  # the symbols the last grouping saw
        self.standalone_tracker: Any = None  # the standalone API's own PortfolioTracker (guide_api)
        self.checks_run = 0
        self._check_log = CheckLog()
        self._confirmer: BreachConfirmer | None = None
        self._initial_sync = InitialSyncGate(self._event, self._send)

    # -- trading state ---------------------------------------------------------------------
    @property
    def trading_state(self) -> TradingState:
        return self._state

    @property
    def trading_state_reason(self) -> str:
        return self._state_reason

    def add_listener(self, fn: Callable[[], None]) -> None:
        self._listeners.append(fn)

    def set_trading_state(self, state: TradingState, reason: str, *, alert: bool = True) -> bool:
        """Change (and persist) the trading state; an event and an alert (unless `alert` is
        False: the caller's own alert already says so). False if unchanged."""
        if state is self._state and reason == self._state_reason:
            return False
        old = self._state
        self._state, self._state_reason = state, reason
        if self.store is not None:
            self.store.set_trading_state(state, reason, self.clock.now())
        self._event(STATE_EVENTS[state], STATE_PRIORITY[state], state_message(state, reason),
                    {"from": old.value, "to": state.value, "reason": reason})
        if alert:
            self._send(state_alert(old, state, reason))
        notify(self._listeners, what="safety", logger=log)
        return True

    def pause(self, reason: str = "paused by the trader") -> bool:
        return self.set_trading_state(TradingState.PAUSED, reason)

    def resume(self, reason: str = "resumed by the trader") -> bool:
        """Back to ACTIVE. Resuming re-bases the emergency stop-loss on today's net liquidation:
        a person decided to go on from here."""
        if self._state is TradingState.HALTED and self.last_report is not None:
            snap = self.portfolio.snapshot() if self.portfolio is not None else None
            if snap is not None:
                self._rebase(snap)
        return self.set_trading_state(TradingState.ACTIVE, reason)

    # -- baselines -------------------------------------------------------------------------
    def _periods(self) -> dict[str, str]:
        now_et = self.clock.now().astimezone(ET)
        iso = now_et.isocalendar()
        return {"session": now_et.date().isoformat(), "week": f"{iso.year}-W{iso.week:02d}",
                "high_water": f"{iso.year}-W{iso.week:02d}"}

    def _baseline_get(self, kind: str, period: str) -> float | None:
        # Checks run many times a second: baselines are read from memory, the store is the
        # copy that survives a restart.
        key = (kind, period)
        if key not in self._mem_baselines and self.store is not None:
            stored = self.store.baseline(kind, period)
            if stored is not None:
                self._mem_baselines[key] = stored
        return self._mem_baselines.get(key)

    def _baseline_set(self, kind: str, period: str, value: float, *, persist: bool = True
                      ) -> None:
        self._mem_baselines[(kind, period)] = value
        if persist and self.store is not None:
            self.store.set_baseline(kind, period, value, self.clock.now())

    def baseline(self, snap: PortfolioSnapshot) -> float | None:
        """The net liquidation the emergency stop-loss measures from (limits.stop_loss_baseline).

        The session's start is net liquidation minus IB's daily P&L (which IB measures from the
        previous close), so starting the app after a loss does not hide the loss. While IB's
        daily P&L is unset (its first answer is max-double, notes row 16) the start is taken as
        the net liquidation for now, kept in memory only, and replaced once IB says."""
        if snap.net_liquidation <= 0:
            return None
        periods = self._periods()
        known = snap.daily_pnl is not None
        start_of_day = snap.net_liquidation - (snap.daily_pnl or 0.0)
        for kind, value in (("session", start_of_day), ("week", start_of_day)):
            key = (f"{kind}_nlv", periods[kind])
            if self._baseline_get(*key) is None or (known and key in self._provisional):
                self._baseline_set(*key, value, persist=known)
                (self._provisional.discard if known else self._provisional.add)(key)
        hw = self._baseline_get("high_water_nlv", periods["high_water"])
        # A new high only on streams that agree: a sale's cash before its position reads as a
        # gain of the sale's value, and a high taken then is a false drawdown a moment later.
        unmatched = getattr(self.portfolio, "unmatched_positions", None)
        new_high = max(snap.net_liquidation, start_of_day)
        if (hw is None or new_high > hw) and not (unmatched and unmatched()):
            # A rally makes a new high on every tick; persisting each one would fsync the
            # database many times a second. The store gets it when it is 0.1% above the last
            # persisted high (a crash then loses less than 0.1% of the high-water mark).
            persisted = self._hw_persisted.get(periods["high_water"])
            persist = persisted is None or new_high >= persisted * 1.001
            self._baseline_set("high_water_nlv", periods["high_water"], new_high,
                               persist=persist)
            if persist:
                self._hw_persisted[periods["high_water"]] = new_high
        kind = self.limits.stop_loss_baseline
        return self._baseline_get(f"{kind}_nlv", periods[kind])

    def _rebase(self, snap: PortfolioSnapshot) -> None:
        periods = self._periods()
        for kind in ("session", "week", "high_water"):
            self._baseline_set(f"{kind}_nlv", periods[kind], snap.net_liquidation)

    # -- checking --------------------------------------------------------------------------
    def request_check(self) -> None:
        """Ask for a check soon; many requests in a burst cost one evaluation."""
        self._dirty.set()

    def evaluate(self, snap: PortfolioSnapshot) -> SafetyReport:
        held = {p.symbol for p in snap.open_positions}
        if self.shadow:
            # Shadow mode: the account's positions belong to the system that trades it, and
            # the would-be book is held nowhere: neither is an orphan.
            tracked, vanished = held, set()
        elif self.store is not None:
            tracked = set(self.store.tracked_positions())
            # An entry is tracked from its execution (broker/fills.py counts it at execDetails,
            # not at the commission report that trails it), and IB's position stream trails the
            # execution (0.2 s on a real gateway): a symbol whose fills the position has not
            # caught up with is judged once it has, so a fresh entry (tracked, not yet in the
            # positions) and a fresh close (no longer tracked, still in them) are no orphans.
            settling = self.executor.settling() if self.executor is not None else set()
            vanished = tracked - held - settling
            tracked |= settling
        else:
            # No store (the standalone API): what the strategy tracks is unknown, so there is no
            # orphan verdict, rather than calling every position in the account an orphan.
            tracked, vanished = held, set()
        return evaluate(
            snap, self.limits, baseline_nlv=self.baseline(snap), now=self.clock.now(),
            tracked=tracked, vanished=vanished, correlated_groups=self.correlated_groups,
        )

    async def refresh_correlations(
        self, symbols: Sequence[str], closes: Callable[[str], Awaitable[list[float]]]
    ) -> list[tuple[str, ...]]:
        """Group `symbols` whose daily returns correlate above correlation_threshold, from
        `closes(symbol)` (daily closes, oldest first). A symbol whose bars cannot be had is left
        out of the grouping, and said so in the log."""
        returns: dict[str, list[float]] = {}
        for symbol in sorted(set(symbols)):
            try:
                returns[symbol] = daily_returns(await closes(symbol))
            except (TimeoutError, ConnectionError, ValueError) as exc:
                log.warning("No daily bars for %s (%r): left out of the correlation groups",
                            symbol, exc)
        groups = correlated_groups(returns, self.limits.correlation_threshold)
        if groups != self.correlated_groups:
            self._event(
                EventType.SAFETY_CHECK, Severity.INFO,
                "Correlated groups (daily returns above "
                f"{self.limits.correlation_threshold:g}): "
                + ("; ".join(", ".join(g) for g in groups) if groups else "none"),
                {"groups": [list(g) for g in groups], "symbols": sorted(returns)},
            )
        self.correlated_groups = groups
        self.correlation_symbols = tuple(sorted(returns))
        self.request_check()
        return groups

    async def check(self, trigger: str = "timer") -> SafetyReport | None:
        """One check: evaluate, record, alert on new violations, act on CRITICAL ones."""
        if self.portfolio is None or not self._is_connected():
            # Before the first resync (or while the link is down) ib_async's state is empty or
            # stale: a check would report "cash $0" and similar non-facts. The resync asks again.
            return None
        if self._initial_sync.holds(self.portfolio, trigger):
            return None  # a half-arrived account: it says so; the sync's last update asks again
        self._new_session()
        t0 = time.perf_counter()
        snap = self.portfolio.snapshot()
        report = self.evaluate(snap)
        confirmer = self._breach_confirmer()
        # Only a figure IB's streams agree on closes anything or HALTs (safety/confirming.py);
        # already HALTED and flat, there is nothing left to decide.
        acts = bool(snap.open_positions) or self._state is not TradingState.HALTED
        if (report.critical and acts and confirmer is not None
                and self.executor is not None and not self._action_lock.locked()):
            report = await confirmer.confirm(report)
        duration_ms = (time.perf_counter() - t0) * 1000.0
        self.last_report, self.last_check = report, self.clock.now()
        self.checks_run += 1
        # A timed check is journaled when its result changes, else hourly (safety/check_log.py).
        if (message := self._check_log.message(trigger, report, self.last_check)) is not None:
            self._event(
                EventType.SAFETY_CHECK, Severity.INFO, message,
                {"duration_ms": round(duration_ms, 3), "trigger": trigger,
                 "risk_score": report.overall_risk_score,
                 "violations": [v.rule for v in report.violations]},
            )
        self._record_violations(report)
        notify(self._listeners, what="safety", logger=log)
        if report.critical and self._is_connected():
            await self._act(report)
        return report

    def initial_sync_waiting(self) -> bool:
        """Whether checks wait for the connect's account download (safety/initial_sync.py)."""
        return self._initial_sync.waiting(self.portfolio)

    def _breach_confirmer(self) -> BreachConfirmer | None:
        if self._confirmer is None and hasattr(self.portfolio, "account_evidence"):
            self._confirmer = BreachConfirmer(
                self.portfolio, self.evaluate,
                lambda: self._baseline_get("session_nlv", self._periods()["session"]),
                self._event, self._send,
            )
        return self._confirmer

    @staticmethod
    def _identity(v: Violation) -> tuple[str, tuple[str, ...]]:
        return (v.rule, ()) if v.rule in PORTFOLIO_RULES else (v.rule, v.symbols)

    def _record_violations(self, report: SafetyReport) -> None:
        current = {self._identity(v) for v in report.violations}
        for v in report.violations:
            if self._identity(v) in self._active_violations:
                continue
            kind = (EventType.ORPHANED_POSITION if v.rule == ORPHANED_POSITION
                    else EventType.SAFETY_VIOLATION)
            self._event(
                kind, v.severity, f"{v.rule}: {v.message}",
                {"rule": v.rule, "value": v.value, "limit": v.limit, "symbols": list(v.symbols)},
            )
            self._send(violation_alert(v, report, self.limits.daily_loss_halt_margin))
        self._active_violations = current

    async def _act(self, report: SafetyReport) -> None:
        if self.executor is None or self._action_lock.locked():
            return
        async with self._action_lock:
            rules = {v.rule for v in report.critical}
            if EMERGENCY_STOP_LOSS in rules:
                v = next(v for v in report.critical if v.rule == EMERGENCY_STOP_LOSS)
                # Shadow mode: the account is never closed, so every later check would find it
                # open again; the would-be close is journaled once per HALT.
                repeat = self.shadow and self._state is TradingState.HALTED
                if self._state is not TradingState.HALTED:
                    # The emergency-stop alert already says "Trading HALTED": one CRITICAL
                    # alert for one event. A HALT stays latched with its first reason.
                    self.set_trading_state(
                        TradingState.HALTED,
                        f"emergency stop: portfolio down {v.value:.1%} (limit {v.limit:.0%})",
                        alert=False,
                    )
                if self.portfolio.snapshot().open_positions and not repeat:
                    await self.emergency_close("EMERGENCY", f"emergency stop: {v.message}")
            elif MAX_DAILY_LOSS in rules and self.portfolio.snapshot().open_positions:
                # With nothing open there is nothing to reduce: the day's loss stands.
                await self._reduce_daily_loss()

    async def _reduce_daily_loss(self) -> None:
        """A max_daily_loss breach, as a trader means it (see rules.daily_loss_losers): once per
        session, REDUCING (no new entries for the rest of it) and today's losers closed, the
        largest day loss first; the rest kept while the day's loss is contained; everything
        closed and HALTED only once it falls past the breach by daily_loss_halt_margin."""
        snap = self.portfolio.snapshot()
        if snap.daily_pnl is None:
            return
        period = self._periods()["session"]
        breach = self._baseline_get(DAILY_BREACH, period)
        if breach is None:
            await self._close_todays_losers(snap, period)
            return
        halt = daily_loss_halt_line(breach, self.limits)
        if self._state is TradingState.HALTED or snap.daily_pnl >= halt:
            return  # contained: the rest is kept
        why = (f"daily loss grew past the margin: day P&L ${snap.daily_pnl:,.0f} below "
               f"${halt:,.0f} (the breach at ${breach:,.0f} minus daily_loss_halt_margin "
               f"{self.limits.daily_loss_halt_margin:g} x max_daily_loss)")
        self.set_trading_state(TradingState.HALTED, why)
        await self.emergency_close("DAILY_LOSS", why)

    async def _close_todays_losers(self, snap: PortfolioSnapshot, period: str) -> None:
        assert snap.daily_pnl is not None
        breach = snap.daily_pnl
        self._baseline_set(DAILY_BREACH, period, breach)
        halt = daily_loss_halt_line(breach, self.limits)
        if self._state is TradingState.ACTIVE or self._state is TradingState.PAUSED:
            self.set_trading_state(
                TradingState.REDUCING,
                f"daily loss limit breached (day P&L ${breach:,.0f}, limit "
                f"${self.limits.max_daily_loss:,.0f}): no new entries for the rest of the session",
            )
        closed: list[str] = []
        failed: list[str] = []
        for target in daily_loss_losers(snap):
            self._event(EventType.EMERGENCY_CLOSE, Severity.CRITICAL,
                        f"Closing {target.symbol} (daily loss): its day P&L "
                        f"${position_day_pnl(target):,.0f}, the account's ${breach:,.0f}",
                        {"symbol": target.symbol, "day_pnl": position_day_pnl(target)})
            result = await self._close_symbols(
                "DAILY_LOSS", "daily loss limit breached: closing today's losers",
                [target.symbol])
            (failed if target.symbol in result.remaining else closed).append(target.symbol)
        kept = sorted(p.symbol for p in self.portfolio.snapshot().open_positions
                      if not (self.shadow and p.symbol in closed))  # shadow: still held
        self._event(
            EventType.EMERGENCY_CLOSE, Severity.CRITICAL if failed else Severity.HIGH,
            f"Daily loss: closed today's losers {', '.join(closed) or '(none)'}"
            + (f"; could NOT close {', '.join(failed)}" if failed else "")
            + f"; kept {', '.join(kept) or 'nothing'} while the day's P&L stays above "
            f"${halt:,.0f} (below it everything is closed and trading HALTED)",
            {"closed": closed, "failed": failed, "kept": kept, "breach_pnl": breach,
             "halt_below": halt},
        )

    def _new_session(self) -> None:
        """A REDUCING left by a daily-loss breach ends with its session: the next one starts
        ACTIVE (a HALT stays until a person resumes)."""
        if (self._state is TradingState.REDUCING
                and self._state_reason.startswith("daily loss limit breached")
                and self._baseline_get(DAILY_BREACH, self._periods()["session"]) is None):
            self.set_trading_state(TradingState.ACTIVE,
                                   "a new session: the daily loss limit starts again")

    async def _close_symbols(self, reason: str, why: str, symbols: list[str]) -> Any:
        if self.closer is not None:
            return await self.closer.close(CloseRequest(reason, why, tuple(symbols)))
        return await self.executor.flatten(reason, symbols)

    async def emergency_close(self, reason: str, why: str) -> Any:
        """Close everything (the trader's own positions included) through the closer: one
        close at a time, one verdict, the CRITICAL alert when it is incomplete."""
        if self.closer is not None:
            result = await self.closer.close(CloseRequest(reason, why))
            self.request_check()
            return result
        snap = self.portfolio.snapshot() if self.portfolio is not None else None
        n = len(snap.open_positions) if snap is not None else 0
        self._event(EventType.EMERGENCY_CLOSE, Severity.CRITICAL,
                    f"Emergency close of ALL {n} positions started (every position in the account, "
                    f"the trader's own included): {why}", {"reason": reason, "scope": "account"})
        result = await self.executor.flatten(reason)
        verdict = "account is FLAT" if result.flat else "account is NOT flat"
        self._event(
            EventType.EMERGENCY_CLOSE, Severity.CRITICAL,
            f"Emergency close finished: {verdict}; closed {len(result.closed)}, failed "
            f"{len(result.failed)}, remaining {', '.join(result.remaining) or 'none'}, "
            f"working orders {result.working_orders}",
            result.to_dict(),
        )
        if not result.flat:
            self._send(Alert(
                key="emergency_stop:incomplete", priority=Severity.CRITICAL,
                kind="safety", title=f"Emergency close INCOMPLETE: {verdict}",
                body="Positions still open: " + ", ".join(result.remaining)
                + "\nClose them in TWS now.",
                facts=result.to_dict(),
            ))
        self.request_check()
        return result

    async def monitor(self) -> None:
        """The long-running task: a check on the timer, and after every change (coalesced)."""
        timer = asyncio.ensure_future(self._timer())
        try:
            while True:
                await self._dirty.wait()
                await asyncio.sleep(COALESCE_SECONDS)
                self._dirty.clear()
                try:
                    await self.check("change")
                except Exception:
                    log.exception("safety check failed")
                    self._event(EventType.SYSTEM, Severity.HIGH,
                                "A safety check failed with an internal error; see the log", {})
        finally:
            timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await timer

    async def _timer(self) -> None:
        while True:
            try:
                await self.check("timer")
            except Exception:
                log.exception("timed safety check failed")
            await self.clock.sleep(self.check_interval)

    # -- the enhancement guide's standalone API (safety/guide_api.py) ----------------------
    async def perform_safety_check(self, ib: Any) -> dict[str, Any]:
        """One check over an ib_async.IB's current state; the documented dict form."""
        return await guide_api.perform_safety_check(self, ib)

    async def emergency_close_all_positions(self, ib: Any) -> dict[str, Any]:
        """Cancel every order and close every position on `ib`; {closed, failed, remaining}."""
        return await guide_api.emergency_close_all_positions(self, ib)

    # -- plumbing --------------------------------------------------------------------------
    def _event(self, kind: EventType, severity: Severity, message: str,
               details: dict[str, Any]) -> None:
        if self.journal is not None:
            self.journal.event(kind, severity, message, details)
        else:
            log.info("%s: %s", kind.value, message)

    def _send(self, alert: Alert) -> None:
        tell(self._alert, alert, what=f"alert {alert.key}", logger=log)
