"""The plan pane: notes are never cut (they wrap), and an empty plan says why."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tests.ui.hand_states import normal_session
from tests.ui.test_pilot import make_app, settle
from weekly_er_tui.ui.widgets.plan import PlanTable

LONG = ("Technology would be 33.5% of net liquidation, over the 30% sector limit: skipped, "
        "so it would be held over the weekend")


@pytest.mark.parametrize("size", [(80, 24), (132, 40), (160, 48)])
async def test_a_long_note_wraps_whole_and_nothing_scrolls_sideways(
    size: tuple[int, int],
) -> None:
    state = normal_session()
    plan = tuple(replace(e, note=LONG) if e.symbol == "ADSK" else e for e in state.plan)
    app, _, _ = make_app(replace(state, plan=plan))
    async with app.run_test(size=size) as pilot:
        await settle(pilot, app)
        table = app.query_one(PlanTable)
        note = str(table.get_cell("ADSK:2026-11-24", "note"))
        assert " ".join(note.split()) == LONG
        assert table.virtual_size.width <= table.size.width


async def test_a_bad_calendar_says_so_in_the_plan_pane() -> None:
    error = ("earnings calendar calendar.csv: line 7: report_date '2026-13-01' is not a date "
             "(YYYY-MM-DD)")
    app, _, _ = make_app(replace(normal_session(), plan=(), strategy_error=error))
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot, app)
        message = app.query_one("#plan-message")
        assert message.display
        assert "line 7" in str(message.render())
        assert "No plan this week" in str(message.render())
