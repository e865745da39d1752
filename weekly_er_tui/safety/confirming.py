"""Before an emergency action: wait (bounded) until the account's sources agree on the breach.

The emergency stop and the daily-loss reduction close positions at market; one stream lagging
another (a sale's cash arriving after its position change) must never do that. So a CRITICAL
account-wide breach is re-read on every portfolio change for at most `MAX_WAIT_SECONDS`, until
risk/confirm.py says the sources agree (the breach is confirmed and acted on) or the breach is
gone (it was a lag; journaled, nothing done). A breach still unconfirmed at the end of the wait is
journaled and alerted HIGH and not acted on; the next check (on the next change) tries again and
counts the time it has already stood.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any, Protocol

from weekly_er_tui.model import Alert, EventType, PortfolioSnapshot, SafetyReport, Severity
from weekly_er_tui.risk.confirm import AccountEvidence, account_agreement
from weekly_er_tui.risk.rules import EMERGENCY_STOP_LOSS, MAX_DAILY_LOSS

log = logging.getLogger("weekly_er_tui.safety")

# Rules whose breach closes positions at market.
ACTING_RULES = frozenset({EMERGENCY_STOP_LOSS, MAX_DAILY_LOSS})
MAX_WAIT_SECONDS = 1.5  # real seconds: a genuine breach must still be acted on within 2 s
RECHECK_SECONDS = 0.1  # re-read at least this often while waiting (standing time advances)
# A breach left unconfirmed is picked up by the next check with the time it stood; after this
# long without a check that saw it, that time is forgotten (it was another breach).
CARRY_SECONDS = 5.0


class AccountSources(Protocol):
    def snapshot(self) -> PortfolioSnapshot: ...
    def account_evidence(self) -> AccountEvidence: ...
    def on_change(self, fn: Callable[[], None]) -> None: ...


EventSink = Callable[[EventType, Severity, str, dict[str, Any]], None]


class BreachConfirmer:
    """Holds back an acting breach until the account's sources agree on it."""

    def __init__(
        self,
        portfolio: AccountSources,
        evaluate: Callable[[PortfolioSnapshot], SafetyReport],
        session_start: Callable[[], float | None],
        event: EventSink,
        alert: Callable[[Alert], None],
    ) -> None:
        self.portfolio = portfolio
        self._evaluate = evaluate
        self._session_start = session_start
        self._event = event
        self._alert = alert
        self._changed = asyncio.Event()
        self._standing_since: float | None = None  # monotonic: breach on consistent streams
        self._unconfirmed_at: float | None = None  # monotonic: the last wait that ended so
        portfolio.on_change(self._changed.set)
        self.confirmed = 0
        self.dismissed = 0  # breaches that were gone on a fresh read: a lag, not a loss

    @staticmethod
    def acting(report: SafetyReport) -> list[str]:
        return sorted(v.rule for v in report.critical if v.rule in ACTING_RULES)

    async def confirm(self, report: SafetyReport) -> SafetyReport:
        """The report to act on: re-evaluated on the latest snapshot, with an acting breach kept
        only if the sources agree on it."""
        rules = self.acting(report)
        if not rules:
            return report
        t0 = time.monotonic()
        if self._unconfirmed_at is None or t0 - self._unconfirmed_at > CARRY_SECONDS:
            self._standing_since = None
        self._unconfirmed_at = None
        deadline = t0 + MAX_WAIT_SECONDS
        first = report
        while True:
            now = time.monotonic()
            evidence = self.portfolio.account_evidence()
            if evidence.unmatched_positions:
                self._standing_since = None
            elif self._standing_since is None:
                self._standing_since = now
            standing = 0.0 if self._standing_since is None else now - self._standing_since
            agreement = account_agreement(
                evidence, session_start=self._session_start(), standing_seconds=standing
            )
            if not self.acting(report):
                self._dismissed(first, rules, now - t0, evidence)
                return report
            if agreement.agreed:
                self.confirmed += 1
                self._standing_since = None
                self._event(
                    EventType.SAFETY_CHECK, Severity.HIGH,
                    f"Breach of {', '.join(self.acting(report))} confirmed by {agreement.by} "
                    f"after {now - t0:.2f} s",
                    {"rules": self.acting(report), "confirmed_by": agreement.by,
                     "waited_s": round(now - t0, 3),
                     "net_liquidation": evidence.net_liquidation},
                )
                return report
            if now >= deadline:
                return self._unconfirmed(report, now - t0, agreement.waiting_for, evidence)
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(),
                                       min(RECHECK_SECONDS, max(0.0, deadline - now)))
            report = self._evaluate(self.portfolio.snapshot())

    def _dismissed(self, first: SafetyReport, rules: list[str], waited: float,
                   evidence: AccountEvidence) -> None:
        self._standing_since = None
        self.dismissed += 1
        was = "; ".join(v.message for v in first.critical if v.rule in ACTING_RULES)
        self._event(
            EventType.SAFETY_CHECK, Severity.MEDIUM,
            f"Breach of {', '.join(rules)} NOT confirmed: gone on a fresh read {waited:.2f} s "
            f"later (one of IB's streams lagged another); nothing closed. It read: {was}",
            {"rules": rules, "waited_s": round(waited, 3),
             "net_liquidation": evidence.net_liquidation},
        )

    def _unconfirmed(self, report: SafetyReport, waited: float, waiting_for: tuple[str, ...],
                     evidence: AccountEvidence) -> SafetyReport:
        rules = self.acting(report)
        self._unconfirmed_at = time.monotonic()
        message = (f"Breach of {', '.join(rules)} not confirmed after {waited:.1f} s: waiting "
                   f"for {'; '.join(waiting_for)}. Nothing closed yet; checked again on the "
                   f"next account change")
        self._event(EventType.SAFETY_CHECK, Severity.HIGH, message,
                    {"rules": rules, "waited_s": round(waited, 3),
                     "waiting_for": list(waiting_for),
                     "net_liquidation": evidence.net_liquidation})
        self._alert(Alert(
            key="breach_unconfirmed", priority=Severity.HIGH, kind="safety",
            title=f"Unconfirmed breach of {', '.join(rules)}: not acted on yet", body=message,
            facts={"rules": rules, "waiting_for": list(waiting_for)},
        ))
        kept = tuple(v for v in report.violations
                     if not (v.severity is Severity.CRITICAL and v.rule in ACTING_RULES))
        return replace(report, violations=kept)
