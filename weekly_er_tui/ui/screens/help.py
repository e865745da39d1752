"""The `?` screen: every key, what it does, and how to read the cockpit."""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static


@dataclass(frozen=True, slots=True)
class KeyHelp:
    key: str
    name: str
    detail: str


LEGEND = (
    ("▶ ACTIVE", "entries, exits and safety actions all run"),
    ("‖ PAUSED", "no new entries; exits and safety actions still run"),
    ("▼ REDUCING", "only orders that make a position smaller"),
    ("■ HALTED", "an emergency latched it: only closing orders, until you resume"),
    ("● / ○", "the heartbeat mark; it alternates while the app is refreshing"),
    ("NEAR / OVER", "a figure at 80% of its limit / past it; ┃ marks the limit on a bar"),
    ("STALE", "a price older than safety_limits.stale_price_seconds"),
    ("+ / -", "gains and losses carry their sign, so nothing depends on color"),
)


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape", "close", "Close", id="help_close"),
        Binding("question_mark", "close", "Close", show=False, key_display="?"),
    ]

    def __init__(self, keys: list[KeyHelp]) -> None:
        super().__init__()
        self.keys = keys

    def compose(self) -> ComposeResult:
        with Vertical(id="help-dialog", classes="dialog"):
            yield Static(" KEYS ", classes="dialog-title")
            with VerticalScroll(id="help-body"):
                for k in self.keys:
                    with Horizontal(classes="help-row"):
                        yield Static(Content.styled(f" {k.key} ", "bold reverse"), classes="-key")
                        yield Static(Content.styled(k.name, "bold"), classes="-name")
                        yield Static(k.detail, classes="-detail")
                yield Static(Content.styled("How to read it", "bold"), classes="help-heading")
                for mark, text in LEGEND:
                    with Horizontal(classes="help-row"):
                        yield Static(Content.styled(mark, "bold"), classes="-mark")
                        yield Static(text, classes="-detail")
            yield Static(
                Content.assemble(
                    (" Esc ", "bold reverse"),
                    " or ",
                    (" ? ", "bold reverse"),
                    " closes this screen.",
                ),
                classes="dialog-keys",
            )

    def action_close(self) -> None:
        self.dismiss(None)
