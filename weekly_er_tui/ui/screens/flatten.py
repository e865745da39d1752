"""The emergency flatten confirmation: what will be closed, and a deliberate key to do it."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

from weekly_er_tui.model import Position
from weekly_er_tui.ui import formatting as fmt
from weekly_er_tui.ui.screens.held import HeldKeys, held_keys

# Shift+Y: a key no one presses by accident, and not Enter, which a trader may already be pressing.
CONFIRM_KEY = "Y"


def closing_lines(positions: tuple[Position, ...]) -> Content:
    """One line per position: the closing order's side, quantity, symbol and market value."""
    if not positions:
        return Content.styled("No open positions: only open orders will be cancelled.", "dim")
    width = max(len(p.symbol) for p in positions)
    lines = []
    for p in positions:
        side = "SELL" if p.quantity > 0 else "BUY "
        lines.append(
            Content.assemble(
                (side, "bold"),
                f" {fmt.quantity(abs(p.quantity)):>8} ",
                (f"{p.symbol:<{width}}", "bold"),
                f"  {fmt.money(p.market_value, 2):>14}",
                (f"  P&L {fmt.signed_money(p.unrealized_pnl):>9}", "dim"),
            )
        )
    return Content("\n").join(lines)


class FlattenConfirmScreen(HeldKeys, ModalScreen[bool]):
    """Lists every position to be closed; Y (shift+y) flattens, Esc cancels, Enter does nothing."""

    # What the app says when another key is pressed behind this dialog (none acts).
    HOLD_HINT = "The flatten confirmation is open: Y (capital) flattens, Esc cancels"

    BINDINGS = [
        Binding(CONFIRM_KEY, "confirm", "FLATTEN ALL", id="flatten_confirm", key_display="Y"),
        Binding("escape", "cancel", "Cancel", id="flatten_cancel"),
        Binding("n", "cancel", "Cancel", show=False),
        *held_keys(),
    ]

    def __init__(
        self,
        positions: tuple[Position, ...],
        *,
        connected: bool,
        last_known: str = "",
        shadow: bool = False,
    ) -> None:
        super().__init__()
        self.positions = positions
        self.shadow = shadow
        self.connected = connected
        # With the link down, when these positions were last known ("10:29:14 ET, 42s ago").
        self.last_known = last_known

    def compose(self) -> ComposeResult:
        total = sum(p.market_value for p in self.positions)
        count = len(self.positions)
        with Vertical(id="flatten-dialog", classes="dialog -danger"):
            yield Static(" EMERGENCY FLATTEN (SHADOW) " if self.shadow else " EMERGENCY FLATTEN ",
                         id="flatten-title", classes="dialog-title")
            if self.shadow:
                yield Static(
                    "SHADOW mode: NOTHING will be sent to IB. What this flatten would close is "
                    "journaled in logs/shadow_orders.csv, and the shadow engine goes HALTED.",
                    id="flatten-shadow-note", classes="dialog-warning")
            yield Static(
                f"Cancel every open order and close {count} position{'s' * (count != 1)} "
                f"at market (value {fmt.money(total)}):",
                classes="dialog-text",
            )
            with VerticalScroll(id="flatten-list"):
                yield Static(closing_lines(self.positions))
            if not self.connected:
                known = (
                    f" These are the positions as last known ({self.last_known}): each open "
                    "position is closed on reconnect."
                    if self.last_known
                    else ""
                )
                yield Static(
                    "The connection is DOWN: the flatten will be QUEUED and runs on reconnect."
                    + known,
                    id="flatten-queued-note",
                    classes="dialog-warning",
                )
            yield Static(
                Content.assemble(
                    "Press ",
                    (" Y ", "bold reverse"),
                    " (capital Y: shift+y) to flatten all.  ",
                    (" Esc ", "bold reverse"),
                    " cancels.  A lower-case y does nothing, nor does Enter.",
                ),
                id="flatten-keys",
                classes="dialog-keys",
            )

    def action_confirm(self) -> None:
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)
