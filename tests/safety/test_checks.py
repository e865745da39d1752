"""issue 5: when checks run. A burst of updates costs one evaluation; the timer checks every
safety_check_interval seconds of the engine's clock, each one a SAFETY_CHECK event with its
duration."""

from __future__ import annotations

import pytest

from tests.fixtures_sim import wait_until
from tests.safety.conftest import MakeRig
from weekly_er_tui.clock import ManualClock
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


async def test_timer_check_every_interval_of_the_clock_is_journaled_with_its_duration(
    rig: MakeRig, manual_clock: ManualClock
) -> None:
    r = await rig()
    interval = r.engine.config.connection_monitoring.safety_check_interval
    assert interval == 300
    before = [e for e in r.of(EventType.SAFETY_CHECK) if e.details["trigger"] == "timer"]
    manual_clock.advance(interval)
    await wait_until(lambda: len([e for e in r.of(EventType.SAFETY_CHECK)
                                  if e.details["trigger"] == "timer"]) > len(before))
    timed = [e for e in r.of(EventType.SAFETY_CHECK) if e.details["trigger"] == "timer"][-1]
    assert timed.timestamp == manual_clock.now()
    assert 0 < timed.details["duration_ms"] < 1_000
    assert "risk score" in timed.message
    assert any(row["event_type"] == "SAFETY_CHECK" for row in r.rows("events_log.csv"))
