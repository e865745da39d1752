"""issue 5: when checks run. A burst of updates costs one evaluation; the timer checks every
safety_check_interval seconds of the engine's clock, each one a SAFETY_CHECK event with its
duration."""

from __future__ import annotations

import pytest

from tests.fixtures_sim import wait_until
from tests.safety.conftest import MakeRig
from weekly_er_tui.clock import ManualClock
from weekly_er_tui.journal import Event
from weekly_er_tui.model import EventType

pytestmark = pytest.mark.integration


async def test_a_burst_of_updates_costs_one_check(rig: MakeRig) -> None:
    r = await rig()
    safety = r.engine.safety
    # Prices stand still on the ManualClock, so nothing else asks for a check meanwhile.
    await r.settle()
    n = safety.checks_run
    for _ in range(1_000):
        r.engine.portfolio._changed()  # what every position, PnL, account or tick event does
    await wait_until(lambda: safety.checks_run > n)
    # One more request after that check: exactly one more check, so the burst cost one.
    await r.settle()
    assert safety.checks_run == n + 2


async def test_timer_checks_are_journaled_when_their_result_changes_and_hourly_otherwise(
    rig: MakeRig, manual_clock: ManualClock
) -> None:
    r = await rig()
    interval = r.engine.config.connection_monitoring.safety_check_interval
    assert interval == 300
    safety = r.engine.safety

    def timed() -> list[Event]:
        return [e for e in r.of(EventType.SAFETY_CHECK) if e.details.get("trigger") == "timer"]

    manual_clock.advance(interval)  # the first timed check since the connect: journaled
    await wait_until(lambda: len(timed()) == 1)
    first = timed()[0]
    assert 0 < first.details["duration_ms"] < 1_000
    assert first.message.startswith("Safety check (timer): risk score ")
    # Nothing moves on a ManualClock: eleven more checks in the hour, none journaled.
    for _ in range(11):
        n = safety.checks_run
        manual_clock.advance(interval)
        await wait_until(lambda n=n: safety.checks_run > n)
    assert len(timed()) == 1
    # An hour after the last one journaled: one heartbeat line counting them.
    manual_clock.advance(interval)
    await wait_until(lambda: len(timed()) == 2)
    beat = timed()[1]
    assert beat.timestamp == manual_clock.now()
    assert beat.message.startswith("Safety checks (timer): 12 since 10:05 ET")
    assert "unchanged: risk score " in beat.message
    # A new result (a violation) is journaled at the next timed check.
    r.gateway.price_shock(40, symbol="AAPL")
    # Wait for the engine to have seen the shock (a change check finds the violation) before
    # the timer's turn: a timer check that ran before the shock's prices arrived found the old
    # result, rightly journaled nothing, and the test then waited for a check that never came.
    await wait_until(lambda: safety.last_report is not None
                     and bool(safety.last_report.violations))
    manual_clock.advance(interval)
    await wait_until(lambda: len(timed()) == 3)
    assert timed()[2].details["violations"], timed()[2].message
