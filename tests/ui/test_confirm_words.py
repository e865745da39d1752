"""The confirmations say what confirming does and which key does it.

A trader missed that resuming from a HALT re-bases the stop-loss, and found quit and resume
confirm with `y` while the flatten wants `Y`, with nothing on screen telling the two apart. The
scenes are the real engine's (weekly_er_tui/scenes/), the keys pressed as a trader presses them.
"""

from __future__ import annotations

from textual.widgets import Static

from weekly_er_tui.ui import formatting as fmt
from weekly_er_tui.ui.app import WeeklyERApp
from weekly_er_tui.ui.screens import FlattenConfirmScreen, QuitConfirmScreen, ResumeConfirmScreen
from weekly_er_tui.ui.screenshots import MIDDLE, build_app


def words(app: WeeklyERApp) -> str:
    return " ".join(str(s.render()) for s in app.screen.query(Static)).replace("\n", " ")


async def test_the_resume_from_halt_says_what_is_re_based() -> None:
    app = build_app("halted")
    state = app.engine.state
    assert state.portfolio is not None and state.portfolio.daily_pnl is not None
    async with app.run_test(size=MIDDLE) as pilot:
        await pilot.pause()
        await pilot.press("r")
        await pilot.pause()
        assert isinstance(app.screen, ResumeConfirmScreen)
        text = " ".join(words(app).split())
    nlv = fmt.money(state.portfolio.net_liquidation)
    assert ("Resuming re-bases the emergency stop-loss (10% from the session's start): the "
            "session's start, the week's start and the high-water mark become the net "
            f"liquidation at the moment you resume (now {nlv})") in text, text
    loss = fmt.money(-state.portfolio.daily_pnl)
    assert ("The daily-loss limit is NOT re-based: it counts IB's day P&L, "
            f"a loss of {loss} today against max_daily_loss {fmt.money(10_000)}: over it, so "
            "it acts again at once") in text, text
    assert "press y (lower case) to resume trading" in text.lower(), text


async def test_quit_says_its_key_is_a_lower_case_y() -> None:
    app = build_app("normal")
    async with app.run_test(size=MIDDLE) as pilot:
        await pilot.pause()
        await pilot.press("q")
        await pilot.pause()
        assert isinstance(app.screen, QuitConfirmScreen)
        assert "Press  y  (lower case) to quit anyway." in words(app)


async def test_flatten_says_its_key_is_a_capital_y_and_that_y_does_nothing() -> None:
    app = build_app("normal")
    async with app.run_test(size=MIDDLE) as pilot:
        await pilot.pause()
        await pilot.press("F")
        await pilot.pause()
        assert isinstance(app.screen, FlattenConfirmScreen)
        text = words(app)
        assert "Press  Y  (capital Y: shift+y) to flatten all." in text, text
        assert "A lower-case y does nothing" in text, text
        await pilot.press("y")
        await pilot.pause()
        assert isinstance(app.screen, FlattenConfirmScreen)
