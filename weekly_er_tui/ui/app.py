"""The cockpit: hosts the engine as a worker and renders its latest state on a fixed tick.

The engine publishes a new immutable `EngineState` whenever anything changes, which can be a
thousand times a second in a busy market. The app never reacts to those: a timer reads
`engine.state` a few times a second and, when its version moved, updates every pane in one batch.
The ET clock and the heartbeat mark tick on every refresh whatever the engine does. The keys,
their confirmations and the commands they send are `CockpitKeys` (keys.py).
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from textual import work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.driver import Driver
from textual.widgets import Footer, Static
from textual.worker import Worker, WorkerState

from weekly_er_tui.clock import Clock
from weekly_er_tui.config import SafetyLimits
from weekly_er_tui.engine_api import EngineHandle
from weekly_er_tui.model import ConnectionStats, EngineState
from weekly_er_tui.risk.rules import ORPHANED_POSITION
from weekly_er_tui.strategy.calendars import MarketCalendar, market_calendar
from weekly_er_tui.ui import figures
from weekly_er_tui.ui import formatting as fmt
from weekly_er_tui.ui.keys import CockpitKeys
from weekly_er_tui.ui.messages import StateRendered
from weekly_er_tui.ui.widgets.alerts import AlertLog
from weekly_er_tui.ui.widgets.banner import BannerLine, StatusBanner, banner_lines
from weekly_er_tui.ui.widgets.bars import ConcentrationBars
from weekly_er_tui.ui.widgets.header import CockpitHeader
from weekly_er_tui.ui.widgets.heartbeat import HeartbeatPanel
from weekly_er_tui.ui.widgets.orders import OrdersTable
from weekly_er_tui.ui.widgets.plan import PlanTable
from weekly_er_tui.ui.widgets.positions import PositionsTable, positions_title
from weekly_er_tui.ui.widgets.risk import RiskSummary
from weekly_er_tui.ui.widgets.session import SessionLine
from weekly_er_tui.ui.widgets.status_strip import StatusStrip

# From this width on, the heartbeat, risk and concentration panes get a column of their own.
WIDE_FROM = 130

def orphaned(state: EngineState) -> frozenset[str]:
    """The symbols the last safety check found orphaned (held, not the strategy's)."""
    if state.safety is None:
        return frozenset()
    return frozenset(
        s for v in state.safety.violations if v.rule == ORPHANED_POSITION for s in v.symbols
    )


class WeeklyERApp(CockpitKeys):
    """The trader's cockpit over one `EngineHandle`."""

    # Absolute, so a subclass defined elsewhere (a test, the benchmark) finds it too.
    CSS_PATH = Path(__file__).with_name("app.tcss")
    ENABLE_COMMAND_PALETTE = False
    AUTO_FOCUS = "#positions"
    HORIZONTAL_BREAKPOINTS = [
        (0, "-narrow"),
        (WIDE_FROM, "-wide"),
    ]

    def __init__(
        self,
        engine: EngineHandle,
        *,
        clock: Clock,
        limits: SafetyLimits,
        title: str = "Weekly ER",
        refresh_hz: float = 5.0,
        host_engine: bool = True,
        engine_task: asyncio.Task[None] | None = None,
        on_screen_lost: Callable[[str], None] | None = None,
        attached: bool = False,
        read_only: bool = False,
        read_only_why: str = "",
        calendar: MarketCalendar | None = None,
    ) -> None:
        super().__init__()
        if not 0 < refresh_hz <= 30:
            raise ValueError(f"refresh_hz must be between 0 and 30 (got {refresh_hz})")
        self.engine = engine
        self.clock = clock
        self.limits = limits
        self.title = title
        self.refresh_hz = refresh_hz
        self.host_engine = host_engine
        # The runner owns the engine's task (so the engine outlives this screen); the app's
        # worker hosts it by awaiting it, shielded: leaving the app never cancels the engine.
        self.engine_task = engine_task
        self.on_screen_lost = on_screen_lost
        # Attached over the control socket to an engine in another process: quitting detaches.
        self.attached = attached
        self.read_only = read_only
        # What a refused key says after "nothing sent" (the web page has its own way to act).
        self.read_only_why = read_only_why or (
            "This cockpit was attached with --read-only; attach without it to act.")
        # NYSE sessions (exchange_calendars XNYS), for the session line.
        self.calendar = calendar or market_calendar()
        self.rendered: EngineState | None = None
        self.engine_error = ""
        self._stopping = False
        self._rendered_at = 0.0
        self._link_before = ConnectionStats()
        self._terminal_note = ""

    # -- layout ---------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield CockpitHeader(id="header")
        yield SessionLine(self.calendar, id="session")
        yield StatusBanner(id="banner")
        yield StatusStrip(id="strip")
        with Horizontal(id="body"):
            with Vertical(id="side"):
                yield HeartbeatPanel(id="heartbeat")
                yield RiskSummary(id="risk")
                yield ConcentrationBars(id="concentration-side", classes="concentration")
            with VerticalScroll(id="detail"):
                yield PositionsTable(id="positions")
                yield OrdersTable(id="orders")
                yield ConcentrationBars(id="concentration-detail", classes="concentration")
                yield PlanTable(id="plan")
                yield Static(id="plan-message")
                yield AlertLog(id="alerts")
        yield Footer()

    def on_mount(self) -> None:
        self.set_class(self.no_color, "-no-color")
        # Held, not queried per tick: App.query_one looks at the active screen, which is a dialog
        # while one is open, and the cockpit must keep refreshing underneath it.
        screen = self.screen
        self.header = screen.query_one(CockpitHeader)
        self.session = screen.query_one(SessionLine)
        self.banner = screen.query_one(StatusBanner)
        self.strip = screen.query_one(StatusStrip)
        self.heartbeat = screen.query_one(HeartbeatPanel)
        self.risk = screen.query_one(RiskSummary)
        self.concentration = list(screen.query(ConcentrationBars))
        self.positions = screen.query_one(PositionsTable)
        self.orders = screen.query_one(OrdersTable)
        self.plan = screen.query_one(PlanTable)
        self.plan_message = screen.query_one("#plan-message", Static)
        self.alerts = screen.query_one(AlertLog)
        titles = {
            "#heartbeat": "Connection",
            "#risk": "Risk",
            "#concentration-side": "Concentration",
            "#concentration-detail": "Concentration",
            "#positions": "Positions",
            "#plan": "This week's plan",
            "#plan-message": "This week's plan",
            "#alerts": "Alerts (newest first)",
        }
        for selector, text in titles.items():
            screen.query_one(selector).border_title = text
        if self._terminal_note:
            self.notify(self._terminal_note, title="NOT A TERMINAL", severity="warning",
                        timeout=30)
        self.refresh_from_engine()
        self._refresh_timer = self.set_interval(1 / self.refresh_hz, self.refresh_from_engine,
                                                name="refresh")
        if self.attached:
            # States arrive over the socket at the engine's own pace: one that comes when the
            # last render is a full period old is shown at once rather than at the next tick,
            # so the socket's hop does not add a tick's wait (the rate stays refresh_hz).
            self.engine.subscribe(self._state_arrived)
        if self.host_engine:
            self.run_engine()

    # -- the engine as a worker -----------------------------------------------------------------

    @work(
        exclusive=True,
        group="engine",
        exit_on_error=False,
        description="engine: connection monitor, safety monitor, strategy, alert sender",
    )
    async def run_engine(self) -> None:
        if self.engine_task is not None:
            await asyncio.shield(self.engine_task)
        else:
            await self.engine.run()

    def get_driver_class(self) -> type[Driver]:
        driver = super().get_driver_class()
        if driver.__name__ == "LinuxDriver":  # (termios: not importable on Windows)
            from weekly_er_tui.ui.terminal import GuardedLinuxDriver, not_a_terminal_note

            self._terminal_note = not_a_terminal_note(sys.__stdout__ or sys.stdout)
            return GuardedLinuxDriver
        return driver

    def terminal_lost(self, reason: str) -> None:
        """The terminal went away (a write failed): the host keeps the engine going without a
        screen; with no host to tell, the app just leaves."""
        if self.on_screen_lost is not None:
            self.on_screen_lost(reason)
        else:
            self.exit()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if worker.group != "engine" or self._stopping:
            return
        if event.state is WorkerState.ERROR:
            self.engine_error = f"{type(worker.error).__name__}: {worker.error}"
        elif event.state is WorkerState.SUCCESS:
            self.engine_error = "the engine stopped by itself"
        else:
            return
        self.notify(
            f"The engine stopped: {self.engine_error}. Monitoring is DOWN.",
            title="ENGINE STOPPED",
            severity="error",
            timeout=30,
        )
        self.refresh_from_engine(force=True)

    # -- rendering ------------------------------------------------------------------------------

    def refresh_from_engine(self, force: bool = False) -> None:
        """The refresh tick: the clock always, the panes when the engine's state moved on."""
        now = self.clock.now()
        state = self.engine.state
        changed = force or self.rendered is None or state.version != self.rendered.version
        with self.batch_update():
            self._tick(now)
            if changed:
                self._render_state(state, now)
        if changed:
            self._rendered_at = time.monotonic()
            self.post_message(StateRendered(state.version))

    def _state_arrived(self, _state: EngineState) -> None:
        if time.monotonic() - self._rendered_at >= 1 / self.refresh_hz:
            self.refresh_from_engine()
            # The tick due next would paint the cockpit again a few ms later (a late tick is
            # why this one came first): the period starts again from this paint.
            self._refresh_timer.reset()

    def _tick(self, now: datetime) -> None:
        # Whole seconds: what the clock and the heartbeat age show, so they repaint once a second.
        now = now.replace(microsecond=0)
        # Clock-driven, so the mark alternates once a second in real use and stands still under a
        # fixed test clock.
        pulse = int(now.timestamp()) % 2 == 0
        self.header.tick(now)
        self.session.now = now
        self.heartbeat.now = now
        self.heartbeat.pulse = pulse
        self.strip.now = now
        self.strip.pulse = pulse
        if self.rendered is not None:
            self.alerts.show(self.rendered.alerts, now)  # past midnight, yesterday's say their day
            self.orders.show(self.rendered.orders, now)  # their ages grow with the clock
        if self.rendered is not None and self.rendered.portfolio is not None:
            # The age of last-known positions grows while the link is down: once a second.
            self.positions.border_title = positions_title(
                self.rendered.portfolio, self.positions.row_count, now
            )

    def _render_state(self, state: EngineState, now: datetime) -> None:
        previous = self.rendered
        self.rendered = state
        self.session.state = state
        limits = self.limits
        self.header.show(live=state.live, account=state.account, trading_state=state.trading_state,
                         shadow=state.shadow)
        lines = banner_lines(state)
        if self.engine_error:
            lines = (
                BannerLine("danger", "ENGINE STOPPED", f"{self.engine_error}; monitoring is DOWN"),
                *lines,
            )
        self.banner.lines = lines

        risk = figures.risk_figures(state, limits)
        self.heartbeat.stats = state.connection
        self.risk.figures = risk
        self.strip.stats = state.connection
        self.strip.figures = risk

        stocks = figures.stock_concentration(state, limits)
        sectors = figures.sector_concentration(state, limits)
        for bars in self.concentration:
            bars.show(
                stocks, sectors, limits.max_position_concentration, limits.max_sector_concentration,
                known=state.portfolio is not None,
            )

        positions = state.portfolio.positions if state.portfolio else ()
        table = self.positions
        table.show(
            positions,
            figures.position_weights(state),
            now=now,
            stale_after=limits.stale_price_seconds,
            orphans=orphaned(state),
        )
        table.border_title = positions_title(state.portfolio, table.row_count, now)
        if state.portfolio is not None:
            p = state.portfolio
            table.border_subtitle = (
                f"unrealized {fmt.signed_money(p.unrealized_pnl)} · "
                f"gross {fmt.money(p.gross_position_value)}"
            )
        self.orders.show(state.orders, now)
        self.plan.show(state.plan)
        self.plan.display = bool(state.plan)
        self.plan_message.display = not state.plan
        if not state.plan:
            why = state.strategy_error or state.strategy_note or (
                "no earnings report in this week's calendar"
            )
            self.plan_message.update(f"No plan this week: {why}")
        self.alerts.show(state.alerts, now)

        if previous is None or (
            previous.trading_state,
            previous.portfolio is None,
        ) != (state.trading_state, state.portfolio is None):
            self.refresh_bindings()

