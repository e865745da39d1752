"""Confirmations for resuming from a HALT and for quitting while positions are open."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

from weekly_er_tui.config import SafetyLimits
from weekly_er_tui.model import PortfolioSnapshot
from weekly_er_tui.ui import formatting as fmt
from weekly_er_tui.ui.screens.held import HeldKeys, held_keys

_BASELINE_WORDS = {"session": "the session's start", "week": "the week's start",
                   "high_water": "the high-water mark"}


def _keys(what: str, cancel: str) -> Content:
    # "lower case": the flatten confirms with a capital Y, and a trader who has seen both must
    # not have to guess which this one wants.
    return Content.assemble(
        "Press ",
        (" y ", "bold reverse"),
        f" (lower case) to {what}.  ",
        (" Esc ", "bold reverse"),
        f" {cancel}.",
    )


class YesNoScreen(HeldKeys, ModalScreen[bool]):
    """y confirms; Esc or n cancels."""

    HOLD_HINT = "A confirmation is open: y (lower case) confirms, Esc cancels"

    BINDINGS = [
        Binding("y", "confirm", "Yes", id="confirm_yes"),
        Binding("escape", "cancel", "Cancel", id="confirm_cancel"),
        Binding("n", "cancel", "No", show=False),
        *held_keys(),
    ]

    def action_confirm(self) -> None:
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)


class ResumeConfirmScreen(YesNoScreen):
    """Leaving a HALT is a decision: the engine halted for a reason."""

    def __init__(self, reason: str, portfolio: PortfolioSnapshot | None = None,
                 limits: SafetyLimits | None = None) -> None:
        super().__init__()
        self.reason = reason
        self.portfolio = portfolio
        self.limits = limits or SafetyLimits()

    def rebased(self) -> str:
        """What resuming re-bases (the safety manager's resume), and what it does not."""
        lim, p = self.limits, self.portfolio
        now = f" (now {fmt.money(p.net_liquidation)})" if p and p.net_liquidation > 0 else ""
        stop = (f"Resuming re-bases the emergency stop-loss ({fmt.pct(lim.emergency_stop_loss, 0)}"
                f" from {_BASELINE_WORDS[lim.stop_loss_baseline]}): the session's start, the "
                f"week's start and the high-water mark become the net liquidation at the moment "
                f"you resume{now}, and the drawdown counts from there.")
        day = ("The daily-loss limit is NOT re-based: it counts IB's day P&L")
        if p is not None and p.daily_pnl is not None:
            loss = max(0.0, -p.daily_pnl)
            over = (": over it, so it acts again at once" if loss > lim.max_daily_loss else "")
            day += (f", a loss of {fmt.money(loss)} today against max_daily_loss "
                    f"{fmt.money(lim.max_daily_loss)}{over}")
        return f"{stop} {day}."

    def compose(self) -> ComposeResult:
        with Vertical(id="resume-dialog", classes="dialog -danger"):
            yield Static(" RESUME FROM HALT? ", classes="dialog-title")
            yield Static(
                f"Trading is HALTED: {self.reason or 'emergency'}.\n\n{self.rebased()}\n\n"
                "Resuming allows new entries again. Check the alert log and the positions "
                "first.",
                classes="dialog-text",
            )
            yield Static(_keys("resume trading", "stays HALTED"), classes="dialog-keys")


class QuitConfirmScreen(YesNoScreen):
    """Quitting the app stops the monitoring that keeps open positions safe."""

    def __init__(self, open_positions: int, value: float) -> None:
        super().__init__()
        self.open_positions = open_positions
        self.value = value

    def compose(self) -> ComposeResult:
        count = self.open_positions
        with Vertical(id="quit-dialog", classes="dialog -warning"):
            yield Static(" QUIT WITH POSITIONS OPEN? ", classes="dialog-title")
            yield Static(
                f"{count} position{'s' * (count != 1)} open (value {fmt.money(self.value)}).\n\n"
                "Monitoring stops when this app quits: no heartbeat, no safety checks, no "
                "alerts and no Friday close from this process. Positions and orders stay at "
                "IB as they are.",
                classes="dialog-text",
            )
            yield Static(_keys("quit anyway", "keeps watching"), classes="dialog-keys")


class ActOnOneScreen(YesNoScreen):
    """Closing one position or cancelling one order: says exactly what will be sent."""

    def __init__(self, title: str, text: str, what: str) -> None:
        super().__init__()
        self.title_text = title
        self.text = text
        self.what = what

    def compose(self) -> ComposeResult:
        with Vertical(id="act-dialog", classes="dialog -warning"):
            yield Static(f" {self.title_text} ", classes="dialog-title")
            yield Static(self.text, classes="dialog-text", id="act-text")
            yield Static(_keys(self.what, "sends nothing"), classes="dialog-keys")
