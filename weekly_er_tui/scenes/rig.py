"""The recorder's rig: the real TradingEngine against the simulated gateway over TCP on
127.0.0.1, both on one ManualClock, and the capture of the engine's state at a scene.

A scene is captured once the state has settled: the streamed quotes are the simulator's at the
clock's instant and nothing on the state changed for a while (real seconds: the account stream
and the P&L come that long after what moved them). What the engine measures in real seconds on
loopback (the heartbeat's latency and age, the link's uptime, the check's duration, the free
port) differs from run to run; it is pinned to what the same moment would show on a real clock
(`pin_real_time`), so the same script records the same fixture on every machine.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from weekly_er_tui.broker.connection import ConnectionConfig
from weekly_er_tui.clock import ManualClock
from weekly_er_tui.config import AppConfig
from weekly_er_tui.control.codec import to_plain
from weekly_er_tui.engine import TradingEngine
from weekly_er_tui.model import ConnectionState, EngineState, LatencyStats, WorkingOrder
from weekly_er_tui.sim import Scenario, SimulatedGateway
from weekly_er_tui.sim.realism import Realism

SHOWN_PORT = 7497  # the paper TWS port the fixtures show; the simulator listens on a free one
CLIENT_ID = 7
SEED = 1
# Loopback heartbeat figures as a real session shows them (the recorder's own vary by load).
PINNED_LATENCY = LatencyStats(last_ms=0.9, median_ms=0.8, worst_ms=14.6)
PINNED_HEARTBEAT_AGE_S = 4.0
PINNED_CHECK_MS = 0.4
PINNED_FIRST_ORDER_ID = 101
SETTLE_QUIET_S = 1.6  # longer than the real profile's P&L interval (1 s), with room
SETTLE_TIMEOUT_S = 30.0


class SceneError(RuntimeError):
    """The engine did not reach a scene's state: the script and the engine disagree."""


class Enough(Exception):
    """Every scene asked for is captured: the rest of the script need not run."""


@dataclass
class Uptime:
    """The link's up and down times on the clock, as a real-time run would measure them."""

    first_up: datetime | None = None
    up_since: datetime | None = None
    up_total: float = 0.0
    down_since: datetime | None = None

    def follow(self, state: ConnectionState, now: datetime) -> None:
        up = state in (ConnectionState.CONNECTED, ConnectionState.DEGRADED)
        if up and self.up_since is None:
            self.first_up = self.first_up or now
            self.up_since, self.down_since = now, None
        elif not up and self.up_since is not None:
            self.up_total += (now - self.up_since).total_seconds()
            self.up_since, self.down_since = None, now

    def current(self, now: datetime) -> float:
        return (now - self.up_since).total_seconds() if self.up_since else 0.0

    def pct(self, now: datetime) -> float:
        if self.first_up is None:
            return 0.0
        total = (now - self.first_up).total_seconds()
        up = self.up_total + self.current(now)
        return round(100.0 * up / total, 1) if total > 0 else 100.0


def order_key(order: WorkingOrder) -> str:
    """An order's name for the recorder: its orderRef (ours; the permId comes later, 0 until
    IB's openOrder), else its permId (another client's)."""
    return order.order_ref or f"perm {order.perm_id}"


def pin_real_time(state: EngineState, now: datetime, uptime: Uptime,
                  seen: dict[str, datetime] | None = None) -> EngineState:
    """`state` with its real-second measurements as a real clock would have them at `now` (see
    above); `seen` holds each working order (`order_key`) in the order it was first
    published."""
    conn = state.connection
    up = conn.state in (ConnectionState.CONNECTED, ConnectionState.DEGRADED)
    age: float | None = None
    if conn.last_heartbeat is not None:
        age = PINNED_HEARTBEAT_AGE_S if up else (now - conn.last_heartbeat).total_seconds()
    latency = PINNED_LATENCY if conn.heartbeat_latency.last_ms is not None else LatencyStats()
    connection = replace(conn, port=SHOWN_PORT, current_uptime_s=uptime.current(now),
                         uptime_pct=uptime.pct(now), last_heartbeat_age_s=age,
                         heartbeat_latency=latency)
    safety = replace(state.safety, duration_ms=PINNED_CHECK_MS) if state.safety else None
    # An order's age is the engine's Clock's (broker/working_orders.OrderAges). Its id comes
    # from ib_async's one counter of request and order ids, which the real-time heartbeats
    # advance: ours are numbered in the order they were first published.
    seen = seen or {}
    ranks = {key: i for i, key in enumerate(seen)}
    orders = tuple(replace(o, order_id=PINNED_FIRST_ORDER_ID + ranks[order_key(o)]
                           if o.ours and order_key(o) in ranks else o.order_id)
                   for o in state.orders)
    return replace(state, connection=connection, safety=safety, orders=orders, version=1)


def _shown(plain: Any, port: int) -> Any:
    """The free port the simulator listened on, said as the shown one wherever a text names it."""
    text = json.dumps(plain)
    for said in ("127.0.0.1:{}", "API port {}", "port {} is"):
        text = text.replace(said.format(port), said.format(SHOWN_PORT))
    return json.loads(text)


@dataclass
class SceneRig:
    """One engine on one gateway, a ManualClock for both; `capture` keeps what the script
    reached, by scene name."""

    scenario: Scenario
    clock: ManualClock
    config_data: dict[str, Any]
    wanted: frozenset[str] | None = None  # None: every scene of the script
    captured: dict[str, dict[str, Any]] = field(default_factory=dict)
    realism: Realism = field(default_factory=Realism.real)

    def __post_init__(self) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="weekly-er-scenes-")
        self.data_dir = Path(self._tmp.name)
        self.gw = SimulatedGateway(self.scenario, self.clock, port=0, seed=SEED,
                                   tick_interval=0.05, engine_interval=0.01,
                                   account_interval=0.1, run_timeline=False,
                                   realism=self.realism)
        self.uptime = Uptime()
        self.seen: dict[str, datetime] = {}
        self._engine: TradingEngine | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def engine(self) -> TradingEngine:
        assert self._engine is not None, "start() first"
        return self._engine

    async def start(self) -> TradingEngine:
        """The engine running on the (started) gateway, not waiting for the link: a script may
        record the moment before the first connect."""
        data = dict(self.config_data)
        data.setdefault("account", self.scenario.account.id)
        data.setdefault("ib_client_id", CLIENT_ID)
        config = AppConfig.model_validate(data)
        cm = config.connection_monitoring
        connection = ConnectionConfig(
            host="127.0.0.1", port=self.gw.port, client_id=CLIENT_ID,
            account=config.account or "", heartbeat_interval=1.0, heartbeat_timeout=3.0,
            connect_timeout=3.0, max_reconnect_attempts=cm.max_reconnect_attempts,
            reconnect_delay=cm.reconnect_delay, slow_retry_interval=cm.slow_retry_interval,
            allow_live=config.allow_live,
        )
        engine = TradingEngine(config, data_dir=self.data_dir, clock=self.clock,
                               connection=connection)
        self._engine = engine
        engine.monitor.add_listener(lambda stats: self.uptime.follow(stats.state,
                                                                     self.clock.now()))
        engine.subscribe(self._note_orders)
        self._task = asyncio.create_task(engine.run(), name="scene engine")
        await self.until(lambda: engine.state.is_running, "the engine runs")
        return engine

    def _note_orders(self, state: EngineState) -> None:
        for order in state.orders:
            self.seen.setdefault(order_key(order), self.clock.now())

    async def stop(self) -> None:
        try:
            if self._engine is not None and self._task is not None:
                await self._engine.stop()
                await asyncio.wait_for(self._task, 20)
                self._engine.close()
        finally:
            await self.gw.stop()
            self._tmp.cleanup()

    async def until(self, predicate: Callable[[], object], what: str,
                    timeout: float = SETTLE_TIMEOUT_S) -> None:
        """Wait (real seconds, bounded) for a condition of the script."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            if self._engine is not None:
                self._note_orders(self._engine.state)
            if self._task is not None and self._task.done():
                self._task.result()
                raise SceneError(f"the engine stopped while waiting for: {what}")
            if loop.time() > deadline:
                raise SceneError(f"not reached within {timeout:g}s: {what}")
            await asyncio.sleep(0.02)

    async def at(self, when: datetime) -> None:
        """Move the clock to `when` the way a market at speed 1 gets there: from a settled
        now (what the last step moved has arrived: fills' portfolio rows come 0.5 s late), to
        one second before it, settled (that second's quotes streamed, the account caught up,
        the checks run), then the instant. So every check runs on a whole account, and what
        was due in between happens at one instant on every run."""
        await self.settled()
        self.clock.set(when - timedelta(seconds=1))
        await self.settled()
        self.clock.set(when)
        await self._fresh()

    def _fresh_now(self) -> bool:
        engine = self.engine
        if not engine.monitor.is_connected:
            return True
        for pos in engine.portfolio.snapshot().open_positions:
            q = self.gw.quote(pos.symbol)
            got = engine.portfolio.quote(pos.symbol)
            if any(v is None or abs(v - w) > 1e-6
                   for v, w in zip(got, (q.bid, q.ask, q.last), strict=True)):
                return False
        return True

    async def _fresh(self) -> None:
        await self.until(self._fresh_now, "the streamed quotes are the simulator's")

    async def settled(self) -> EngineState:
        """The engine's state once its quotes are fresh and nothing moved for a while."""
        await self._fresh()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SETTLE_TIMEOUT_S
        last, since = None, loop.time()
        while True:
            state = pin_real_time(self.engine.state, self.clock.now(), self.uptime, self.seen)
            plain = to_plain(state)
            if plain != last:
                last, since = plain, loop.time()
            elif loop.time() - since >= SETTLE_QUIET_S and self._fresh_now():
                return state
            if loop.time() > deadline:
                raise SceneError("the engine's state did not settle")
            await asyncio.sleep(0.05)

    async def capture(self, name: str, caption: str) -> None:
        """Keep the settled state as scene `name`; Enough once every wanted scene is kept."""
        if self.wanted is not None and name not in self.wanted:
            return
        state = await self.settled()
        limits = self.engine.config.safety_limits.model_dump(mode="json")
        self.captured[name] = {
            "scene": name,
            "caption": caption,
            # The screen's clock: the state is as the engine last published it, maybe earlier.
            "now": self.clock.now().isoformat(),
            "limits": limits,
            "state": _shown(to_plain(state), self.gw.port),
        }
        if self.wanted is not None and self.wanted <= set(self.captured):
            raise Enough
