"""ConnectionMonitor against the simulated gateway over TCP, faults from its fault API.

Network guards are real seconds, so the intervals here are short; every wait is on a condition
with a bound (wait_until), never a sleep-and-hope.
"""

from __future__ import annotations

import asyncio
import gc
import io
import logging
import time
from dataclasses import replace
from pathlib import Path

import pytest

from tests.conftest import IbLogGuard
from tests.fixtures_sim import wait_until
from weekly_er_tui.broker.connection import (
    ConnectionConfig,
    ConnectionFailed,
    ConnectionMonitor,
    RobustIBConnection,
)
from weekly_er_tui.broker.orders import FillRecorder
from weekly_er_tui.broker.portfolio import PortfolioTracker
from weekly_er_tui.clock import ManualClock
from weekly_er_tui.journal import Event, Journal, read_csv
from weekly_er_tui.model import Alert, ConnectionState, EventType, Severity
from weekly_er_tui.sim import SimulatedGateway
from weekly_er_tui.store import Store

FAST = ConnectionConfig(
    host="127.0.0.1", port=0, client_id=7, heartbeat_interval=0.3, heartbeat_timeout=0.4,
    connect_timeout=1.0, max_reconnect_attempts=3, reconnect_delay=0.2, slow_retry_interval=0.3,
)


class Harness:
    def __init__(self, gw: SimulatedGateway, tmp: Path, clock: ManualClock,
                 **overrides: object) -> None:
        self.journal = Journal(tmp, clock)
        self.events: list[Event] = []
        self.journal.subscribe(self.events.append)
        self.alerts: list[Alert] = []
        cfg = replace(FAST, port=gw.port, **overrides)  # type: ignore[arg-type]
        self.monitor = ConnectionMonitor(cfg, journal=self.journal, alert=self.alerts.append,
                                         clock=clock)

    def of(self, kind: EventType) -> list[Event]:
        return [e for e in self.events if e.event_type is kind]


@pytest.fixture
def harness(gateway: SimulatedGateway, tmp_path: Path, manual_clock: ManualClock,
            ib_log_guard: IbLogGuard) -> Harness:
    # Expected while faults are injected: ib_async logs these at ERROR.
    ib_log_guard.expect_link_faults()
    for pattern in (r"Error 1100", r"Error 1101", r"Error 1102", r"Error 2110",
                    "Socket disconnect", "already in use"):
        ib_log_guard.expect(pattern)
    return Harness(gateway, tmp_path, manual_clock)


async def test_connects_resyncs_and_reports_stats(harness: Harness) -> None:
    mon = harness.monitor
    await mon.start(wait=True)
    try:
        assert mon.state is ConnectionState.CONNECTED
        assert [e.event_type for e in harness.events][:2] == [EventType.RESYNC,
                                                             EventType.CONNECTED]
        assert "3 positions" in harness.of(EventType.RESYNC)[0].message
        assert await mon.heartbeat()
        stats = mon.get_connection_stats()
        for key in ("total_connections", "total_disconnects", "reconnect_attempts",
                    "current_uptime", "last_heartbeat", "heartbeat_latency_ms", "uptime_pct",
                    "state"):
            assert key in stats
        assert stats["total_connections"] == 1 and stats["state"] == "CONNECTED"
        assert stats["heartbeat_latency_ms"]["last"] > 0
        # Since start: the connect itself counts as time not connected.
        assert 0.0 < stats["uptime_pct"] <= 100.0 and stats["current_uptime"] > 0
    finally:
        await mon.stop()
    assert mon.state is ConnectionState.STOPPED


async def test_drop_reconnects_within_the_delay(harness: Harness, gateway: SimulatedGateway
                                               ) -> None:
    mon = harness.monitor
    await mon.start(wait=True)
    try:
        t0 = time.monotonic()
        gateway.drop_all()
        await wait_until(lambda: harness.of(EventType.RECONNECTED), timeout=5)
        elapsed = time.monotonic() - t0
        # The first attempt waits reconnect_delay; connect + resync on loopback is quick.
        assert elapsed < FAST.reconnect_delay + 2.0
        assert mon.state is ConnectionState.CONNECTED
        assert harness.of(EventType.DISCONNECTED)[0].severity is Severity.HIGH
        stats = mon.stats()
        assert (stats.total_connections, stats.total_disconnects) == (2, 1)
        assert stats.reconnect_attempts == 1
        assert [a.key for a in harness.alerts] == ["connection_lost", "reconnected"]
        assert harness.alerts[1].title == "Reconnected to IBKR after 1 attempt"
    finally:
        await mon.stop()


async def test_gateway_down_for_three_attempts_reconnects_on_the_fourth(
    gateway: SimulatedGateway, tmp_path: Path, manual_clock: ManualClock,
    ib_log_guard: IbLogGuard,
) -> None:
    ib_log_guard.expect_link_faults()
    h = Harness(gateway, tmp_path, manual_clock, max_reconnect_attempts=5)

    def back_before_fourth(ev: Event) -> None:
        # The loop announces attempt 4 before its delay: the gateway comes back in that gap.
        if ev.event_type is EventType.RECONNECTING and ev.details.get("attempt") == 4:
            gateway.accept_connections()

    h.journal.subscribe(back_before_fourth)
    await h.monitor.start(wait=True)
    try:
        gateway.refuse_connections()
        gateway.drop_all()
        await wait_until(lambda: h.of(EventType.RECONNECTED), timeout=10)
        assert h.of(EventType.RECONNECTED)[0].details["attempts"] == 4
        assert h.of(EventType.RECONNECTED)[0].message.endswith(" after 4 attempts")
        assert h.monitor.stats().reconnect_attempts == 4
        assert not h.of(EventType.CONNECTION_FAILED)
    finally:
        await h.monitor.stop()


async def test_gateway_never_back_fails_once_then_slow_retries_recover(
    harness: Harness, gateway: SimulatedGateway
) -> None:
    mon = harness.monitor
    await mon.start(wait=True)
    try:
        gateway.refuse_connections()
        gateway.drop_all()
        await wait_until(lambda: mon.state is ConnectionState.FAILED, timeout=10)
        critical = [a for a in harness.alerts if a.priority is Severity.CRITICAL]
        assert len(critical) == 1
        assert "manual intervention required" in critical[0].title
        failed = harness.of(EventType.CONNECTION_FAILED)
        assert len(failed) == 1 and "Manual intervention required" in failed[0].message
        assert "connection refused" in mon.stats().last_error
        # Slow retries keep going without a second CRITICAL alert...
        attempts = mon.stats().reconnect_attempts
        await wait_until(lambda: mon.stats().reconnect_attempts >= attempts + 2, timeout=5)
        assert mon.state is ConnectionState.FAILED
        # ...and succeed once the gateway is back.
        gateway.accept_connections()
        await wait_until(lambda: mon.state is ConnectionState.CONNECTED, timeout=5)
        assert len([a for a in harness.alerts if a.priority is Severity.CRITICAL]) == 1
        assert harness.of(EventType.RECONNECTED)
    finally:
        await mon.stop()


async def test_stall_is_detected_by_heartbeat_and_recovered(harness: Harness,
                                                           gateway: SimulatedGateway) -> None:
    mon = harness.monitor
    await mon.start(wait=True)
    try:
        t0 = time.monotonic()
        gateway.stall()
        await wait_until(lambda: harness.of(EventType.HEARTBEAT_FAILED), timeout=5)
        detected = time.monotonic() - t0
        assert detected <= FAST.heartbeat_interval + FAST.heartbeat_timeout + 0.5
        assert "stalled" in harness.of(EventType.HEARTBEAT_FAILED)[0].message
        # The socket was open all along: it is our heartbeat that declared the link dead.
        assert mon.state in (ConnectionState.RECONNECTING, ConnectionState.FAILED)
        gateway.unstall()
        await wait_until(lambda: mon.state is ConnectionState.CONNECTED, timeout=10)
        assert await mon.heartbeat()
    finally:
        await mon.stop()


async def test_fill_made_while_disconnected_is_journaled_once(
    harness: Harness, gateway: SimulatedGateway, tmp_path: Path, manual_clock: ManualClock
) -> None:
    store = Store.in_data_dir(tmp_path)
    fills = FillRecorder(harness.monitor.ib, harness.journal, store, manual_clock)
    harness.monitor.add_resync_hook(fills.resync)
    mon = harness.monitor
    await mon.start(wait=True)
    try:
        gateway.refuse_connections()
        gateway.drop_all()
        await wait_until(lambda: mon.state is not ConnectionState.CONNECTED, timeout=5)
        execution = gateway.fill_externally("MSFT", 10)
        gateway.accept_connections()
        await wait_until(lambda: harness.of(EventType.RECONNECTED), timeout=10)
        # connectAsync's reqExecutions replays the day's fills; the journal takes it once
        # (by execId) whether the event or the resync's sweep sees it first.
        await wait_until(lambda: fills.journal.has_fill(execution.exec_id), timeout=5)
        assert len(read_csv(tmp_path / "logs/trade_journal.csv")) == 1

        # A second reconnect sees the same execution again and journals nothing new.
        gateway.drop_all()
        await wait_until(lambda: len(harness.of(EventType.RECONNECTED)) == 2, timeout=10)
        assert harness.of(EventType.RESYNC)[-1].details["fills_recovered"] == 0
        rows = read_csv(tmp_path / "logs/trade_journal.csv")
        assert [r["exec_id"] for r in rows] == [execution.exec_id]
        assert rows[0]["symbol"] == "MSFT" and rows[0]["reason"] == "EXTERNAL"
    finally:
        await mon.stop()
        fills.close()
        store.close()


async def test_connectivity_codes_drive_states_and_resubscription(
    harness: Harness, gateway: SimulatedGateway, manual_clock: ManualClock
) -> None:
    mon = harness.monitor
    tracker = PortfolioTracker(mon.ib, manual_clock)
    mon.add_resync_hook(tracker.resync)
    mon.add_data_lost_hook(tracker.resubscribe)
    await mon.start(wait=True)
    try:
        gateway.emit_connectivity(1100)
        await wait_until(lambda: mon.state is ConnectionState.DEGRADED)
        assert "1100" in mon.stats().degraded_reasons[0]
        assert any(a.key == "degraded:1100" for a in harness.alerts)

        gateway.emit_connectivity(1101)
        await wait_until(lambda: mon.state is ConnectionState.CONNECTED)
        await wait_until(lambda: any("resubscribed" in e.details
                                     for e in harness.of(EventType.RESYNC)))
        resub = next(e for e in harness.of(EventType.RESYNC) if "resubscribed" in e.details)
        assert resub.details["resubscribed"] == ["AAPL", "JPM", "XOM"]
        # The data really flows again after the gateway dropped every subscription.
        marks = {s: tracker.price(s) for s in ("AAPL", "JPM", "XOM")}
        assert all(v is not None for v in marks.values())

        gateway.emit_connectivity(1100)
        await wait_until(lambda: mon.state is ConnectionState.DEGRADED)
        gateway.emit_connectivity(1102)
        await wait_until(lambda: mon.state is ConnectionState.CONNECTED)

        gateway.emit_connectivity(2103)
        await wait_until(lambda: mon.state is ConnectionState.DEGRADED)
        gateway.emit_connectivity(2104)
        await wait_until(lambda: mon.state is ConnectionState.CONNECTED)
        changes = [e.details["to"] for e in harness.of(EventType.CONNECTION_STATE)]
        assert changes == ["DEGRADED", "CONNECTED"] * 3
    finally:
        tracker.detach()
        await mon.stop()


async def test_a_disconnect_during_a_reconnect_does_not_start_a_second_loop(
    harness: Harness, gateway: SimulatedGateway
) -> None:
    mon = harness.monitor
    await mon.start(wait=True)
    try:
        gateway.refuse_connections()
        gateway.drop_all()
        await wait_until(lambda: mon.reconnecting)
        first = mon._reconnect_task
        # Whatever else fires while the loop runs: another disconnect, another request.
        mon._on_disconnected()
        assert mon.request_reconnect("a second trigger") is False
        assert mon._reconnect_task is first
        gateway.accept_connections()
        await wait_until(lambda: mon.state is ConnectionState.CONNECTED, timeout=10)
        starts = [e for e in harness.of(EventType.RECONNECTING) if e.details["attempt"] == 1]
        assert len(starts) == 1
        assert len(harness.of(EventType.RECONNECTED)) == 1
    finally:
        await mon.stop()


async def test_client_id_in_use_is_named_and_the_next_id_tried(
    gateway: SimulatedGateway, tmp_path: Path, manual_clock: ManualClock, connect_ib: object,
    ib_log_guard: IbLogGuard,
) -> None:
    for pattern in ("already in use", "Peer closed connection", "API connection failed",
                    "Error 326"):
        ib_log_guard.expect(pattern)
    other = await connect_ib(client_id=7)  # type: ignore[operator]
    assert other.isConnected()

    h = Harness(gateway, tmp_path, manual_clock, max_reconnect_attempts=1)
    with pytest.raises(ConnectionFailed, match="clientId 7 is already in use"):
        await h.monitor.start(wait=True)
    await h.monitor.stop()

    h2 = Harness(gateway, tmp_path / "2", manual_clock, client_id_fallback=2)
    await h2.monitor.start(wait=True)
    try:
        assert h2.monitor.stats().client_id == 8
        assert any("clientId 7 was in use; connected as clientId 8" in e.message
                   for e in h2.events)
    finally:
        await h2.monitor.stop()


async def test_robust_connection_context_manager_and_clean_shutdown(
    gateway: SimulatedGateway, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="asyncio")
    async with RobustIBConnection(replace(FAST, port=gateway.port)) as ib:
        assert ib.isConnected()
        assert len(ib.positions()) == 3
    assert not ib.isConnected()
    gc.collect()
    await asyncio.sleep(0)
    assert not [r for r in caplog.records if "Task was destroyed" in r.getMessage()]


async def test_refused_connection_says_what_to_check(unused_tcp_port: int,
                                                     ib_log_guard: IbLogGuard) -> None:
    ib_log_guard.expect("API connection failed")
    ib_log_guard.expect("Make sure API port")
    cfg = replace(FAST, port=unused_tcp_port, max_reconnect_attempts=1)
    with pytest.raises(ConnectionFailed) as info:
        async with RobustIBConnection(cfg):
            pass
    assert str(info.value) == (
        f"Failed to connect to IBKR at 127.0.0.1:{unused_tcp_port}: connection refused. Check "
        f"that TWS or IB Gateway is running and that API port {unused_tcp_port} is enabled "
        "(TWS: Edit > Global Configuration > API > Settings)"
    )


async def test_check_connection_command(gateway: SimulatedGateway, unused_tcp_port: int,
                                        ib_log_guard: IbLogGuard) -> None:
    from weekly_er_tui.cli.checks import check_connection
    from weekly_er_tui.config import AppConfig

    out = io.StringIO()
    cfg = AppConfig(ib_port=gateway.port)
    assert await check_connection(cfg, out) == 0
    text = out.getvalue()
    assert [line[:11] for line in text.splitlines() if line.startswith("heartbeat ")] == [
        "heartbeat 1", "heartbeat 2", "heartbeat 3"] and "FAILED" not in text
    assert "connections: 1, disconnects: 0" in text

    ib_log_guard.expect("API connection failed")
    ib_log_guard.expect("Make sure API port")
    out = io.StringIO()
    assert await check_connection(AppConfig(ib_port=unused_tcp_port), out) == 1
    assert "connection refused" in out.getvalue()
