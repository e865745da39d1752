"""Notes rows 6 and 7: the gateway's own outages are expected, and a farm down at the connect
leaves the link DEGRADED. ConnectionMonitor against the simulated gateway over TCP.

The restart window is the engine's clock (a time of day, ET); the reconnect attempts are real
seconds, short here (3 attempts 0.2 s apart), so every outage below outlasts them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.conftest import IbLogGuard
from tests.connection.test_connection import Harness
from tests.fixtures_sim import make_gateway, wait_until
from weekly_er_tui.clock import ManualClock
from weekly_er_tui.model import ConnectionState, EventType, Severity
from weekly_er_tui.sim import Scenario, SimulatedGateway
from weekly_er_tui.sim.scenario import TimelineEntry

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def _link_faults(ib_log_guard: IbLogGuard) -> None:
    ib_log_guard.expect_link_faults()


def keys(h: Harness) -> list[str]:
    return [a.key for a in h.alerts]


async def test_a_farm_down_at_the_connect_leaves_the_link_degraded(
    gateway: SimulatedGateway, tmp_path: Path, manual_clock: ManualClock
) -> None:
    gateway.realism = gateway.realism.model_copy(update={"farm_codes_at_connect": True})
    gateway.emit_connectivity(2103)  # the market data farm is down when we connect
    h = Harness(gateway, tmp_path, manual_clock)
    await h.monitor.start(wait=True)
    try:
        assert h.monitor.state is ConnectionState.DEGRADED
        reasons = h.monitor.stats().degraded_reasons
        assert reasons and "market data farm broken (2103)" in reasons[0]
        gateway.emit_connectivity(2104)
        await wait_until(lambda: h.monitor.state is ConnectionState.CONNECTED)
        assert h.monitor.stats().degraded_reasons == ()
    finally:
        await h.monitor.stop()


async def test_the_scheduled_restart_is_info_and_reconnects_when_the_gateway_is_back(
    gateway: SimulatedGateway, tmp_path: Path, manual_clock: ManualClock
) -> None:
    # The clock is 10:00 ET: the restart set for 10:00 is now.
    h = Harness(gateway, tmp_path, manual_clock, gateway_restart_time="10:00")
    await h.monitor.start(wait=True)
    try:
        gateway.timeline.apply(TimelineEntry(at=0, action="restart"))  # 150 s of refusing
        # Past the 3 attempts, and still it is no failure: the window runs to 10:10.
        await wait_until(lambda: h.monitor.stats().reconnect_attempts >= 5, timeout=10)
        assert h.monitor.state is ConnectionState.RECONNECTING
        assert "reconnect_failed" not in keys(h) and "connection_lost" not in keys(h)
        manual_clock.advance(150)
        await wait_until(lambda: h.monitor.state is ConnectionState.CONNECTED, timeout=10)
    finally:
        await h.monitor.stop()
    assert keys(h) == ["gateway_restart", "reconnected"]
    assert h.alerts[0].priority is Severity.INFO
    assert "Gateway restarting (scheduled)" in h.alerts[0].title
    assert not h.of(EventType.CONNECTION_FAILED)


async def test_an_outage_past_the_restart_window_is_critical(
    gateway: SimulatedGateway, tmp_path: Path, manual_clock: ManualClock
) -> None:
    h = Harness(gateway, tmp_path, manual_clock, gateway_restart_time="09:55")
    await h.monitor.start(wait=True)
    try:
        gateway.drop_all()
        gateway.refuse_connections()
        await wait_until(lambda: h.monitor.stats().reconnect_attempts >= 5, timeout=10)
        assert "reconnect_failed" not in keys(h)
        manual_clock.advance(6 * 60)  # 10:06: past the window (09:55 to 10:05)
        await wait_until(lambda: "reconnect_failed" in keys(h), timeout=10)
        failed = h.of(EventType.CONNECTION_FAILED)
        assert failed[-1].severity is Severity.CRITICAL and "lasted past" in failed[-1].message
    finally:
        await h.monitor.stop()


async def test_outside_the_window_an_outage_fails_as_before(
    gateway: SimulatedGateway, tmp_path: Path, manual_clock: ManualClock
) -> None:
    h = Harness(gateway, tmp_path, manual_clock, gateway_restart_time="23:45")
    await h.monitor.start(wait=True)
    try:
        gateway.drop_all()
        gateway.refuse_connections()
        await wait_until(lambda: "reconnect_failed" in keys(h), timeout=10)
        assert keys(h)[0] == "connection_lost"
    finally:
        await h.monitor.stop()


SUNDAY = datetime(2026, 11, 22, 7, 0, tzinfo=UTC)  # Sunday 02:00 ET


async def test_the_sunday_relogin_gets_one_high_alert_and_resumes_after_the_login(
    scenario: Scenario, tmp_path: Path
) -> None:
    clock = ManualClock(SUNDAY)
    gw = make_gateway(scenario, clock)
    await gw.start()
    h = Harness(gw, tmp_path, clock)
    try:
        await h.monitor.start(wait=True)
        gw.timeline.apply(TimelineEntry(at=0, action="relogin_outage"))
        await wait_until(lambda: "relogin_needed" in keys(h), timeout=10)
        n = h.monitor.stats().reconnect_attempts
        await wait_until(lambda: h.monitor.stats().reconnect_attempts >= n + 2, timeout=10)
        gw.timeline.apply(TimelineEntry(at=0, action="login"))
        await wait_until(lambda: h.monitor.state is ConnectionState.CONNECTED, timeout=10)
    finally:
        await h.monitor.stop()
        await gw.stop()
    assert keys(h) == ["relogin_needed", "reconnected"]
    assert h.alerts[0].priority is Severity.HIGH and "login" in h.alerts[0].body


async def test_heartbeats_hold_on_a_tws_that_answers_once_a_second(
    gateway: SimulatedGateway, tmp_path: Path, manual_clock: ManualClock
) -> None:
    gateway.realism = gateway.realism.model_copy(update={"current_time_spacing_seconds": 1.0})
    h = Harness(gateway, tmp_path, manual_clock)
    await h.monitor.start(wait=True)
    try:
        assert await h.monitor.heartbeat()
        assert await h.monitor.heartbeat()  # spaced a second apart, never two in one second
        assert h.monitor.state is ConnectionState.CONNECTED
        assert not h.of(EventType.HEARTBEAT_FAILED)
    finally:
        await h.monitor.stop()
