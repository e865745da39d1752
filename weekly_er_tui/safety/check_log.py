"""Which timed safety checks the journal records: one whose result changed, and a heartbeat.

The timer checks every `safety_check_interval` (5 minutes by default), overnight too: one event
each was 573 of 614 events over two days, burying what happened. A timed check is journaled when
its result differs from the last one journaled (the violations, or the risk score's band of 10
points), and otherwise once per HEARTBEAT of the engine's clock as one line that counts the
checks since ("Safety checks (timer): 12 since 14:05 ET, unchanged: ..."), so the log still
shows the monitor alive. Manual checks are always journaled; change-driven ones never are
(they run many times a second; the timer's are the record). Pure: the instants are the caller's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from weekly_er_tui.clock import ET
from weekly_er_tui.model import SafetyReport

HEARTBEAT = timedelta(hours=1)
SCORE_BAND = 10  # risk-score points: a move within a band is not a new result


def _result(report: SafetyReport) -> tuple[tuple[str, ...], int]:
    rules = tuple(sorted({f"{v.rule}:{v.severity.value}" for v in report.violations}))
    return rules, int(report.overall_risk_score // SCORE_BAND)


@dataclass
class CheckLog:
    last_result: tuple[tuple[str, ...], int] | None = None
    last_journaled: datetime | None = None
    unjournaled: int = 0  # timed checks since the last journaled one

    def message(self, trigger: str, report: SafetyReport, now: datetime) -> str | None:
        """The SAFETY_CHECK event's message for this check, or None when it is not journaled."""
        if trigger == "change":
            return None
        summary = (f"risk score {report.overall_risk_score:g}/100, "
                   f"{len(report.violations)} violation(s)")
        result = _result(report)
        if trigger != "timer" or result != self.last_result or self.last_journaled is None:
            text = f"Safety check ({trigger}): {summary}"
        elif now - self.last_journaled >= HEARTBEAT:
            since = self.last_journaled.astimezone(ET).strftime("%H:%M")
            text = (f"Safety checks (timer): {self.unjournaled + 1} since {since} ET, "
                    f"unchanged: {summary}")
        else:
            self.unjournaled += 1
            return None
        self.last_result, self.last_journaled, self.unjournaled = result, now, 0
        return text
