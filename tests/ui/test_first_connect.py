"""Before the first connect nothing is known: the cockpit says it is connecting and has no data,
and shows n/a where a figure would be, never a lost link (there was none) or a 0 that reads as
a fact (no positions, no uptime). The scene is the engine's own, recorded while the gateway
refused its first connect."""

from __future__ import annotations

import pytest

from tests.ui.screen_text import screen_text
from weekly_er_tui.ui.screenshots import LARGE, MIDDLE, SMALL, build_app


@pytest.mark.parametrize("size", [SMALL, MIDDLE, LARGE], ids=["80x24", "132x40", "160x48"])
async def test_before_the_first_connect_it_says_connecting_and_no_data(
    size: tuple[int, int],
) -> None:
    app = build_app("first-connect")
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        text = screen_text(app)
    assert "CONNECTING" in text, text
    assert "no data" in text, text
    for wrong in ("LOST", "RECONNECTING", "Positions (0)", "uptime 0.0%", "prices are stale",
                  "no positions"):
        assert wrong not in text, f"{wrong!r} on screen before the first connect:\n{text}"
    assert "Positions (n/a" in text, text
    if size != SMALL:
        assert "uptime n/a" in text, text
