"""Every key answers: a key that does nothing says so and why (in words, so NO_COLOR shows it),
the flatten confirmation holds every other key, and `s` and `c` say what they found."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tests.fixtures_sim import wait_until
from tests.ui.hand_states import halted_after_emergency, normal_session
from tests.ui.test_pilot import make_app, sent, settle
from weekly_er_tui.model import ConnectionState, TradingState
from weekly_er_tui.ui.app import WeeklyERApp
from weekly_er_tui.ui.screens import FlattenConfirmScreen

SIZE = (120, 40)


def said(app: WeeklyERApp) -> list[str]:
    return [n.message for n in app._notifications]


async def told(app: WeeklyERApp, *words: str) -> str:
    """The notification that says all of `words`: a notification is a message the app handles
    after the key's handler returns, so under load it can come after the pilot's pause."""
    def found() -> str | None:
        return next((m for m in said(app) if all(w in m for w in words)), None)
    try:
        await wait_until(found, timeout=10.0)
    except AssertionError:
        raise AssertionError(f"no notification says {words}: {said(app)}") from None
    message = found()
    assert message is not None
    return message


async def test_r_while_active_says_there_is_nothing_to_resume() -> None:
    app, engine, _ = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("r")
        await settle(pilot, app)
        assert sent(engine) == []
        await told(app, "already ACTIVE", "nothing sent")


async def test_p_while_paused_says_it_is_paused_already() -> None:
    paused = replace(normal_session(), trading_state=TradingState.PAUSED)
    app, engine, _ = make_app(paused)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("p")
        await settle(pilot, app)
        assert sent(engine) == []
        await told(app, "already PAUSED", "r resumes")


async def test_p_while_halted_says_halted_is_stricter() -> None:
    app, engine, _ = make_app(halted_after_emergency())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("p")
        await settle(pilot, app)
        assert sent(engine) == []
        await told(app, "HALTED", "nothing sent")


@pytest.mark.parametrize("key", ["p", "r", "c", "s", "o", "q"])
async def test_the_flatten_confirmation_holds_every_other_key(key: str) -> None:
    app, engine, _ = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("F")
        await pilot.pause()
        assert isinstance(app.screen, FlattenConfirmScreen)
        sort_before = app.positions.sort_column
        await pilot.press(key)
        await settle(pilot, app)
        assert sent(engine) == []
        assert isinstance(app.screen, FlattenConfirmScreen)
        assert app.positions.sort_column == sort_before
        assert engine.state.trading_state is TradingState.ACTIVE
        await told(app, "Y (capital) flattens", "Esc cancels")


async def test_s_shows_the_checks_report() -> None:
    app, engine, _ = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s")
        await settle(pilot, app)
        assert sent(engine) == ["check_now"]
        report = engine.state.safety
        assert report is not None
        text = await told(app, f"risk score {report.overall_risk_score:.0f}/100")
        assert "no limit breached" in text or "breached" in text


async def test_c_says_the_link_answered_and_was_left_alone() -> None:
    app, engine, _ = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("c")
        await settle(pilot, app)
        assert sent(engine) == ["reconnect"]
        await told(app, "answers its heartbeat", "left as it is")


async def test_c_while_down_says_it_is_reconnecting() -> None:
    state = normal_session()
    down = replace(state, connection=replace(state.connection,
                                             state=ConnectionState.RECONNECTING))
    app, _engine, _ = make_app(down)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("c")
        await settle(pilot, app)
        await told(app, "Reconnecting now")
