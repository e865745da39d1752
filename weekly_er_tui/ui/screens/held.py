"""A confirmation holds the cockpit's keys: behind it none acts, and each says so."""

from __future__ import annotations

from textual.binding import Binding

# The cockpit's keys that act (F and p are priority bindings: the app itself refuses them).
HELD = {"r": "r", "c": "c", "s": "s", "o": "o", "O": "O", "q": "q", "question_mark": "?", "x": "x"}


def held_keys() -> list[Binding]:
    return [Binding(key, f"held('{shown}')", show=False) for key, shown in HELD.items()]


class HeldKeys:
    """Mixin for a modal confirmation: `HOLD_HINT` is what the trader is told."""

    HOLD_HINT = "A confirmation is open"

    def action_held(self, key: str) -> None:
        app = self.app  # type: ignore[attr-defined]
        app.notify(f"{self.HOLD_HINT}; {key} did nothing.", severity="warning")
