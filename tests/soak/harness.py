"""Runs one seeded week: the REAL TradingEngine (journal, store, alerts by SMTP) against the
simulated IB Gateway over TCP, both on one ManualClock, with a real aiosmtpd server on 127.0.0.1.
The gateway runs the realism profile `real` (sim/realism.py): account values trailing positions,
positions trailing fills, IB's rejection and fill message orders, farm codes, and the rest.

How time is driven
------------------
The driver moves the ManualClock forward in steps and, after every step, waits (in real seconds,
bounded) for the system to settle before it takes the next one. A step goes to the earliest of:
the next scripted action, the next instant a part of the system sleeps until (the clock's
`next_wakeup`: the strategy's entries and close, the safety timer, the alerts' de-duplication
windows, the simulator's fault undo), the next part of a partially filled order, the next session
open or close, one price step (5 s) before a planned entry, and at most 15 minutes (in a session)
or an hour (outside one) ahead. Nights and weekends cost a few steps, sessions a few dozen, and
everything scheduled happens at its instant: a week is about 300 steps.

"Settled" means: the link is up whenever the gateway can be reached; every execution of the
simulator is journaled; the engine's positions are the simulator's; the streamed quotes of every
symbol it streams are the simulator's quotes at the clock's now; one safety check has run on them
(asked for with `safety.request_check()`, exactly what a tick does); no flatten (emergency close,
Friday close, its backup) is waiting on its orders, unless for the next part of a partial fill (a
clock instant); and nothing that is counted (executions, orders, events, statuses, the trading
and connection states, queued alerts) changed for a short quiet window.

The network guards (heartbeat, reconnect, connect and order timeouts) are real seconds, short in
this config; a fault that needs them to act (a stall must be noticed by the heartbeat, a gateway
down must outlast the reconnect attempts) is held at its instant until it has been. At an entry's
instant the gateway holds its ticks until the entries are sent, so an entry is sized at the
quotes of the instant before rather than racing the new ones. So the trading outcome at every
instant does not depend on the machine's speed: a seed replays the same orders and fills. (The
number of reconnect attempts a stall takes is real time and may differ; an entry sent late when
the link returns after an outage is sized at whatever quote the new connection has by then.)

Memory is the process's resident set (VmRSS in /proc/self/status, after gc.collect()): the issue
asks for "the process's memory", and RSS is what the trader's machine pays for, C allocations
(sqlite, sockets, numpy) included, at no cost to the run (tracemalloc would only see Python
objects and slow every allocation). It is read after the first session's close and after the bell.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.alerts.smtp_server import Collector, LocalSmtpServer
from tests.soak.timeline import ACCOUNT, EMERGENCY_STOP, NOTIONAL, Action, SoakPlan
from weekly_er_tui.broker.connection import ConnectionConfig
from weekly_er_tui.clock import ET, ManualClock
from weekly_er_tui.config import (
    AlertsConfig,
    AppConfig,
    ConnectionMonitoring,
    SafetyLimits,
    StrategyConfig,
)
from weekly_er_tui.engine import TradingEngine
from weekly_er_tui.journal import Event, read_csv
from weekly_er_tui.model import ConnectionState, EventType, PlanEntry, PlanStatus, TradingState
from weekly_er_tui.sim import SimExecution, SimulatedGateway, parse_scenario
from weekly_er_tui.sim.realism import Realism
from weekly_er_tui.sim.scenario import TimelineEntry
from weekly_er_tui.strategy.calendars import market_calendar

CLIENT_ID = 7
SESSION_STEP = timedelta(minutes=15)
ENTRY_LEAD = timedelta(seconds=5)  # the simulator's price step
NIGHT_STEP = timedelta(hours=1)
QUIET = 0.05  # real seconds nothing may change for the system to count as settled
SETTLE_TIMEOUT = 60.0  # real seconds (a flatten may wait out its 30 s order timeout)

# The network guards, in real seconds: short, with room for a loaded 2-core machine.
GUARDS: dict[str, float] = {
    "heartbeat_interval": 1.0, "heartbeat_timeout": 2.0, "connect_timeout": 2.0,
    "reconnect_delay": 0.1, "slow_retry_interval": 0.3,
}  # fmt: skip
MAX_RECONNECT_ATTEMPTS = 3

# What ib_async logs at ERROR when the week's faults do what they are meant to, besides the
# dropped and refused links (tests/conftest.py LINK_FAULT_LOGS): IB's rejections, the cancel of a
# close order still working after a drop, and the connectivity codes 1100, 1101 and 1102.
EXPECTED_IB_ERRORS = (
    r"Error 201, reqId \d+: Order rejected - reason: Simulated (margin check|rejection)",
    r"Error 202, reqId \d+: Order Canceled",
    r"Error 110[012], reqId -1: Connectivity between IB and Trader Workstation has been",
)


@dataclass(frozen=True)
class TruthAt:
    """An emergency action's event and the simulator's true account at that instant (the
    journal calls the harness synchronously, so nothing moved in between)."""

    when: datetime
    type: str
    message: str
    reason: str  # the close's reason (EMERGENCY, DAILY_LOSS, ...) or the state's reason
    net_liquidation: float  # gw.account: the truth, not what the engine's streams said
    daily_pnl: float
    reference: float  # the true net liquidation the emergency stop measures from (see below)


@dataclass(frozen=True)
class OrderEnd:
    """How an order of ours ended at the simulator (the truth of its life)."""

    order_id: int
    order_ref: str
    symbol: str
    status: str  # the simulator's: Filled, Cancelled, Inactive, or still working
    filled: float
    quantity: float


# The events of an emergency action: the HALT, the daily loss's REDUCING, and the closes.
EMERGENCY_EVENTS = frozenset({EventType.TRADING_HALTED, EventType.TRADING_REDUCING,
                              EventType.EMERGENCY_CLOSE})


class SoakStuck(AssertionError):
    """The system did not settle within the bound: the week cannot go on."""


@dataclass
class SoakRun:
    """Everything the invariants look at, collected after the week (plain data)."""

    plan: SoakPlan
    data_dir: Path
    error: str | None = None
    wall_seconds: float = 0.0
    steps: int = 0
    reached: datetime | None = None
    trades: list[dict[str, str]] = field(default_factory=list)
    events_path: Path | None = None
    executions: list[SimExecution] = field(default_factory=list)
    order_refs: list[str] = field(default_factory=list)
    positions_end: dict[str, float] = field(default_factory=dict)
    open_orders_end: list[str] = field(default_factory=list)
    tracked_end: dict[str, float] = field(default_factory=dict)
    plan_end: list[PlanEntry] = field(default_factory=list)
    friday_phase: str = ""
    trading_state_end: TradingState | None = None
    state_before_resume: TradingState | None = None
    positions_at_resume: dict[str, float] | None = None
    orders_at_resume: int = -1
    smtp_received: list[tuple[datetime, str]] = field(default_factory=list)
    smtp_back_at: datetime | None = None
    alert_status: list[tuple[str, str, str]] = field(default_factory=list)  # prio, title, status
    alerts_pending: int = -1
    rss_day1_kb: int = 0
    rss_end_kb: int = 0
    day1_at: datetime | None = None
    emergencies: list[TruthAt] = field(default_factory=list)
    orders_end: list[OrderEnd] = field(default_factory=list)
    intents_end: dict[str, tuple[str, float]] = field(default_factory=dict)  # ref: status, filled
    # The emergency stop's measure (SafetyLimits, as soak_config sets it).
    emergency_stop: float = EMERGENCY_STOP
    max_daily_loss: float = 0.0
    daily_loss_halt_margin: float = 0.0

    def rows(self) -> list[dict[str, str]]:
        assert self.events_path is not None
        return read_csv(self.events_path)


def rss_kb() -> int:
    """The process's resident set size (kB), from /proc/self/status."""
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


def soak_config(calendar: Path, smtp_port: int) -> AppConfig:
    return AppConfig(
        account=ACCOUNT, ib_client_id=CLIENT_ID,
        connection_monitoring=ConnectionMonitoring(
            **GUARDS, max_reconnect_attempts=MAX_RECONNECT_ATTEMPTS,
            safety_check_interval=1800,
        ),
        alerts=AlertsConfig(
            email_enabled=True, smtp_server="127.0.0.1", smtp_port=smtp_port,
            smtp_security="none", smtp_timeout=2, email_from="weekly-er@example.com",
            recipients=["trader@example.com"], retry_initial_delay=0.05, retry_max_delay=0.3,
        ),
        # Wide limits but the emergency stop-loss: only the scripted gap may trip anything.
        safety_limits=SafetyLimits(
            emergency_stop_loss=EMERGENCY_STOP, max_daily_loss=150_000,
            max_position_value=50_000, max_portfolio_value=500_000,
            max_position_concentration=0.5, max_sector_concentration=0.95,
            min_cash_reserve=0, max_correlated_weight=1.0,
        ),
        strategy=StrategyConfig(calendar_file=str(calendar), notional_per_position=NOTIONAL),
    )


class _Stamped(Collector):
    """The SMTP server's collector, noting the engine clock's time of every message."""

    def __init__(self, clock: ManualClock, times: list[datetime]) -> None:
        super().__init__()
        self.clock = clock
        self.times = times

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.times.append(self.clock.now())
        return await super().handle_DATA(server, session, envelope)


class WeekDriver:
    def __init__(self, plan: SoakPlan, workdir: Path, log: Callable[[str], None]) -> None:
        self.plan = plan
        self.workdir = workdir
        self.data_dir = workdir / "data"
        self.log = log
        self.clock = ManualClock(plan.start)
        self.cal = market_calendar()
        self.smtp = LocalSmtpServer()
        self.gw: SimulatedGateway | None = None
        self.engine: TradingEngine | None = None
        self.task: asyncio.Task[None] | None = None
        self.events = 0
        self.heartbeat_failures = 0
        self.flattening = 0
        self.run = SoakRun(plan, self.data_dir)
        self.smtp_port = 0
        self.smtp_times: list[datetime] = []
        self.resumed: tuple[Any, float] | None = None  # (ET date, true net liquidation)
        self.entries: dict[int, TimelineEntry] = {}
        self.boundaries = sorted(
            t for d in plan.sessions for t in (self.cal.session_open(d), self.cal.session_close(d))
        )

    # -- lifecycle -------------------------------------------------------------------------
    async def execute(self) -> SoakRun:
        t0 = time.monotonic()
        try:
            await self._setup()
            await self._week()
            await self._finish()
        except Exception as exc:
            self.run.error = (f"{type(exc).__name__} at {self.clock.now().astimezone(ET):%a %F %T}"
                              f" ET: {exc}\n{traceback.format_exc()}")
        finally:
            await self._teardown()
            self.run.wall_seconds = time.monotonic() - t0
            self.run.reached = self.clock.now()
        return self.run

    async def _setup(self) -> None:
        plan = self.plan
        self.workdir.mkdir(parents=True, exist_ok=True)
        calendar = self.workdir / "calendar.csv"
        calendar.write_text("symbol,report_date,timing,side,notional\n"
                            + "".join(f"{r}\n" for r in plan.calendar_rows))
        (self.workdir / "soak_plan.json").write_text(plan.to_json())
        (self.workdir / "scenario.json").write_text(json.dumps(plan.scenario(), indent=2))
        self.smtp.handler = _Stamped(self.clock, self.smtp_times)
        self.smtp_port = await self.smtp.start()
        scenario = parse_scenario(plan.scenario())
        timed = [a for a in plan.actions if a.entry is not None]
        self.entries = {id(a): e for a, e in zip(timed, scenario.timeline, strict=True)}
        self.gw = SimulatedGateway(
            scenario, self.clock, port=0, seed=plan.seed,
            tick_interval=0.02, engine_interval=0.01, account_interval=0.1, run_timeline=False,
            realism=Realism.real(),  # a real gateway's timing and messages (sim/realism.py)
        )
        await self.gw.start()
        self.engine = TradingEngine(
            soak_config(calendar, self.smtp_port), data_dir=self.data_dir, clock=self.clock,
            connection=ConnectionConfig(
                host="127.0.0.1", port=self.gw.port, client_id=CLIENT_ID, account=ACCOUNT,
                max_reconnect_attempts=MAX_RECONNECT_ATTEMPTS,
                heartbeat_interval=GUARDS["heartbeat_interval"],
                heartbeat_timeout=GUARDS["heartbeat_timeout"],
                connect_timeout=GUARDS["connect_timeout"],
                reconnect_delay=GUARDS["reconnect_delay"],
                slow_retry_interval=GUARDS["slow_retry_interval"],
            ),
        )
        self.engine.journal.subscribe(self._on_event)
        self._spy_on_flatten(self.engine)
        self.task = asyncio.create_task(self.engine.run(), name="soak-engine")
        eng = self.engine
        await self._until(lambda: eng.monitor.is_connected and bool(eng.strategy.plan)
                          and eng.strategy.friday_close_state is not None, 30, "engine start")
        await self.settle()

    def _spy_on_flatten(self, engine: TradingEngine) -> None:
        """Count the flattens under way (the emergency close, the Friday close and its backup
        all go through executor.flatten). It waits on orders in real seconds: the clock is held
        while it does, unless it waits for the next part of a partial fill, a clock instant."""
        executor = engine.executor
        flatten = executor.flatten

        async def counted(*args: Any, **kwargs: Any) -> Any:
            self.flattening += 1
            try:
                return await flatten(*args, **kwargs)
            finally:
                self.flattening -= 1

        executor.flatten = counted  # type: ignore[method-assign]

    def _on_event(self, ev: Event) -> None:
        self.events += 1
        if ev.event_type is EventType.HEARTBEAT_FAILED:
            self.heartbeat_failures += 1
        if ev.event_type is EventType.TRADING_RESUMED and self.gw is not None:
            # A resume starts the emergency stop's measure again at the account's value then.
            self.resumed = (self.clock.now().astimezone(ET).date(),
                            self.gw.account.net_liquidation)
        if ev.event_type in EMERGENCY_EVENTS and self.gw is not None:
            self.run.emergencies.append(self._truth(ev))

    def _truth(self, ev: Event) -> TruthAt:
        """The true account when an emergency action happened. The emergency stop measures from
        the session's start (soak_config: stop_loss_baseline "session"), which is net
        liquidation minus the day's P&L, or from the account's value at a resume that day."""
        account = self._gw.account
        nlv, day = account.net_liquidation, account.daily_pnl
        reference = nlv - day
        if self.resumed is not None and self.resumed[0] == self.clock.now().astimezone(ET).date():
            reference = self.resumed[1]
        details = ev.details or {}
        reason = str(details.get("reason") or details.get("to") or "")
        return TruthAt(self.clock.now(), ev.event_type.value, ev.message, reason, nlv, day,
                       reference)

    async def _finish(self) -> None:
        eng, gw = self._eng, self._gw
        await self._until(lambda: eng.alerts.pending == 0, 20, "alerts drained")
        run = self.run
        run.alerts_pending = eng.alerts.pending
        run.rss_end_kb = self._rss()
        run.positions_end = {s: q for s, (q, _) in gw.account.positions.items() if q}
        run.open_orders_end = [f"{o.symbol} {o.action} {o.quantity:g} {o.status}"
                               for o in gw.open_orders()]
        run.tracked_end = {s: p.quantity for s, p in eng.store.tracked_positions().items()}
        run.plan_end = list(eng.strategy.plan)
        fc = eng.strategy.friday_close_state
        run.friday_phase = fc.phase.value if fc is not None else ""
        run.trading_state_end = eng.safety.trading_state
        run.alert_status = [(r.priority.value, r.title, r.delivered)
                            for r in reversed(eng.alerts.records)]
        run.orders_end = [OrderEnd(o.order_id, o.order_ref, o.symbol, o.status, o.filled,
                                   o.quantity)
                          for o in gw.book.orders.values() if o.client_id == CLIENT_ID]
        run.intents_end = {i.order_ref: (i.status.value, i.filled) for i in eng.store.intents()}
        limits = eng.config.safety_limits
        run.emergency_stop = limits.emergency_stop_loss
        run.max_daily_loss = limits.max_daily_loss
        run.daily_loss_halt_margin = limits.daily_loss_halt_margin

    async def _teardown(self) -> None:
        eng, task = self.engine, self.task
        with contextlib.suppress(Exception):
            if eng is not None and task is not None and not task.done():
                await eng.stop()
                await asyncio.wait_for(task, 30)
        if task is not None and task.done() and not task.cancelled() and task.exception():
            self.run.error = self.run.error or f"the engine died: {task.exception()!r}"
        if eng is not None:
            eng.close()
        run = self.run
        if self.gw is not None:
            run.executions = list(self.gw.executions)
            run.order_refs = list(self.gw.order_refs_received)
            await self.gw.stop()
        await self.smtp.stop()
        run.smtp_received = list(zip(self.smtp_times, (m.subject for m in self.smtp.messages),
                                     strict=False))
        logs = self.data_dir / "logs"
        if (logs / "trade_journal.csv").exists():
            run.trades = read_csv(logs / "trade_journal.csv")
        run.events_path = logs / "events_log.csv"

    # -- reading -----------------------------------------------------------------------------
    @property
    def _eng(self) -> TradingEngine:
        assert self.engine is not None
        return self.engine

    @property
    def _gw(self) -> SimulatedGateway:
        assert self.gw is not None
        return self.gw

    def _rss(self) -> int:
        gc.collect()
        return rss_kb()

    def _ours(self) -> list[SimExecution]:
        return [x for x in self._gw.executions if x.client_id == CLIENT_ID]

    def _sim_positions(self) -> dict[str, float]:
        return {s: q for s, (q, _) in self._gw.account.positions.items() if q}

    def _engine_positions(self) -> dict[str, float]:
        return {p.contract.symbol: float(p.position) for p in self._eng.ib.positions(ACCOUNT)
                if p.position}

    def _streamed(self) -> set[str]:
        eng = self._eng
        wanted = {e.symbol for e in eng.strategy.plan if e.status is not PlanStatus.SKIPPED}
        wanted |= set(self._sim_positions())
        return {s for s in wanted if eng.portfolio.quote(s) != (None, None, None)}

    def _fresh(self, symbol: str) -> bool:
        q = self._gw.quote(symbol)
        got = self._eng.portfolio.quote(symbol)
        return all(v is not None and abs(v - w) < 1e-6
                   for v, w in zip(got, (q.bid, q.ask, q.last), strict=True))

    def _link_expected(self) -> bool:
        gw = self._gw
        return not gw.refusing and not gw.stalled

    def _unsettled(self) -> str | None:
        """Why the system is not settled yet (None when it is, but for the quiet window)."""
        eng, gw = self._eng, self._gw
        if self.task is not None and self.task.done():
            raise SoakStuck(f"the engine stopped: {self.task.exception()!r}")
        connected = eng.monitor.is_connected
        if self._link_expected() and not connected:
            return f"not connected ({eng.monitor.state.value})"
        if self.flattening and not self._parts_due():
            return "a flatten is waiting on its orders (real time)"
        if not connected:
            return None
        missing = [x.exec_id for x in self._ours() if not eng.journal.has_fill(x.exec_id)]
        if missing:
            return f"executions not journaled: {missing}"
        if self._engine_positions() != self._sim_positions():
            return f"positions {self._engine_positions()} != simulator {self._sim_positions()}"
        data = (gw.ib_link_up and gw.market_data_farm_ok
                and eng.monitor.state is ConnectionState.CONNECTED)
        if data:
            stale = sorted(s for s in self._streamed() if not self._fresh(s))
            if stale:
                return f"quotes not current: {stale}"
        return None

    def _parts_due(self) -> bool:
        """Whether an order of ours waits for its next part at a later clock instant."""
        now = self.clock.now().timestamp()
        return any(o.next_part_at is not None and o.next_part_at > now
                   for o in self._gw.open_orders() if o.client_id == CLIENT_ID)

    def _fingerprint(self) -> tuple[Any, ...]:
        eng, gw = self._eng, self._gw
        fc = eng.strategy.friday_close_state
        return (
            len(gw.executions), len(gw.order_refs_received),
            tuple((o.order_id, o.status, o.filled) for o in gw.open_orders()),
            self.events, self.flattening, eng.monitor.state, eng.safety.trading_state,
            eng.alerts.pending,
            tuple(e.status for e in eng.strategy.plan), fc.phase if fc else None,
            tuple(sorted(self._sim_positions().items())),
        )

    async def _until(self, predicate: Callable[[], object], timeout: float, what: str) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            if self.task is not None and self.task.done():
                raise SoakStuck(f"the engine stopped while waiting for {what}: "
                                f"{self.task.exception()!r}")
            if loop.time() > deadline:
                raise SoakStuck(f"{what}: not within {timeout:g}s (real)")
            await asyncio.sleep(0.01)

    async def settle(self) -> None:
        """Wait until the system has done everything it does at the clock's now (bounded)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SETTLE_TIMEOUT
        eng = self._eng
        mark: int | None = None  # checks_run when a check on the current state was asked for
        last: tuple[Any, ...] | None = None
        since = loop.time()
        while True:
            now = loop.time()
            why = self._unsettled()
            if why is None and eng.monitor.is_connected:
                if mark is None:
                    mark = eng.safety.checks_run
                    eng.safety.request_check()
                if eng.safety.checks_run <= mark:
                    why = "a safety check on the current state"
            fp = self._fingerprint()
            if fp != last:
                if last is not None:
                    mark = None  # something changed: one more check after it
                last, since = fp, now
            elif why is not None:
                since = now
            elif now - since >= QUIET:
                return
            if now > deadline:
                raise SoakStuck(f"not settled within {SETTLE_TIMEOUT:g}s (real): {why}")
            await asyncio.sleep(0.005)

    # -- the week ----------------------------------------------------------------------------
    def _next_instant(self, pending: list[Action]) -> datetime:
        now = self.clock.now()
        open_now = self.cal.is_open(now)
        candidates = [now + (SESSION_STEP if open_now else NIGHT_STEP), self.plan.end]
        if pending:
            candidates.append(pending[0].at)
        wake = self.clock.next_wakeup
        if wake is not None and wake > now:
            candidates.append(wake)
        for o in self._gw.open_orders():
            if o.next_part_at is not None:
                candidates.append(datetime.fromtimestamp(o.next_part_at, ET))
        candidates += [b for b in self.boundaries if b > now][:1]
        # One price step (5 s) before an entry: it is sized at the quotes of that instant.
        candidates += [t for t in self._entry_instants() if t > now]
        candidates += [t - ENTRY_LEAD for t in self._entry_instants() if t - ENTRY_LEAD > now]
        if self.run.day1_at is None:
            candidates.append(self._day1())
        return max(min(candidates), now)

    def _entry_instants(self) -> set[datetime]:
        return {e.planned_entry for e in self._eng.strategy.plan
                if e.status is PlanStatus.PLANNED}

    def _day1(self) -> datetime:
        return self.cal.session_close(self.plan.sessions[0]) + timedelta(minutes=1)

    async def _week(self) -> None:
        pending = sorted(self.plan.actions, key=lambda a: a.at)
        end = self.plan.end
        gw = self._gw
        while self.clock.now() < end:
            target = self._next_instant(pending)
            if target > self.clock.now():
                # At an entry's instant the strategy prices the entry with the quotes it has,
                # while the gateway streams that instant's quotes: which comes first is a race
                # of a few milliseconds. The gateway holds its ticks until the entries are sent
                # (a little network latency), so the entry is sized at the quotes of the instant
                # before, every run alike.
                hold = (target in self._entry_instants() and gw.market_data_farm_ok
                        and gw.ib_link_up and not gw.stalled)
                if hold:
                    gw.market_data_farm_ok = False
                self.clock.set(target)
                self.run.steps += 1
                if hold:
                    try:
                        await self.settle()
                    finally:
                        gw.market_data_farm_ok = True
            await self.settle()
            while pending and pending[0].at <= self.clock.now():
                await self._apply(pending.pop(0))
                await self.settle()
            if self.run.day1_at is None and self.clock.now() >= self._day1():
                self.run.day1_at = self.clock.now()
                self.run.rss_day1_kb = self._rss()
        await self.settle()

    async def _apply(self, action: Action) -> None:
        eng, gw = self._eng, self._gw
        self.log(f"  {action.describe()}")
        if action.kind == "smtp_down":
            await self.smtp.stop()
            return
        if action.kind == "smtp_up":
            await self.smtp.start(self.smtp_port)
            self.run.smtp_back_at = self.clock.now()
            return
        if action.kind == "resume":
            self.run.state_before_resume = eng.safety.trading_state
            self.run.positions_at_resume = self._sim_positions()
            self.run.orders_at_resume = len(gw.open_orders())
            await eng.resume("scripted resume: the trader reviewed the emergency stop")
            return
        entry = self.entries[id(action)]
        disconnects = eng.monitor.stats().total_disconnects
        heartbeats = self.heartbeat_failures
        gw.timeline.apply(entry, action.at)
        if action.kind == "drop":
            await self._until(lambda: eng.monitor.stats().total_disconnects > disconnects
                              or not eng.monitor.is_connected, 10, "the drop to be noticed")
            if gw.refusing:
                # The gateway is down: hold the clock until every reconnect attempt failed.
                await self._until(lambda: eng.monitor.state is ConnectionState.FAILED, 20,
                                  "the reconnect attempts to run out")
        elif action.kind == "stall":
            await self._until(lambda: self.heartbeat_failures > heartbeats, 15,
                              "the heartbeat to notice the stall")
        elif action.kind == "connectivity" and entry.code in (1100, 2103):
            await self._until(lambda: eng.monitor.state is ConnectionState.DEGRADED, 10,
                              f"connectivity {entry.code} to be noticed")


async def run_week(plan: SoakPlan, workdir: Path, log: Callable[[str], None] = print) -> SoakRun:
    """Run the seeded week; never raises (an error is `run.error`)."""
    lg = logging.getLogger("weekly_er_tui")
    level = lg.level
    # pytest keeps every log record of a test in memory for its report: at INFO the week's
    # records would be the harness's memory growth, not the product's. WARNING and above stay.
    lg.setLevel(logging.WARNING)
    try:
        return await WeekDriver(plan, workdir, log).execute()
    finally:
        lg.setLevel(level)
