"""Notes row 10: IB fills an outsideRth order only in extended hours (04:00-20:00 ET on trading
days) and nothing on a weekend or holiday. A close asked for outside them used to send limit
orders that could not fill, wait 30 s for each of three attempts, and report "still
PreSubmitted"; it now sends nothing and says why and when IB fills again."""

from __future__ import annotations

import asyncio
from datetime import datetime

import pytest

from tests.safety.conftest import MakeRig
from weekly_er_tui.clock import ET, ManualClock
from weekly_er_tui.model import EventType, Severity
from weekly_er_tui.sim import SimulatedGateway

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(("at", "next_fill"), [
    (datetime(2026, 11, 23, 21, 0, tzinfo=ET), "Tue 2026-11-24 04:00 ET"),  # after 20:00
    (datetime(2026, 11, 28, 12, 0, tzinfo=ET), "Mon 2026-11-30 04:00 ET"),  # Saturday
])
async def test_a_flatten_outside_extended_hours_sends_nothing_and_says_when(
    rig: MakeRig, gateway: SimulatedGateway, manual_clock: ManualClock, at: datetime,
    next_fill: str,
) -> None:
    assert gateway.realism.extended_hours_only
    manual_clock.set(at)
    r = await rig()
    await asyncio.wait_for(r.engine.flatten("flatten by the trader"), timeout=10)
    assert gateway.order_refs_received == []  # nothing that could not fill was sent
    assert set(gateway.account.positions) == {"AAPL", "JPM", "XOM"}
    said = [e for e in r.events if "extended hours" in e.message]
    assert said and next_fill in said[0].message, [e.message for e in r.events]
    alert = [a for a in r.alerts() if "extended hours" in a.title]
    assert alert and alert[0].priority is Severity.HIGH and next_fill in alert[0].title
    done = r.of(EventType.EMERGENCY_CLOSE)[-1]
    assert "NOT flat" in done.message


async def test_in_after_hours_a_flatten_still_closes(
    rig: MakeRig, gateway: SimulatedGateway, manual_clock: ManualClock
) -> None:
    manual_clock.set(datetime(2026, 11, 23, 17, 30, tzinfo=ET))  # after-hours: until 20:00
    r = await rig()
    await asyncio.wait_for(r.engine.flatten("flatten by the trader"), timeout=10)
    assert gateway.account.positions == {}
    assert not [e for e in r.events if "extended hours" in e.message]
