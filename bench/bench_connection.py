"""Connection benchmarks against the simulated gateway on loopback.

1. Heartbeat round trip through ConnectionMonitor (what RobustIBConnection runs) against a bare
   ib_async reqCurrentTime on the same gateway in the same run. Both are spaced 1 s apart (the
   rule for reqCurrentTime), so they see the same conditions. Target: within 1.2x.
2. Drop-to-reconnected time against the configured reconnect_delay. Target: delay + 1 s.

Run: python bench/bench_connection.py
"""

from __future__ import annotations

import asyncio
import logging
import statistics
import time
from typing import Any

from ib_async import IB

from weekly_er_tui.broker.connection import ConnectionConfig, ConnectionMonitor
from weekly_er_tui.clock import ManualClock
from weekly_er_tui.model import ConnectionState
from weekly_er_tui.sim import SimulatedGateway, load_scenario

SAMPLES = 8
SPACING = 1.0
DELAY = 0.5


async def _measure() -> list[dict[str, Any]]:
    from datetime import UTC, datetime

    clock = ManualClock(datetime(2026, 11, 23, 15, 0, tzinfo=UTC))
    gw = SimulatedGateway(load_scenario("demo"), clock, port=0, seed=1)
    await gw.start()
    try:
        bare = IB()
        await bare.connectAsync("127.0.0.1", gw.port, clientId=90, timeout=5)
        bare_ms: list[float] = []
        for _ in range(SAMPLES):
            t0 = time.perf_counter()
            await bare.reqCurrentTimeAsync()
            bare_ms.append((time.perf_counter() - t0) * 1000)
            await asyncio.sleep(SPACING)
        bare.disconnect()

        mon = ConnectionMonitor(ConnectionConfig(
            port=gw.port, client_id=91, heartbeat_interval=3600, reconnect_delay=DELAY,
        ))
        await mon.start(wait=True)
        ours_ms: list[float] = []
        for _ in range(SAMPLES):
            assert await mon.heartbeat()
            last = mon.stats().heartbeat_latency.last_ms
            assert last is not None
            ours_ms.append(last)
        # Drop to reconnected, several times.
        recon: list[float] = []
        for _ in range(3):
            t0 = time.perf_counter()
            gw.drop_all()
            while mon.state is ConnectionState.CONNECTED:
                await asyncio.sleep(0.001)
            while mon.state is not ConnectionState.CONNECTED:
                await asyncio.sleep(0.005)
            recon.append(time.perf_counter() - t0)
        await mon.stop()
    finally:
        await gw.stop()
    b, o = statistics.median(bare_ms), statistics.median(ours_ms)
    r = statistics.median(recon)
    return [
        {"name": "heartbeat round trip (median)", "value": o, "unit": "ms",
         "baseline": b, "ratio": o / b, "target": "<= 1.2x bare reqCurrentTime",
         "met": o / b <= 1.2},
        {"name": "drop to reconnected (median of 3)", "value": r, "unit": "s",
         "baseline": DELAY, "ratio": r / DELAY, "target": f"<= delay + 1 s ({DELAY + 1:g} s)",
         "met": r <= DELAY + 1.0},
    ]


def run() -> list[dict[str, Any]]:
    logging.getLogger("ib_async").setLevel(logging.CRITICAL)
    logging.getLogger("weekly_er_tui").setLevel(logging.ERROR)
    return asyncio.run(_measure())


if __name__ == "__main__":
    for row in run():
        print(row)
