"""The safety check's gate on a connect's account download (safety/initial_sync.py), with a
fake tracker and a hand-moved real-seconds clock: it holds while the download is incomplete,
says so once per connect, and never leaves the account unwatched past its wait."""

from __future__ import annotations

from typing import Any

from weekly_er_tui.model import Alert, EventType, Severity
from weekly_er_tui.safety.initial_sync import InitialSyncGate


class Tracker:
    def __init__(self) -> None:
        self.sync_epoch = 1
        self.missing: tuple[str, ...] = ("the account values (TotalCashValue)",)

    def initial_sync_missing(self) -> tuple[str, ...]:
        return self.missing


def _gate(now: list[float]) -> tuple[InitialSyncGate, list[tuple[Any, ...]], list[Alert]]:
    events: list[tuple[Any, ...]] = []
    alerts: list[Alert] = []
    gate = InitialSyncGate(lambda *e: events.append(e), alerts.append, wait_s=30.0,
                           now=lambda: now[0])
    return gate, events, alerts


def test_held_while_incomplete_said_once_then_resumed() -> None:
    now = [100.0]
    gate, events, alerts = _gate(now)
    tracker = Tracker()
    assert gate.holds(tracker, "change")
    now[0] += 5
    assert gate.holds(tracker, "timer")
    assert len(events) == 1 and events[0][0] is EventType.SAFETY_CHECK
    assert "skipped" in events[0][2] and "TotalCashValue" in events[0][2]
    tracker.missing = ()
    assert not gate.holds(tracker, "change")
    assert "complete" in events[-1][2] and events[-1][3] == {"skipped": 2}
    assert not gate.holds(tracker, "change") and len(events) == 2 and not alerts


def test_an_account_that_never_arrives_is_checked_after_the_wait_and_alerted() -> None:
    now = [0.0]
    gate, events, alerts = _gate(now)
    tracker = Tracker()
    assert gate.holds(tracker, "change")
    now[0] = 29.9
    assert gate.holds(tracker, "change")
    now[0] = 30.0
    assert not gate.holds(tracker, "change")
    assert not gate.holds(tracker, "change")
    assert [a.priority for a in alerts] == [Severity.HIGH]
    assert "TotalCashValue" in alerts[0].body
    assert events[-1][1] is Severity.HIGH


def test_each_connect_waits_anew() -> None:
    now = [0.0]
    gate, events, _ = _gate(now)
    tracker = Tracker()
    assert gate.holds(tracker, "change")
    now[0] = 40.0
    assert not gate.holds(tracker, "change")  # gave up on the first connect
    tracker.sync_epoch += 1  # a reconnect
    assert gate.holds(tracker, "change")
    assert sum("skipped" in e[2] for e in events) == 2


def test_waiting_is_what_holds_and_ends_with_the_wait() -> None:
    now = [0.0]
    gate, events, _ = _gate(now)
    tracker = Tracker()
    assert gate.waiting(tracker)  # no check has seen this connect yet
    assert gate.holds(tracker, "change") and gate.waiting(tracker)
    now[0] = 31.0
    assert not gate.waiting(tracker)  # past the wait the screen shows what arrived
    assert len(events) == 1  # asking counts no skip
    tracker.missing = ()
    now[0] = 1.0
    assert not gate.waiting(tracker)


def test_a_tracker_that_says_nothing_of_its_sync_is_complete() -> None:
    gate, events, _ = _gate([0.0])
    assert not gate.holds(object(), "change") and not events


def test_check_safety_says_first_that_the_account_is_incomplete() -> None:
    from weekly_er_tui.cli.check_reports import safety_lines

    report = {"overall_risk_score": 10.0, "timestamp": "2026-11-23T15:00:00+00:00", "uses": [],
              "violations": [],
              "initial_sync_missing": ["the account values (TotalCashValue, NetLiquidation)"]}
    lines = safety_lines(report)
    assert lines[0].startswith("WARNING: the account from IB is incomplete (missing the "
                               "account values (TotalCashValue, NetLiquidation))"), lines[0]
    del report["initial_sync_missing"]
    assert not safety_lines(report)[0].startswith("WARNING")
