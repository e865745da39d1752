"""Fixtures of the simulated gateway, shared by every integration test (star-imported by conftest).

- `scenario`: a small fixed scenario (5 symbols in 4 sectors, 3 positions, $100k cash).
- `manual_clock`: a ManualClock at Monday 2026-11-23 10:00 ET, in session.
- `gateway`: a started SimulatedGateway on a free port (fast tick and engine loops), stopped after.
- `connect_ib`: `await connect_ib(client_id=1)` -> a connected ib_async.IB, disconnected after.
- `ib`: a connected ib_async.IB with clientId 1.
- `wait_until(predicate, timeout)`: poll a condition (real seconds) instead of sleeping and hoping.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Protocol

import pytest
from ib_async import IB

from weekly_er_tui.clock import ManualClock
from weekly_er_tui.sim import Scenario, SimulatedGateway, parse_scenario
from weekly_er_tui.sim.realism import Realism

__all__ = [
    "KIND_SIMULATOR",
    "SIM_START",
    "ConnectIB",
    "connect_ib",
    "default_realism",
    "gateway",
    "ib",
    "make_gateway",
    "manual_clock",
    "scenario",
    "small_scenario_data",
    "wait_until",
]

SIM_START = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
"""Monday 2026-11-23 10:00 US Eastern: a regular session, the week of the 13:00 early close."""


def small_scenario_data() -> dict[str, Any]:
    """The JSON of the test scenario (tests may copy and change it)."""
    return {
        "name": "test",
        "account": {"id": "DU1000001", "cash": 100_000},
        "symbols": {
            "AAPL": {"price": 200.0, "sector": "Technology", "industry": "Computers",
                     "volatility": 0.30, "exchange": "NASDAQ", "name": "Apple Inc"},
            "MSFT": {"price": 400.0, "sector": "Technology", "industry": "Software",
                     "volatility": 0.25, "exchange": "NASDAQ", "name": "Microsoft Corp"},
            "JPM": {"price": 200.0, "sector": "Financials", "industry": "Banks",
                    "volatility": 0.22, "name": "JPMorgan Chase & Co"},
            "XOM": {"price": 110.0, "sector": "Energy", "industry": "Oil&Gas",
                    "volatility": 0.25, "name": "Exxon Mobil Corp"},
            "JNJ": {"price": 150.0, "sector": "Healthcare", "industry": "Pharmaceuticals",
                    "volatility": 0.18, "name": "Johnson & Johnson"},
        },
        "positions": [
            {"symbol": "AAPL", "quantity": 100, "avg_cost": 180.0},
            {"symbol": "JPM", "quantity": 50, "avg_cost": 190.0},
            {"symbol": "XOM", "quantity": 100, "avg_cost": 105.0},
        ],
        "earnings": [{"symbol": "MSFT", "weekday": "tue", "timing": "AMC"}],
    }  # fmt: skip


@pytest.fixture
def scenario() -> Scenario:
    return parse_scenario(small_scenario_data())


@pytest.fixture
def manual_clock() -> ManualClock:
    return ManualClock(SIM_START)


KIND_SIMULATOR = "kind_simulator"  # the marker of a test that needs the kind simulator


def default_realism(scenario: Scenario, request: pytest.FixtureRequest | None = None) -> Realism:
    """The realism integration tests run on: a real gateway's (Realism.real(), sim/realism.py),
    since a kind simulator proves little. A scenario's own `realism` object wins; a test that
    needs the kind simulator for a wire-format reason says so with
    `@pytest.mark.kind_simulator("why")` (or passes realism= itself)."""
    if request is not None and request.node.get_closest_marker(KIND_SIMULATOR) is not None:
        return Realism.kind()
    return scenario.realism_profile() if scenario.realism else Realism.real()


def make_gateway(scenario: Scenario, clock: Any, **kwargs: Any) -> SimulatedGateway:
    """A gateway with the fast loops tests want (ticks every 50 ms, engine every 10 ms), on
    the real gateway's behaviour unless the scenario or `realism=` says otherwise."""
    options: dict[str, Any] = {
        "tick_interval": 0.05,
        "engine_interval": 0.01,
        "account_interval": 0.1,
        "realism": default_realism(scenario),
    }
    options.update(kwargs)
    return SimulatedGateway(scenario, clock, port=0, seed=1, **options)


class _DecoderErrors(logging.Handler):
    """ib_async's decoder logs to "ib_async.Decoder" (capital D) when it drops a message."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture
async def gateway(
    scenario: Scenario, manual_clock: ManualClock, request: pytest.FixtureRequest
) -> AsyncIterator[SimulatedGateway]:
    """A started gateway (the real profile unless the test is marked kind_simulator); the test
    fails if ib_async's decoder dropped any of its messages."""
    gw = make_gateway(scenario, manual_clock, realism=default_realism(scenario, request))
    decoder_log = logging.getLogger("ib_async.Decoder")
    errors = _DecoderErrors()
    decoder_log.addHandler(errors)
    await gw.start()
    try:
        yield gw
    finally:
        await gw.stop()
        decoder_log.removeHandler(errors)
    if errors.messages:
        pytest.fail(
            "ib_async's decoder could not read a simulator message:\n  "
            + "\n  ".join(errors.messages)
        )


class ConnectIB(Protocol):
    def __call__(
        self, client_id: int = 1, timeout: float = 5.0, gw: SimulatedGateway | None = None
    ) -> Awaitable[IB]: ...


@pytest.fixture
async def connect_ib(gateway: SimulatedGateway) -> AsyncIterator[ConnectIB]:
    made: list[IB] = []

    async def connect(
        client_id: int = 1, timeout: float = 5.0, gw: SimulatedGateway | None = None
    ) -> IB:
        client = IB()
        made.append(client)
        await client.connectAsync(
            "127.0.0.1", (gw or gateway).port, clientId=client_id, timeout=timeout
        )
        return client

    yield connect
    for client in made:
        client.disconnect()
    await asyncio.sleep(0)


@pytest.fixture
async def ib(connect_ib: ConnectIB) -> IB:
    return await connect_ib(1)


async def wait_until(
    predicate: Callable[[], object], timeout: float = 5.0, interval: float = 0.01
) -> None:
    """Wait until `predicate()` is truthy; fail the test after `timeout` real seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s: {predicate}")
        await asyncio.sleep(interval)
