"""The connection's counters agree with its log: the attempt the log announces is the attempt the
screen counts, and uptime is measured from the first connect, not from the app's start."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import IbLogGuard
from tests.connection.test_connection import Harness
from tests.fixtures_sim import wait_until
from weekly_er_tui.broker.connection_stats import LinkCounters
from weekly_er_tui.clock import ManualClock
from weekly_er_tui.journal import Event
from weekly_er_tui.model import ConnectionState, EventType
from weekly_er_tui.sim import SimulatedGateway


async def test_the_attempt_the_log_announces_is_the_attempt_counted(
    gateway: SimulatedGateway, tmp_path: Path, manual_clock: ManualClock,
    ib_log_guard: IbLogGuard,
) -> None:
    ib_log_guard.expect_link_faults()
    # A long delay between attempts: the trader saw "attempt 0" for those 10 s.
    h = Harness(gateway, tmp_path, manual_clock, reconnect_delay=2.0)
    seen: list[tuple[str, int]] = []

    def on_event(ev: Event) -> None:
        if ev.event_type is EventType.RECONNECTING:
            seen.append((ev.message, h.monitor.stats().reconnect_attempts))

    h.journal.subscribe(on_event)
    await h.monitor.start(wait=True)
    try:
        gateway.drop_all()
        await wait_until(lambda: seen, timeout=5)
        message, counted = seen[0]
        assert message.startswith("Reconnect attempt 1/3 in 2 s")
        assert counted == 1
        await wait_until(lambda: h.monitor.is_connected, timeout=10)
        assert h.monitor.stats().reconnect_attempts == 1
    finally:
        await h.monitor.stop()
        h.journal.close()


async def test_the_screen_is_told_of_the_attempt_not_only_of_the_state(
    gateway: SimulatedGateway, tmp_path: Path, manual_clock: ManualClock,
    ib_log_guard: IbLogGuard,
) -> None:
    """RECONNECTING is said the moment the socket closes, the first attempt a turn later: the
    listeners (the engine's published state, so the screen) must hear of both, or the cockpit
    shows 'attempt 0' for the whole reconnect delay on an engine where nothing else moves."""
    ib_log_guard.expect_link_faults()
    h = Harness(gateway, tmp_path, manual_clock, reconnect_delay=2.0)
    heard: list[tuple[ConnectionState, int, int]] = []
    await h.monitor.start(wait=True)
    h.monitor.add_listener(lambda s: heard.append((s.state, s.attempt, s.max_attempts)))
    try:
        gateway.refuse_connections()
        gateway.drop_all()
        await wait_until(lambda: (ConnectionState.RECONNECTING, 1, 3) in heard, timeout=5)
        assert heard[0] == (ConnectionState.RECONNECTING, 0, 0), heard
    finally:
        gateway.accept_connections()
        await h.monitor.stop()
        h.journal.close()


def test_uptime_is_counted_from_the_first_connect() -> None:
    t = [0.0]
    c = LinkCounters(now=lambda: t[0])
    c.start()
    t[0] = 10.0  # the first connect took 10 s
    c.connected()
    t[0] = 11.0

    def pct() -> float:
        return c.snapshot(state=ConnectionState.CONNECTED, host="", port=0, client_id=0,
                          last_error="", degraded_reasons=()).uptime_pct

    assert pct() == 100.0  # not 1 of 11 seconds: the link has been up all the time it existed
    t[0] = 20.0
    c.disconnected()
    t[0] = 30.0
    assert pct() == 50.0


async def test_the_screen_says_the_attempt_of_the_log_on_a_second_outage_too(
    gateway: SimulatedGateway, tmp_path: Path, manual_clock: ManualClock,
    ib_log_guard: IbLogGuard,
) -> None:
    """The total of attempts grows over the session; the attempt of this outage is the log's
    "attempt 1/3", and that is what the banner and the connection pane say."""
    from weekly_er_tui.model import EngineState
    from weekly_er_tui.ui.widgets.banner import banner_lines
    from weekly_er_tui.ui.widgets.heartbeat import HeartbeatPanel

    ib_log_guard.expect_link_faults()
    h = Harness(gateway, tmp_path, manual_clock, reconnect_delay=1.0)
    seen: list[tuple[str, str, str]] = []

    def on_event(ev: Event) -> None:
        if ev.event_type is EventType.RECONNECTING:
            stats = h.monitor.stats()
            state = EngineState(timestamp=manual_clock.now(), connection=stats)
            banner = " | ".join(f"{b.label} {b.text}" for b in banner_lines(state))
            panel = HeartbeatPanel()
            panel.stats = stats
            seen.append((ev.message, banner, str(panel.render())))

    h.journal.subscribe(on_event)
    await h.monitor.start(wait=True)
    try:
        for outage in (1, 2):
            gateway.drop_all()
            await wait_until(lambda n=outage: len(seen) >= n, timeout=5)  # type: ignore[misc]
            message, banner, panel = seen[-1]
            assert message.startswith("Reconnect attempt 1/3"), message
            assert "attempt 1/3" in banner, (outage, banner)
            assert "attempt 1/3" in panel, (outage, panel)
            await wait_until(lambda: h.monitor.is_connected, timeout=10)
        assert h.monitor.stats().reconnect_attempts == 2  # the session's total stays a total
    finally:
        await h.monitor.stop()
        h.journal.close()
