"""The cockpit's keys: what each does, the confirmations that guard the ones that send, the
answer each gives when it does nothing (and why), and the commands sent to the engine.

A mixin of the App (`WeeklyERApp` subclasses it): the panes and the engine it acts on are the
app's; this module is the job of turning a key into a command, or into words.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import ClassVar

from textual import work
from textual.app import App
from textual.binding import Binding, BindingType

from weekly_er_tui.clock import Clock
from weekly_er_tui.config import SafetyLimits
from weekly_er_tui.engine_api import EngineHandle
from weekly_er_tui.model import ConnectionState, ConnectionStats, TradingState
from weekly_er_tui.ui import formatting as fmt
from weekly_er_tui.ui.answers import cancel_text, check_report, close_text, reconnect_report
from weekly_er_tui.ui.messages import CommandDone
from weekly_er_tui.ui.screens import (
    FlattenConfirmScreen,
    HelpScreen,
    QuitConfirmScreen,
    ResumeConfirmScreen,
)
from weekly_er_tui.ui.screens.confirm import ActOnOneScreen
from weekly_er_tui.ui.screens.help import KeyHelp
from weekly_er_tui.ui.widgets.orders import OrdersTable
from weekly_er_tui.ui.widgets.positions import PositionsTable

# The engine is told to stop on quit; past this many seconds the app leaves anyway.
STOP_TIMEOUT_S = 10.0

KEY_DETAILS = {
    "pause": "no new entries; exits, the Friday close and safety actions still run",
    "resume": "back to ACTIVE; when HALTED asks first (y, lower case, confirms)",
    "flatten": "close every position, cancel orders; asks for Y (capital); queued if offline",
    "reconnect": "reconnect now; a link that answers its heartbeat is left as it is",
    "check_now": "run the safety rules at once",
    "sort": "sort the positions by the next column (or click a header)",
    "reverse_sort": "the same sort the other way round (or click the header again)",
    "close_position": "close the position under the cursor; on the working orders, cancel "
    "that order (asks first)",
    "help": "this screen",
    "quit": "leave the app; warns when positions are open (monitoring stops; y confirms)",
}

_CONNECTED = frozenset({ConnectionState.CONNECTED, ConnectionState.DEGRADED})


class CockpitKeys(App[None]):
    """The keys of the cockpit (see the module's docstring)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("p", "pause", "Pause", id="pause", priority=True),
        Binding("r", "resume", "Resume", id="resume"),
        Binding("F", "flatten", "FLATTEN", id="flatten", key_display="F", priority=True),
        Binding("c", "reconnect", "Reconnect", id="reconnect"),
        Binding("s", "check_now", "Check", id="check_now"),
        Binding("o", "cycle_sort", "Sort", id="sort"),
        Binding("O", "reverse_sort", "Reverse", id="reverse_sort", key_display="O", show=False),
        Binding("x", "close_position", "Close one", id="close_position", show=False),
        Binding("question_mark", "help", "Help", id="help", key_display="?"),
        Binding("q", "quit", "Quit", id="quit"),
    ]

    # The app's, set in its __init__ and on_mount.
    engine: EngineHandle
    clock: Clock
    read_only: bool
    read_only_why: str
    attached: bool
    host_engine: bool
    positions: PositionsTable
    orders: OrdersTable
    _stopping: bool
    limits: SafetyLimits
    _link_before: ConnectionStats

    def refresh_from_engine(self, force: bool = False) -> None:
        raise NotImplementedError

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Every key stays enabled: one that would do nothing now says so, and why, in words
        (a key dimmed by colour alone is invisible under NO_COLOR)."""
        return True

    def _held_by_dialog(self, key: str) -> bool:
        """True (and the trader told) when a confirmation is open: behind it, no key acts."""
        hint = getattr(self.screen, "HOLD_HINT", "")
        if not hint:
            return False
        self.notify(f"{hint}; {key} did nothing.", severity="warning")
        return True

    def key_help(self) -> list[KeyHelp]:
        out = []
        for binding in self.BINDINGS:
            assert isinstance(binding, Binding)
            out.append(
                KeyHelp(
                    binding.key_display or binding.key,
                    binding.description,
                    KEY_DETAILS.get(binding.id or "", ""),
                )
            )
        return out

    def action_pause(self) -> None:
        if self._held_by_dialog("p") or self._refused_read_only("pause"):
            return
        trading = self.engine.state.trading_state
        if trading is TradingState.PAUSED:
            self.notify("Trading is already PAUSED: nothing sent (r resumes).")
            return
        if trading is TradingState.HALTED:
            self.notify("Trading is HALTED, which already stops every entry: nothing sent "
                        "(r resumes, after a confirmation).")
            return
        self.send_command("pause", lambda: self.engine.pause("manual: p key"))

    def action_resume(self) -> None:
        if self._held_by_dialog("r") or self._refused_read_only("resume"):
            return
        state = self.engine.state
        if state.trading_state is TradingState.ACTIVE:
            self.notify("Trading is already ACTIVE: nothing to resume, nothing sent.")
            return
        if state.trading_state is TradingState.HALTED:

            def answered(confirmed: bool | None) -> None:
                if confirmed:
                    self.send_command(
                        "resume", lambda: self.engine.resume("manual: r key, confirmed")
                    )
                else:
                    self.notify("Still HALTED: nothing sent.")

            self.push_screen(ResumeConfirmScreen(state.trading_state_reason, state.portfolio,
                                                 self.limits), answered)
        else:
            self.send_command("resume", lambda: self.engine.resume("manual: r key"))

    def action_flatten(self) -> None:
        if self._held_by_dialog("F") or self._refused_read_only("flatten"):
            return
        state = self.engine.state
        if state.flatten_pending:
            self.notify("A flatten is already QUEUED: it runs on reconnect.", severity="warning")
            return
        portfolio = state.portfolio
        positions = portfolio.open_positions if portfolio else ()
        last_known = ""
        if portfolio is not None and portfolio.last_known_at is not None:
            age = fmt.duration((self.clock.now() - portfolio.last_known_at).total_seconds())
            last_known = f"{fmt.et_time(portfolio.last_known_at)} ET, {age} ago"

        def answered(confirmed: bool | None) -> None:
            if confirmed:
                self.send_command("flatten", lambda: self.engine.flatten("manual: F key"))
            else:
                self.notify("Flatten cancelled: nothing sent.")

        self.push_screen(
            FlattenConfirmScreen(
                positions,
                connected=state.connection.state in _CONNECTED,
                last_known=last_known,
                shadow=state.shadow,
            ),
            answered,
        )

    def action_reconnect(self) -> None:
        if self._held_by_dialog("c") or self._refused_read_only("reconnect"):
            return
        self._link_before = self.engine.state.connection
        self.send_command("reconnect", self.engine.reconnect)

    def action_check_now(self) -> None:
        if self._held_by_dialog("s") or self._refused_read_only("check_now"):
            return
        self.send_command("check_now", self.engine.check_now)

    def _refused_read_only(self, action: str) -> bool:
        """True (and the trader told why) when this cockpit only watches."""
        if not self.read_only:
            return False
        key = {"pause": "p (pause)", "resume": "r (resume)", "flatten": "F (flatten)",
               "reconnect": "c (reconnect)", "check_now": "s (check)",
               "close_position": "x (close)", "cancel_order": "x (cancel)"}[action]
        self.notify(f"Read-only: {key} refused, nothing sent. {self.read_only_why}",
                    severity="warning", timeout=8)
        return True

    def action_cycle_sort(self) -> None:
        if not self._held_by_dialog("o"):
            self.positions.cycle_sort()

    def action_close_position(self) -> None:
        """x: close the position under the cursor (on the orders pane: cancel_order)."""
        if self.focused is self.orders:
            self.action_cancel_order()
            return
        if self._held_by_dialog("x") or self._refused_read_only("close_position"):
            return
        state = self.engine.state
        symbol = self.positions.selected_symbol
        portfolio = state.portfolio
        p = portfolio.position(symbol) if portfolio and symbol else None
        if p is None or not p.quantity:
            self.notify("No position under the cursor: nothing to close.")
            return
        if state.connection.state not in _CONNECTED:
            self.notify(f"Not connected: nothing sent for {p.symbol}. F queues a flatten of "
                        "every position for the reconnect.", severity="warning")
            return
        working = sum(1 for o in state.orders if o.symbol == p.symbol and o.ours)
        text = close_text(p, working)
        def answered(confirmed: bool | None) -> None:
            if confirmed:
                self.send_command("close_position", lambda: self.engine.close_position(
                    p.symbol, "closed by the trader (x key)"))
            else:
                self.notify(f"{p.symbol} not closed: nothing sent.")

        self.push_screen(ActOnOneScreen(f"CLOSE {p.symbol}?", text, f"close {p.symbol}"),
                         answered)

    def action_cancel_order(self) -> None:
        if self._held_by_dialog("x") or self._refused_read_only("cancel_order"):
            return
        order = self.orders.selected
        if order is None:
            self.notify("No working order under the cursor: nothing to cancel.")
            return
        if not order.ours:
            self.notify(f"Order {order.order_id} ({order.symbol}) was placed by clientId "
                        f"{order.client_id}, not this app: cancel it there (TWS: the Orders "
                        "panel). Nothing sent.", severity="warning", timeout=10)
            return
        text = cancel_text(order)
        def answered(confirmed: bool | None) -> None:
            if confirmed:
                self.send_command("cancel_order", lambda: self.engine.cancel_order(
                    order.order_id, "cancelled by the trader (x key)"))
            else:
                self.notify(f"Order {order.order_id} left working: nothing sent.")

        self.push_screen(ActOnOneScreen(f"CANCEL ORDER {order.order_id}?", text,
                                        "cancel it"), answered)

    def action_reverse_sort(self) -> None:
        if not self._held_by_dialog("O"):
            self.positions.reverse_sort()

    def action_help(self) -> None:
        if self._held_by_dialog("?"):
            return
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.key_help()))

    async def action_quit(self) -> None:
        if self._held_by_dialog("q"):
            return
        if self.attached:  # the engine runs elsewhere: leaving only detaches this screen
            self.shutdown()
            return
        state = self.engine.state
        open_positions = state.portfolio.open_positions if state.portfolio else ()
        if not open_positions:
            self.shutdown()
            return
        if isinstance(self.screen, QuitConfirmScreen):
            return

        def answered(confirmed: bool | None) -> None:
            if confirmed:
                self.shutdown()

        value = sum(abs(p.market_value) for p in open_positions)
        self.push_screen(QuitConfirmScreen(len(open_positions), value), answered)

    # -- commands -------------------------------------------------------------------------------

    @work(group="commands", exit_on_error=False, description="send one command to the engine")
    async def send_command(self, command: str, call: Callable[[], Awaitable[None]]) -> None:
        try:
            await call()
        except Exception as exc:  # shown to the trader, never swallowed
            self.post_message(CommandDone(command, False, f"{type(exc).__name__}: {exc}"))
        else:
            self.post_message(CommandDone(command, True))

    def on_command_done(self, message: CommandDone) -> None:
        done = {
            "pause": "Pause sent: no new entries.",
            "resume": "Resume sent.",
            "flatten": "Flatten sent: closing every position.",
            "close_position": "Close sent (see the alert log for its verdict).",
            "cancel_order": "Cancel sent.",
        }
        if not message.ok:
            self.notify(f"{message.command} failed: {message.detail}", severity="error", timeout=15)
        elif message.command == "flatten" and self.engine.state.flatten_pending:
            self.notify("Flatten QUEUED: it runs on reconnect.", severity="warning", timeout=15)
        elif message.command == "check_now":
            self.notify(check_report(self.engine.state), timeout=10)
        elif message.command == "reconnect":
            self.notify(reconnect_report(self._link_before, self.engine.state.connection))
        else:
            self.notify(done.get(message.command, f"{message.command} done."))
        self.refresh_from_engine()

    @work(exclusive=True, group="shutdown", exit_on_error=False, description="stop and quit")
    async def shutdown(self) -> None:
        self._stopping = True
        if self.host_engine:
            try:
                await asyncio.wait_for(self.engine.stop(), timeout=STOP_TIMEOUT_S)
            except Exception as exc:
                self.log.error(f"engine.stop() failed: {exc!r}")
        self.exit()
