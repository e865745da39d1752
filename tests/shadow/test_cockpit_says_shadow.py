"""The cockpit says SHADOW where a trader could take it for live trading: the header's badge and
the flatten confirmation (which says nothing will be sent); `status` says it too."""

from __future__ import annotations

import io
from dataclasses import replace

from textual.content import Content
from textual.widgets import Static

from tests.ui.hand_states import normal_session
from tests.ui.test_pilot import SIZE, make_app
from weekly_er_tui.control.codec import to_plain
from weekly_er_tui.control.commands import status_text
from weekly_er_tui.ui.screens import FlattenConfirmScreen
from weekly_er_tui.ui.widgets.header import ModeBadge


def text(widget: Static) -> str:
    content = widget.render()
    return content.plain if isinstance(content, Content) else str(content)


async def test_the_header_and_the_flatten_confirmation_say_shadow() -> None:
    app, _, _ = make_app(replace(normal_session(), shadow=True))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause(0.3)
        badge = app.query_one(ModeBadge)
        assert "SHADOW" in str(badge.render()) and badge.has_class("-shadow")
        await pilot.press("F")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, FlattenConfirmScreen)
        assert "SHADOW" in text(screen.query_one("#flatten-title", Static))
        assert "NOTHING will be sent" in text(screen.query_one("#flatten-shadow-note", Static))


async def test_a_trading_engine_says_no_shadow() -> None:
    app, _, _ = make_app(normal_session())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause(0.3)
        badge = app.query_one(ModeBadge)
        assert "SHADOW" not in str(badge.render()) and not badge.has_class("-shadow")
        await pilot.press("F")
        await pilot.pause()
        assert not app.screen.query("#flatten-shadow-note")


def test_status_says_shadow() -> None:
    state = replace(normal_session(), shadow=True)
    reply = {"status": {
        "mode": "shadow", "is_running": True, "trading_state": "ACTIVE",
        "trading_state_reason": "", "last_safety_check": None, "risk_score": None,
        "connection": state.connection.to_dict(), "flatten_pending": False,
        "strategy_error": ""}, "state": to_plain(state), "engine": {"pid": 1, "data_dir": "d"}}
    out = io.StringIO()
    status_text(reply, out)
    assert out.getvalue().startswith("SHADOW mode: this engine decides and journals everything "
                                     "and sends NO order")
