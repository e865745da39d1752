"""A rig for the engine's integration tests: the REAL TradingEngine (data dir in tmp_path, a
calendar CSV written there) against the simulated gateway over TCP, both on one Clock.

Time is driven by the test: a ManualClock is set to each instant the week's schedule names (an
entry, the Friday close, its backup, the bell), and the test then waits (bounded, in real seconds)
for the outcome it expects at that instant: an order filled and journaled, a FRIDAY_CLOSE phase
in events_log.csv. Network guards (heartbeat, reconnect) are real seconds and kept short.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests import conftest
from tests.fixtures_sim import default_realism, wait_until
from weekly_er_tui.broker.connection import ConnectionConfig
from weekly_er_tui.clock import ET, Clock, ManualClock
from weekly_er_tui.config import AppConfig, ConnectionMonitoring, StrategyConfig
from weekly_er_tui.engine import TradingEngine
from weekly_er_tui.journal import read_csv
from weekly_er_tui.model import EventType, FridayCloseState, PlanEntry, PlanStatus
from weekly_er_tui.sim import SimExecution, SimulatedGateway, parse_scenario

ACCOUNT = "DU2000002"
CLIENT_ID = 7
SEED = 7

# ib_async logs these at ERROR when a test drops or refuses the link on purpose.
LINK_FAULT_LOGS = (*conftest.LINK_FAULT_LOGS, "Connect call failed", "TimeoutError")


def et(y: int, m: int, d: int, hh: int, mm: int = 0, ss: int = 0) -> datetime:
    return datetime.combine(date(y, m, d), time(hh, mm, ss), tzinfo=ET)


def scenario_data() -> dict[str, Any]:
    """Seven symbols in five sectors; the trader's own 100 KO is never the strategy's."""
    return {
        "name": "engine-week",
        "account": {"id": ACCOUNT, "cash": 1_000_000},
        "symbols": {
            "AAPL": {"price": 200.0, "sector": "Technology", "volatility": 0.30},
            "MSFT": {"price": 400.0, "sector": "Technology", "volatility": 0.25},
            "NVDA": {"price": 140.0, "sector": "Technology", "volatility": 0.45},
            "JPM": {"price": 200.0, "sector": "Financials", "volatility": 0.22},
            "XOM": {"price": 110.0, "sector": "Energy", "volatility": 0.25},
            "JNJ": {"price": 150.0, "sector": "Healthcare", "volatility": 0.18},
            "KO": {"price": 60.0, "sector": "Consumer Staples", "volatility": 0.15},
        },
        "positions": [{"symbol": "KO", "quantity": 100, "avg_cost": 58.0}],
    }  # fmt: skip


def fast_connection(port: int) -> ConnectionConfig:
    """Real-second network guards, short (a reconnect in a fraction of a second), but with room
    for a loaded CI machine before a heartbeat is called lost."""
    return ConnectionConfig(
        host="127.0.0.1", port=port, client_id=CLIENT_ID, account=ACCOUNT,
        heartbeat_interval=1.0, heartbeat_timeout=3.0, connect_timeout=3.0,
        max_reconnect_attempts=5, reconnect_delay=0.2, slow_retry_interval=0.3,
    )


def make_config(calendar: Path, **strategy: Any) -> AppConfig:
    return AppConfig(
        account=ACCOUNT, ib_client_id=CLIENT_ID,
        connection_monitoring=ConnectionMonitoring(
            heartbeat_interval=1.0, heartbeat_timeout=3.0, connect_timeout=3.0,
            reconnect_delay=0.2, slow_retry_interval=0.3,
        ),
        strategy=StrategyConfig(calendar_file=str(calendar), **strategy),
    )


def write_calendar(path: Path, rows: Iterable[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("symbol,report_date,timing,side,notional\n" + "".join(f"{r}\n" for r in rows))
    return path


@dataclass
class Rig:
    data_dir: Path
    clock: Clock
    gw: SimulatedGateway
    config: AppConfig
    engine: TradingEngine | None = None
    task: asyncio.Task[None] | None = None
    engines: list[TradingEngine] = field(default_factory=list)

    # -- lifecycle ---------------------------------------------------------------------------
    async def start_engine(self, planned: bool = True) -> TradingEngine:
        """Start an engine on the rig's data dir and gateway; wait until it is connected and
        (`planned`) the week's plan is made."""
        engine = TradingEngine(self.config, data_dir=self.data_dir, clock=self.clock,
                               connection=fast_connection(self.gw.port))
        self.engine = engine
        self.engines.append(engine)
        self.task = asyncio.create_task(engine.run(), name="engine")
        await self.until(lambda: engine.monitor.is_connected and engine.strategy.week_of
                         is not None and engine.strategy.friday_close_state is not None
                         and (bool(engine.strategy.plan) or not planned),
                         timeout=15)
        return engine

    async def stop_engine(self) -> None:
        """Stop the engine the way the headless runner does; wait for the gateway to see the
        client go (a new engine reuses its clientId)."""
        engine, task = self.engine, self.task
        if engine is None or task is None:
            return
        await engine.stop()
        await asyncio.wait_for(task, 20)
        engine.close()
        self.engine = self.task = None
        await self.until(lambda: CLIENT_ID not in self.gw.clients, timeout=5)

    async def until(self, predicate: Callable[[], object], timeout: float = 10.0) -> None:
        """Wait for a condition (real seconds, bounded); fail at once if the engine died."""
        task = self.task

        def check() -> object:
            if task is not None and task.done():
                task.result()  # raises what killed it
                raise AssertionError("the engine stopped")
            return predicate()

        await wait_until(check, timeout=timeout)

    @property
    def manual(self) -> ManualClock:
        assert isinstance(self.clock, ManualClock)
        return self.clock

    # -- reading the outcome -----------------------------------------------------------------
    @property
    def eng(self) -> TradingEngine:
        assert self.engine is not None
        return self.engine

    def plan(self) -> tuple[PlanEntry, ...]:
        return self.eng.strategy.plan

    def entry(self, symbol: str) -> PlanEntry:
        return next(e for e in self.plan() if e.symbol == symbol)

    def close_state(self) -> FridayCloseState:
        fc = self.eng.strategy.friday_close_state
        assert fc is not None
        return fc

    def events(self, kind: EventType | None = None) -> list[dict[str, Any]]:
        rows = read_csv(self.data_dir / "logs" / "events_log.csv")
        out = [dict(r, details=json.loads(r["details"] or "{}")) for r in rows]
        return [r for r in out if kind is None or r["event_type"] == kind.value]

    def close_phases(self) -> list[str]:
        return [e["details"].get("phase", "") for e in self.events(EventType.FRIDAY_CLOSE)]

    def has_phase(self, phase: str) -> bool:
        return phase in self.close_phases()

    def trades(self) -> list[dict[str, str]]:
        return read_csv(self.data_dir / "logs" / "trade_journal.csv")

    def ours(self) -> list[SimExecution]:
        """The simulator's executions of the engine's orders (external fills excluded)."""
        return [x for x in self.gw.executions if x.client_id == CLIENT_ID]

    def journaled_all(self) -> bool:
        return {x.exec_id for x in self.ours()} <= {r["exec_id"] for r in self.trades()}

    def assert_journal_is_the_simulators(self) -> list[dict[str, str]]:
        """trade_journal.csv holds each of the simulator's executions of our orders exactly
        once, with its orderRef, side and quantity. Returns the journal's rows."""
        rows = self.trades()
        ids = [r["exec_id"] for r in rows]
        assert len(ids) == len(set(ids)), "a fill was journaled twice"
        sim = {x.exec_id: x for x in self.ours()}
        assert set(ids) == set(sim)
        for r in rows:
            x = sim[r["exec_id"]]
            assert (r["order_ref"], r["symbol"], float(r["quantity"])) == (
                x.order_ref, x.symbol, x.qty)
            assert r["side"] == x.side
        return rows

    def sim_position(self, symbol: str) -> float:
        return self.gw.account.positions.get(symbol, (0.0, 0.0))[0]

    # -- driving a ManualClock ---------------------------------------------------------------
    def fresh(self, symbol: str) -> bool:
        """Whether the engine's streamed quote of `symbol` is the simulator's quote now."""
        q = self.gw.quote(symbol)
        got = self.eng.portfolio.quote(symbol)
        return all(v is not None and abs(v - w) < 1e-6
                   for v, w in zip(got, (q.bid, q.ask, q.last), strict=True))

    async def fresh_prices(self, symbols: Iterable[str]) -> dict[str, float]:
        """Wait until the streamed quotes are the simulator's at the clock's now (as a market at
        speed 1 would have them); return the engine's prices."""
        wanted = sorted(symbols)
        await self.until(lambda: all(self.fresh(s) for s in wanted))
        prices = {s: self.eng.portfolio.price(s) for s in wanted}
        return {s: p for s, p in prices.items() if p is not None}

    async def enter(self, when: datetime) -> dict[str, tuple[float, ...]]:
        """Step the clock to an entry instant (see `step_to_entry`); wait until every entry
        planned then is filled and journaled."""
        prices = await self.step_to_entry(when)
        await self.until(lambda: all(self.entry(s).status is PlanStatus.ENTERED
                                     for s in prices) and self.journaled_all())
        return prices

    async def step_to_entry(self, when: datetime) -> dict[str, tuple[float, ...]]:
        """Get to an entry instant the way a market at speed 1 does: one second before it, with
        that second's quotes streamed, then the instant itself.

        Returns, for each symbol due, the prices the entry can be sized at: the streamed price
        of the second before, or (if the instant's first tick won the race to the strategy) the
        instant's last or midpoint. The size is whole shares of one of them."""
        due = [e for e in self.plan() if e.planned_entry == when
               and e.status is PlanStatus.PLANNED]
        assert due, f"no entry planned at {when}"
        self.manual.set(when - timedelta(seconds=1))
        before = await self.fresh_prices({e.symbol for e in due})
        self.manual.set(when)
        out: dict[str, tuple[float, ...]] = {}
        for symbol, price in before.items():
            q = self.gw.quote(symbol)
            out[symbol] = (price, q.last, (q.bid + q.ask) / 2)
        return out

    @staticmethod
    def sizes(notional: float, prices: Iterable[float]) -> set[int]:
        """The whole-share sizes of `notional` at any of `prices`."""
        return {math.floor(notional / p) for p in prices}

    async def friday_close(self) -> FridayCloseState:
        """Close, backup, bell: set the clock to each and wait for its FRIDAY_CLOSE event."""
        fc = self.close_state()
        self.manual.set(fc.close_at)
        await self.until(lambda: self.has_phase("done"))
        self.manual.set(fc.backup_at)
        await self.until(lambda: self.has_phase("backup"))
        self.manual.set(fc.bell)
        await self.until(lambda: self.has_phase("result") and self.journaled_all())
        return self.close_state()


async def open_rig(tmp_path: Path, clock: Clock, calendar_rows: Iterable[str],
                   scenario: dict[str, Any] | None = None, **strategy: Any) -> Rig:
    calendar = write_calendar(tmp_path / "calendar.csv", calendar_rows)
    parsed = parse_scenario(scenario or scenario_data())
    # A real gateway's behaviour (sim/realism.py) unless the scenario's `realism` says otherwise.
    gw = SimulatedGateway(parsed, clock, port=0, seed=SEED, tick_interval=0.05,
                          engine_interval=0.01, account_interval=0.1,
                          realism=default_realism(parsed))
    await gw.start()
    return Rig(tmp_path / "data", clock, gw, make_config(calendar, **strategy))


def thursday_rig(calendar_rows: Iterable[str]) -> Any:
    """A `rig` fixture: the engine's week of `calendar_rows` on a ManualClock at Thursday
    2026-11-19 09:00 ET, the simulator's realism profile, closed after the test. In a test
    module: `rig = thursday_rig(WEEK)`."""
    rows = list(calendar_rows)

    @pytest.fixture
    async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
        r = await open_rig(tmp_path, ManualClock(et(2026, 11, 19, 9, 0)), rows)
        try:
            yield r
        finally:
            await close_rig(r)

    return rig


async def close_rig(rig: Rig) -> None:
    try:
        if rig.task is not None and not rig.task.done():
            await rig.stop_engine()
    finally:
        for engine in rig.engines:
            engine.close()
        await rig.gw.stop()

