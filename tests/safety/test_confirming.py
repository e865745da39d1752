"""safety/confirming.py on its own: the bounded wait, what it journals, and what it returns.

The account's sources are a stand-in here (what they say is set by the test); the real ones are
exercised against the simulator in test_unconfirmed_data.py.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from weekly_er_tui.model import (
    Alert,
    EventType,
    PortfolioSnapshot,
    SafetyReport,
    Severity,
    Violation,
)
from weekly_er_tui.risk.confirm import AccountEvidence
from weekly_er_tui.safety import confirming
from weekly_er_tui.safety.confirming import BreachConfirmer

NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
BREACH = SafetyReport(NOW, (Violation("emergency_stop_loss", Severity.CRITICAL, 0.18, 0.10,
                                      "Portfolio down 18%"),), 100.0)  # fmt: skip


class Sources:
    def __init__(self, evidence: AccountEvidence) -> None:
        self.evidence = evidence
        self.listeners: list[Callable[[], None]] = []

    def snapshot(self) -> PortfolioSnapshot:
        return PortfolioSnapshot(NOW, "DU1", self.evidence.net_liquidation, 0.0, 0.0)

    def account_evidence(self) -> AccountEvidence:
        return self.evidence

    def on_change(self, fn: Callable[[], None]) -> None:
        self.listeners.append(fn)


def make(evidence: AccountEvidence) -> tuple[BreachConfirmer, list[tuple[Any, ...]],
                                             list[Alert]]:
    events: list[tuple[Any, ...]] = []
    alerts: list[Alert] = []
    confirmer = BreachConfirmer(
        Sources(evidence), lambda snap: BREACH, lambda: 146_000.0,
        lambda kind, sev, msg, details: events.append((kind, sev, msg)), alerts.append,
    )
    return confirmer, events, alerts


LAGGING = AccountEvidence(net_liquidation=120_000, daily_pnl=-300, pnl_current=True,
                          unmatched_positions=("AAPL: position 0, account stream 130",))


async def test_streams_that_never_agree_act_on_nothing_and_say_what_they_wait_for() -> None:
    confirmer, events, alerts = make(LAGGING)
    t0 = time.monotonic()
    report = await confirmer.confirm(BREACH)
    waited = time.monotonic() - t0
    assert confirming.MAX_WAIT_SECONDS <= waited < confirming.MAX_WAIT_SECONDS + 0.5
    assert report.critical == ()  # nothing to act on
    assert events[-1][0] is EventType.SAFETY_CHECK and events[-1][1] is Severity.HIGH
    assert "AAPL: position 0, account stream 130" in events[-1][2]
    assert [a.key for a in alerts] == ["breach_unconfirmed"]


async def test_a_standing_breach_is_not_carried_to_a_later_one(monkeypatch: Any) -> None:
    monkeypatch.setattr(confirming, "MAX_WAIT_SECONDS", 0.3)
    consistent = AccountEvidence(net_liquidation=120_000, daily_pnl=-300, pnl_current=True)
    confirmer, events, _ = make(consistent)
    assert (await confirmer.confirm(BREACH)).critical == ()  # 0.3 s: not yet standing 1 s
    monkeypatch.setattr(confirming, "CARRY_SECONDS", 0.0)  # the next check comes "much later"
    assert (await confirmer.confirm(BREACH)).critical == ()  # it starts its own count
    monkeypatch.setattr(confirming, "CARRY_SECONDS", 5.0)  # the next checks follow at once
    calls = 1
    while not (await confirmer.confirm(BREACH)).critical:
        calls += 1
        assert calls < 5
    # 0.3 s per wait from the reset: the 1 s is reached in the fourth wait, not the third
    # (which a count carried from the first breach would have given).
    assert calls == 3 and "standing" in events[-1][2]
