"""The risk pane starts with one line ("waiting for the first account update") and must grow to
its five lines when the figures arrive: tried in tmux at 160x48, the demo's cockpit kept a
one-line risk pane for the whole session (Day P&L, drawdown, cash and positions never shown),
because the pane's height was laid out once, before the first account update."""

from __future__ import annotations

from dataclasses import replace

from weekly_er_tui.clock import ManualClock
from weekly_er_tui.scenes.fixtures import load_scene
from weekly_er_tui.ui.app import WeeklyERApp
from weekly_er_tui.ui.static_engine import StaticEngine
from weekly_er_tui.ui.widgets.risk import RiskSummary


async def test_the_risk_pane_shows_every_line_once_the_account_arrives() -> None:
    scene = load_scene("normal")
    before = replace(scene.state, portfolio=None, safety=None)
    engine = StaticEngine(before)
    app = WeeklyERApp(engine, clock=ManualClock(scene.now), limits=scene.limits)
    app.animation_level = "none"
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        risk = app.query_one(RiskSummary)
        assert risk.content_region.height == 1  # the waiting line
        engine.publish(scene.state)
        for _ in range(50):
            await pilot.pause(0.02)
            if risk.figures is not None:
                break
        await pilot.pause()
        assert risk.figures is not None
        assert risk.content_region.height == 5, risk.content_region
