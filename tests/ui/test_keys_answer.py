"""Every key answers: a key that does nothing says so and why (in words, so NO_COLOR shows it),
the flatten confirmation holds every other key, and `s` and `c` say what they found."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tests.ui.test_pilot import make_app, sent, settle
from weekly_er_tui.model import ConnectionState, TradingState
from weekly_er_tui.ui.app import WeeklyERApp
from weekly_er_tui.ui.demo_states import halted_after_emergency, normal_session
from weekly_er_tui.ui.screens import FlattenConfirmScreen

SIZE = (120, 40)


def said(app: WeeklyERApp) -> list[str]:
    return [n.message for n in app._notifications]


async def test_r_while_active_says_there_is_nothing_to_resume() -> None:
    app, engine, _ = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("r")
        await settle(pilot, app)
        assert sent(engine) == []
        assert any("already ACTIVE" in m and "nothing sent" in m for m in said(app)), said(app)


async def test_p_while_paused_says_it_is_paused_already() -> None:
    paused = replace(normal_session(), trading_state=TradingState.PAUSED)
    app, engine, _ = make_app(paused)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("p")
        await settle(pilot, app)
        assert sent(engine) == []
        assert any("already PAUSED" in m and "r resumes" in m for m in said(app)), said(app)


async def test_p_while_halted_says_halted_is_stricter() -> None:
    app, engine, _ = make_app(halted_after_emergency())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("p")
        await settle(pilot, app)
        assert sent(engine) == []
        assert any("HALTED" in m and "nothing sent" in m for m in said(app)), said(app)


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
        assert any("Y flattens" in m and "Esc cancels" in m for m in said(app)), said(app)


async def test_s_shows_the_checks_report() -> None:
    app, engine, _ = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s")
        await settle(pilot, app)
        assert sent(engine) == ["check_now"]
        report = engine.state.safety
        assert report is not None
        text = " ".join(said(app))
        assert f"risk score {report.overall_risk_score:.0f}/100" in text, said(app)
        assert "no limit breached" in text or "breached" in text


async def test_c_says_the_link_answered_and_was_left_alone() -> None:
    app, engine, _ = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("c")
        await settle(pilot, app)
        assert sent(engine) == ["reconnect"]
        assert any("answers its heartbeat" in m and "left as it is" in m
                   for m in said(app)), said(app)


async def test_c_while_down_says_it_is_reconnecting() -> None:
    state = normal_session()
    down = replace(state, connection=replace(state.connection,
                                             state=ConnectionState.RECONNECTING))
    app, _engine, _ = make_app(down)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("c")
        await settle(pilot, app)
        assert any("Reconnecting now" in m for m in said(app)), said(app)
