"""A TradingEngine against the simulated gateway over TCP, for the safety tests.

`rig(...)` builds a TradingEngine on the test's gateway with the ManualClock (market time) and short
real-second network guards, runs `engine.run()` as a task, and waits until the engine is connected
and has made its first safety check (so the session's baseline is set). Every rig is stopped and
closed after the test.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any, Protocol

import pytest

from tests.conftest import IbLogGuard
from tests.fixtures_sim import wait_until
from weekly_er_tui.broker.connection import ConnectionConfig
from weekly_er_tui.clock import ManualClock
from weekly_er_tui.config import AppConfig
from weekly_er_tui.engine import TradingEngine
from weekly_er_tui.journal import Event, read_csv
from weekly_er_tui.model import AlertRecord, EventType, Severity
from weekly_er_tui.sim import SimulatedGateway

FAST: dict[str, Any] = {
    "host": "127.0.0.1", "client_id": 7, "heartbeat_interval": 1.0, "heartbeat_timeout": 1.0,
    "connect_timeout": 2.0, "max_reconnect_attempts": 2, "reconnect_delay": 0.2,
    "slow_retry_interval": 0.5,
}  # fmt: skip


class Rig:
    """One engine, the events it journaled, and ways to read its files."""

    def __init__(self, engine: TradingEngine, gateway: SimulatedGateway) -> None:
        self.engine = engine
        self.gateway = gateway
        self.events: list[Event] = []
        engine.journal.subscribe(self.events.append)
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> Rig:
        self.task = asyncio.create_task(self.engine.run())
        safety = self.engine.safety
        # The first check runs right after the resync: it fixes the session's baseline.
        await wait_until(lambda: self.engine.monitor.is_connected and safety.last_report
                         is not None, timeout=5)
        return self

    async def stop(self) -> None:
        if self.task is None:
            return
        task, self.task = self.task, None
        await self.engine.stop()
        await asyncio.wait_for(task, 10)
        self.engine.close()
        # The gateway saw the disconnect (a restart may reuse the clientId).
        await wait_until(lambda: self.engine.monitor.config.client_id not in self.gateway.clients)

    def of(self, kind: EventType) -> list[Event]:
        return [e for e in self.events if e.event_type is kind]

    def alerts(self, priority: Severity | None = None) -> list[AlertRecord]:
        """The AlertManager's log, oldest first."""
        records = list(reversed(self.engine.alerts.records))
        return [r for r in records if priority is None or r.priority is priority]

    def rows(self, name: str) -> list[dict[str, str]]:
        return read_csv(self.engine.data_dir / "logs" / name)

    async def settle(self) -> None:
        """Wait for one more safety check after everything so far (what a follow-up sees)."""
        n = self.engine.safety.checks_run
        self.engine.safety.request_check()
        await wait_until(lambda: self.engine.safety.checks_run > n, timeout=5)


class MakeRig(Protocol):
    async def __call__(
        self, limits: dict[str, Any] | None = None, *, tracked: Iterable[str] | None = None,
        data_dir: Path | None = None,
    ) -> Rig: ...


@pytest.fixture
async def rig(gateway: SimulatedGateway, tmp_path: Path, manual_clock: ManualClock,
              ib_log_guard: IbLogGuard) -> AsyncIterator[MakeRig]:
    """`await rig(limits, tracked=...)`: a started engine. `tracked` defaults to every position
    the account holds (as if the strategy had entered them), so nothing is an orphan."""
    made: list[Rig] = []

    async def make(
        limits: dict[str, Any] | None = None, *, tracked: Iterable[str] | None = None,
        data_dir: Path | None = None,
    ) -> Rig:
        config = AppConfig.model_validate(
            {"ib_port": gateway.port, "safety_limits": limits or {}}
        )
        engine = TradingEngine(
            config, data_dir=data_dir or tmp_path, clock=manual_clock,
            connection=ConnectionConfig(port=gateway.port, **FAST),
        )
        held = gateway.account.positions
        for symbol in held if tracked is None else tracked:
            qty = held[symbol][0] if symbol in held else 10.0
            engine.store.track_position(symbol, qty, "wer-entry-earlier", manual_clock.now())
        r = Rig(engine, gateway)
        made.append(r)
        return await r.start()

    try:
        yield make
    finally:
        for r in made:
            await r.stop()
