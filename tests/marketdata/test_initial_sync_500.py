"""Load (issue 15): the heartbeat is answered WHILE the first resync of 500 held positions runs
(prices, sectors from contract details, PnL for each), not only once it is over: a gateway that
stalls during that long resync is noticed within heartbeat_interval + heartbeat_timeout."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures_sim import SIM_START, make_gateway, wait_until
from weekly_er_tui.broker.connection import ConnectionConfig, ConnectionMonitor
from weekly_er_tui.broker.portfolio import PortfolioTracker
from weekly_er_tui.clock import ManualClock
from weekly_er_tui.journal import Journal, read_csv
from weekly_er_tui.model import ConnectionState, ConnectionStats, EventType
from weekly_er_tui.sim import SimulatedGateway, parse_scenario

N = 500
SECTORS = ("Technology", "Financials", "Energy", "Healthcare", "Industrials")
INTERVAL, TIMEOUT = 1.0, 5.0


def held_500() -> dict[str, Any]:
    symbols = {f"H{i:03d}": {"price": 20.0 + i % 50, "sector": SECTORS[i % len(SECTORS)],
                             "volatility": 0.3} for i in range(N)}
    return {"name": "five-hundred-held", "account": {"id": "DU5000006", "cash": 5_000_000},
            "symbols": symbols,
            "positions": [{"symbol": s, "quantity": 10, "avg_cost": 20.0} for s in symbols]}


@pytest.fixture
async def held_gw() -> AsyncIterator[SimulatedGateway]:
    gw = make_gateway(parse_scenario(held_500()), ManualClock(SIM_START), tick_interval=0.25)
    await gw.start()
    try:
        yield gw
    finally:
        gw.unstall()
        await gw.stop()


def link_events(tmp_path: Path) -> list[dict[str, str]]:
    return [r for r in read_csv(tmp_path / "logs" / "events_log.csv") if r["event_type"] in (
        EventType.HEARTBEAT_FAILED.value, EventType.DISCONNECTED.value)]


Seen = list[tuple[float, ConnectionStats]]


def rig(gw: SimulatedGateway,
        tmp_path: Path) -> tuple[ConnectionMonitor, PortfolioTracker, Journal, Seen]:
    """The monitor and the tracker's resync hook as the engine wires them; every heartbeat
    answer (and state change) is recorded with its real time."""
    journal = Journal(tmp_path, gw.clock)
    monitor = ConnectionMonitor(
        ConnectionConfig(host="127.0.0.1", port=gw.port, client_id=11,
                         heartbeat_interval=INTERVAL, heartbeat_timeout=TIMEOUT,
                         connect_timeout=10.0, max_reconnect_attempts=3, reconnect_delay=0.5),
        journal=journal, clock=gw.clock)
    tracker = PortfolioTracker(monitor.ib, gw.clock)
    monitor.add_resync_hook(tracker.resync)
    seen: Seen = []
    monitor.add_listener(lambda s: seen.append((time.monotonic(), s)))
    return monitor, tracker, journal, seen


async def test_heartbeat_is_answered_during_the_first_resync_of_500_positions(
    held_gw: SimulatedGateway, tmp_path: Path
) -> None:
    monitor, tracker, journal, seen = rig(held_gw, tmp_path)
    try:
        t0 = time.monotonic()
        await monitor.start(wait=True)
        took = time.monotonic() - t0
        assert monitor.state is ConnectionState.CONNECTED
        assert len(tracker.ib.positions()) == N
        assert all(tracker.known_sector(f"H{i:03d}") == SECTORS[i % len(SECTORS)]
                   for i in range(N))
        # Heartbeats answered before the state said CONNECTED: during the resync itself.
        during = [(t, s) for t, s in seen if s.state is ConnectionState.CONNECTING
                  and s.heartbeat_latency.last_ms is not None]
        answers = sorted({t for t, _ in during})
        assert answers, f"no heartbeat answered during a {took:.1f} s resync"
        # About one a second from the first to the last: never stuck behind the sync's flood.
        gaps = [b - a for a, b in zip([t0, *answers], [*answers, t0 + took], strict=True)]
        assert max(gaps) < INTERVAL + TIMEOUT / 2, gaps
        worst = max(s.heartbeat_latency.worst_ms or 0.0 for _, s in during)
        assert worst < TIMEOUT * 1000 / 2, worst
        assert monitor.stats().total_disconnects == 0
        assert link_events(tmp_path) == []
        print(f"500 held positions resynced in {took:.1f} s; {len(answers)} heartbeats answered "
              f"during it, largest gap {max(gaps):.1f} s, worst latency {worst:.0f} ms")
    finally:
        await monitor.stop()
        tracker.detach()
        journal.close()


async def test_a_gateway_that_stalls_during_the_resync_is_noticed_within_interval_plus_timeout(
    held_gw: SimulatedGateway, tmp_path: Path
) -> None:
    monitor, tracker, journal, _ = rig(held_gw, tmp_path)
    try:
        starting = asyncio.ensure_future(monitor.start(wait=False))
        # ib_async's own start-up sync is over (the connect counts) and the resync hooks run.
        await wait_until(lambda: monitor.stats().total_connections == 1, timeout=20)
        assert monitor.state is ConnectionState.CONNECTING
        held_gw.stall()
        stalled_at = time.monotonic()
        await wait_until(lambda: bool(link_events(tmp_path)), timeout=INTERVAL + TIMEOUT + 10)
        noticed = time.monotonic() - stalled_at
        kinds = [e["event_type"] for e in link_events(tmp_path)]
        assert kinds[0] == EventType.HEARTBEAT_FAILED.value, kinds
        # The next beat goes out within the interval (and the 1.2 s spacing), then its timeout.
        assert noticed < INTERVAL + TIMEOUT + 1.5, noticed
        # The first connect failed; exactly one reconnect loop owns the link now.
        await wait_until(lambda: starting.done(), timeout=TIMEOUT + 5)
        starting.result()
        assert monitor.reconnecting
        assert monitor.state is not ConnectionState.CONNECTED
        print(f"stall during the resync noticed after {noticed:.1f} s")
    finally:
        await monitor.stop()
        tracker.detach()
        journal.close()
