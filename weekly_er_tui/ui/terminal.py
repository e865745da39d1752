"""A terminal that may go away: the SSH link drops, tmux kills the pane.

Textual writes the screen from a thread; a write to a hung-up terminal raises EIO there, the
thread dies, its queue fills, and the next frame blocks the event loop that also runs the
engine: monitoring would freeze with the screen. This driver swallows the failed write, reports
the loss once to the app (on the loop), and writes nothing more.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import IO, Any

from textual.drivers.linux_driver import LinuxDriver


class GuardedOutput:
    """A file for Textual's writer thread that never raises: the first failure calls
    `on_lost(reason)` (from that thread) and turns every later write into a no-op."""

    def __init__(self, file: IO[str], on_lost: Callable[[str], None]) -> None:
        self._file = file
        self._on_lost = on_lost
        self.lost = False

    def _lose(self, exc: OSError) -> None:
        if not self.lost:
            self.lost = True
            self._on_lost(f"the terminal can no longer be written ({exc.strerror or exc})")

    def write(self, text: str) -> int:
        if self.lost:
            return len(text)
        try:
            return self._file.write(text)
        except OSError as exc:
            self._lose(exc)
            return len(text)

    def flush(self) -> None:
        if self.lost:
            return
        try:
            self._file.flush()
        except OSError as exc:
            self._lose(exc)

    def fileno(self) -> int:
        return self._file.fileno()

    def isatty(self) -> bool:
        return not self.lost and self._file.isatty()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._file, name)


class GuardedLinuxDriver(LinuxDriver):
    """Textual's Linux driver over a GuardedOutput; the app's `terminal_lost` hears the loss."""

    def __init__(self, app: Any, *, debug: bool = False, mouse: bool = True,
                 size: tuple[int, int] | None = None) -> None:
        super().__init__(app, debug=debug, mouse=mouse, size=size)
        loop = asyncio.get_running_loop()  # Textual builds its driver inside the app's loop

        def lost(reason: str) -> None:
            loop.call_soon_threadsafe(app.terminal_lost, reason)

        if self._file is not None:
            self._file = GuardedOutput(self._file, lost)  # type: ignore[assignment]


def not_a_terminal_note(stream: IO[str]) -> str:
    """What the trader is told when the screen is not drawn on a terminal (`| tee log`): the
    app cannot know the size and draws 80x24; "" on a terminal."""
    try:
        if stream.isatty():
            return ""
    except (ValueError, OSError):
        pass
    return ("The output is not a terminal (piped or redirected?): the screen is drawn at 80x24 "
            "and may not fit. Run the app in a terminal, or use --headless to log instead.")
