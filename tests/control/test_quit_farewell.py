"""After the trader quits the cockpit, the terminal says what was left and where to look: which
positions stay at IB unwatched, the trading state, and where the logs and state are (a trader
found the terminal empty after quitting, with no word of either)."""

from __future__ import annotations

from pathlib import Path

from tests.control.test_screen_lost import (  # noqa: F401  (pytest fixtures used by name)
    BOUND,
    SimulatedGateway,
    Tmux,
    gw,
    pids,
    start_cockpit,
    tmux,
)
from tests.fixtures_sim import wait_until


async def test_quitting_the_cockpit_says_what_is_left_and_where_the_logs_are(
    tmp_path: Path, tmux: Tmux, gw: SimulatedGateway, pids: list[int]  # noqa: F811
) -> None:
    data, _pid, _status = await start_cockpit(tmp_path, tmux, gw, pids)
    tmux("set-window-option", "-t", "cockpit", "remain-on-exit", "on")
    tmux("send-keys", "-t", "cockpit", "q")
    # With a position open, the quit asks first (y); it must be answered, not assumed.
    await wait_until(lambda: "QUIT WITH POSITIONS OPEN?" in tmux("capture-pane", "-p", "-t",
                                                                  "cockpit"), timeout=10)
    tmux("send-keys", "-t", "cockpit", "y")

    def screen() -> str:
        return tmux("capture-pane", "-p", "-J", "-S", "-50", "-t", "cockpit")

    # The farewell is printed once the engine has stopped, before the process exits.
    await wait_until(lambda: "Logs:" in screen(), timeout=BOUND, interval=0.1)
    text = screen()
    assert "weekly-er-tui stopped" in text, text
    assert "trading state ACTIVE" in text, text
    assert "1 position left at IB as it is" in text, text
    assert str((data / "logs").absolute()) in text, text
