"""Confirmations for resuming from a HALT and for quitting while positions are open."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

from weekly_er_tui.ui import formatting as fmt
from weekly_er_tui.ui.screens.held import HeldKeys, held_keys


def _keys(confirm: str, what: str, cancel: str) -> Content:
    return Content.assemble(
        "Press ",
        (" y ", "bold reverse"),
        f" to {what}.  ",
        (" Esc ", "bold reverse"),
        f" {cancel}.",
    )


class YesNoScreen(HeldKeys, ModalScreen[bool]):
    """y confirms; Esc or n cancels."""

    HOLD_HINT = "A confirmation is open: y confirms, Esc cancels"

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

    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = reason

    def compose(self) -> ComposeResult:
        with Vertical(id="resume-dialog", classes="dialog -danger"):
            yield Static(" RESUME FROM HALT? ", classes="dialog-title")
            yield Static(
                f"Trading is HALTED: {self.reason or 'emergency'}.\n\n"
                "Resuming allows new entries again. Check the alert log and the positions "
                "first.",
                classes="dialog-text",
            )
            yield Static(_keys("y", "resume trading", "stays HALTED"), classes="dialog-keys")


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
            yield Static(_keys("y", "quit anyway", "keeps watching"), classes="dialog-keys")


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
            yield Static(_keys("y", self.what, "sends nothing"), classes="dialog-keys")
