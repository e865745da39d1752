from __future__ import annotations

import pytest

from weekly_er_tui.strategy.calendars import MarketCalendar, market_calendar


@pytest.fixture(scope="session")
def cal() -> MarketCalendar:
    # market_calendar() is cached module-wide: the XNYS schedule is built once per test run.
    return market_calendar()
