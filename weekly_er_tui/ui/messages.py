"""Messages the cockpit's parts post: small dataclasses, handled by the app."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message


@dataclass
class CommandDone(Message):
    """An engine command (pause, resume, flatten, reconnect, check_now) came back."""

    command: str
    ok: bool
    detail: str = ""


@dataclass
class StateRendered(Message):
    """The screen now shows the engine state of this version (tests and the benchmark wait on it).

    Only the newest matters: a pending one is replaced by the next.
    """

    version: int

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, StateRendered)


@dataclass
class SortChanged(Message):
    """The positions table is now sorted by this column."""

    column: str
    reverse: bool
