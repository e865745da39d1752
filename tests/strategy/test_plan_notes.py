"""A plan note says what is true now: "no price yet" (the plan was sized before any quote) is
gone once the entry went out at a price and filled."""

from __future__ import annotations

from pathlib import Path

from tests.strategy.test_runner import MSFT, PRICES, et, make, run_until
from weekly_er_tui.model import PlanStatus
from weekly_er_tui.strategy.calendars import MarketCalendar


async def test_no_price_yet_is_cleared_once_the_entry_filled(
    tmp_path: Path, cal: MarketCalendar
) -> None:
    h = make(tmp_path, cal, et(2026, 11, 15, 12))
    h.portfolio.prices.pop("MSFT")
    h.start()
    await run_until(h, et(2026, 11, 16, 9))
    assert "no price yet" in h.entry(MSFT).note  # planned before any quote: true then
    h.portfolio.prices["MSFT"] = PRICES["MSFT"]
    await run_until(h, et(2026, 11, 17, 11))
    e = h.entry(MSFT)
    assert e.status is PlanStatus.ENTERED and e.quantity > 0
    assert "no price yet" not in e.note, e.note
    await h.stop()
