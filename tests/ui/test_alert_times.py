"""The alert log's times say the day when it is not today: an alert from Thursday read on
Monday morning says "Thu 15:50", not a bare 15:50 that reads as this afternoon. Today is the
app's clock (a ManualClock here), and the log follows it past midnight."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from tests.fixtures_sim import wait_until
from tests.ui.hand_states import DEMO_NOW, normal_session
from tests.ui.test_pilot import make_app, settle
from weekly_er_tui.clock import ET
from weekly_er_tui.model import AlertRecord, Severity
from weekly_er_tui.ui.widgets.alerts import AlertLog

TODAY = AlertRecord(DEMO_NOW.replace(hour=10, minute=12, second=5), Severity.MEDIUM,
                    "Entered DG: bought 130 @ 76.39")
THURSDAY = AlertRecord(datetime(2026, 11, 19, 15, 50, 30, tzinfo=ET), Severity.HIGH,
                       "Friday close backup: still open")


def log_text(app: object) -> str:
    return str(app.query_one(AlertLog).query_one("#alert-lines").render())  # type: ignore[attr-defined]


async def test_an_alert_of_another_day_shows_its_day() -> None:
    state = replace(normal_session(), alerts=(TODAY, THURSDAY))
    app, _, clock = make_app(state)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot, app)
        text = log_text(app)
        assert "Thu 15:50" in text, text
        assert "10:12:05" in text and "Mon 10:12" not in text, text
        clock.set(datetime(2026, 11, 24, 9, 0, tzinfo=ET))  # Tuesday: Monday's is another day
        await wait_until(lambda: "Mon 10:12" in log_text(app), timeout=5)
