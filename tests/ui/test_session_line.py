"""The session line: market open/closed/early close and the countdowns, from the clock and
the NYSE calendar (exchange_calendars XNYS)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from tests.fixtures_sim import wait_until
from tests.ui.hand_states import normal_session
from tests.ui.test_pilot import make_app, settle
from weekly_er_tui.clock import ET
from weekly_er_tui.model import FridayPhase
from weekly_er_tui.strategy.calendars import market_calendar
from weekly_er_tui.ui.widgets.session import SessionLine, session_parts


def text(now: datetime) -> str:
    parts = session_parts(now, market_calendar(), normal_session())
    return " · ".join(f"{label} {value}" for label, value, _ in parts)


def test_monday_morning_open_with_every_countdown() -> None:
    line = text(datetime(2026, 11, 23, 10, 30, tzinfo=ET))
    assert "Market OPEN to 16:00 ET (in 5h30m)" in line
    assert "Next entry DE Tue 10:00 (in 23h30m)" in line
    assert "Friday close Fri 12:45 (in 4d02h)" in line
    assert "backup 12:55 (in 4d02h)" in line and "bell 13:00 (in 4d02h)" in line


def test_the_day_after_thanksgiving_is_an_early_close() -> None:
    line = text(datetime(2026, 11, 27, 12, 50, tzinfo=ET))
    assert "Market OPEN, EARLY CLOSE to 13:00 ET (in 10m00s)" in line
    # Past its time, the close is done only once its verdict is in (this state has none).
    assert "Friday close due" in line
    assert "backup 12:55 (in 5m00s)" in line


def test_the_close_is_done_only_with_its_verdict() -> None:
    state = normal_session()
    assert state.friday_close is not None
    now = datetime(2026, 11, 27, 12, 56, tzinfo=ET)

    def said(phase: FridayPhase, detail: str = "") -> str:
        fc = replace(state.friday_close, phase=phase, detail=detail)
        parts = session_parts(now, market_calendar(), replace(state, friday_close=fc))
        return " · ".join(f"{label} {value}" for label, value, _ in parts)

    assert "Friday close in progress · backup due" in said(FridayPhase.CLOSING)
    assert "Friday close waiting for the connection" in said(FridayPhase.WAITING_FOR_LINK)
    assert "Friday close done · backup due" in said(FridayPhase.CLOSED, "close is FLAT")
    assert "backup in progress" in said(FridayPhase.BACKUP, "closing AAPL +10")
    assert "Friday close done · backup done" in said(FridayPhase.BACKUP, "flat")


def test_thanksgiving_itself_is_closed_with_the_next_open() -> None:
    line = text(datetime(2026, 11, 26, 11, 0, tzinfo=ET))
    assert "Market CLOSED, opens Fri 09:30 ET (in 22h30m), early close 13:00 ET" in line


async def test_the_line_is_on_screen_and_moves_with_the_clock() -> None:
    app, _, clock = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot, app)
        line = app.query_one(SessionLine)
        assert "in 5h30m" in str(line.render())
        clock.advance(60)
        # The next refresh tick shows it (the tick reads the clock; nothing else moved).
        await wait_until(lambda: "in 5h29m" in str(line.render()), timeout=5)
