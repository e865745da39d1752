"""A competing live session (notes row 17): 10197 stops market data; the product says why once
(an event and an alert), and says it again for a later session once data had come back."""

from __future__ import annotations

from pathlib import Path

from ib_async import IB

from tests.conftest import IbLogGuard
from tests.fixtures_sim import wait_until
from weekly_er_tui.broker.market_data import MarketDataFeed
from weekly_er_tui.broker.portfolio import PortfolioTracker
from weekly_er_tui.clock import ManualClock
from weekly_er_tui.journal import Journal, read_csv
from weekly_er_tui.model import Alert, EventType
from weekly_er_tui.sim import SimulatedGateway


async def test_a_competing_session_is_said_once_per_episode(
    gateway: SimulatedGateway, ib: IB, manual_clock: ManualClock, tmp_path: Path,
    ib_log_guard: IbLogGuard,
) -> None:
    ib_log_guard.expect(r"Error 10197")
    journal = Journal(tmp_path, manual_clock)
    alerts: list[Alert] = []
    tracker = PortfolioTracker(ib, manual_clock, feed=MarketDataFeed(
        journal=journal, alert=alerts.append, clock=manual_clock))
    await tracker.resync(ib)

    def said() -> list[dict[str, str]]:
        return [r for r in read_csv(tmp_path / "logs" / "events_log.csv")
                if r["event_type"] == EventType.MARKET_DATA.value]

    try:
        gateway.competing_session = True
        await wait_until(lambda: len(said()) == 1)
        # Every subscription got its 10197; still one event and one alert.
        rounds = gateway.tick_rounds
        await wait_until(lambda: gateway.tick_rounds > rounds + 5)
        assert len(said()) == 1 and said()[0]["severity"] == "HIGH"
        assert "competing live session" in said()[0]["message"]
        assert len(alerts) == 1 and "Log out the other IBKR session" in alerts[0].body

        gateway.competing_session = False
        manual_clock.advance(60)  # the market moves: ticks flow again
        await wait_until(lambda: not tracker.feed.competing_session)
        gateway.competing_session = True
        await wait_until(lambda: len(said()) == 2)
        assert len(alerts) == 2
    finally:
        tracker.detach()
        journal.close()
