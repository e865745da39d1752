"""Piping the app's output (not a terminal) is said plainly."""

from __future__ import annotations

import io
import os

from weekly_er_tui.ui.terminal import not_a_terminal_note


def test_a_pipe_is_said_plainly() -> None:
    read_fd, write_fd = os.pipe()
    with os.fdopen(write_fd, "w") as pipe:
        note = not_a_terminal_note(pipe)
    os.close(read_fd)
    assert "not a terminal" in note and "80x24" in note and "--headless" in note
    assert not_a_terminal_note(io.StringIO()) != ""


def test_a_terminal_says_nothing() -> None:
    master, slave = os.openpty()
    with os.fdopen(slave, "w") as tty:
        assert not_a_terminal_note(tty) == ""
    os.close(master)
