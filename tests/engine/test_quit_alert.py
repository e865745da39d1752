"""The "monitoring stopped" alert says what a stop leaves behind, at the priority that deserves.

A trader found every deliberate quit logged at ERROR and sent as a HIGH email and SMS, even with
nothing open, with a text ("The rest of the system keeps running") that was not true. Now: a
quit asked for with no position open is LOW (logged, no page); a quit that leaves positions open
is HIGH and counts them; a stop nobody asked for (the engine's task cancelled) stays HIGH.
The real engine on the simulated gateway (Realism.real()).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.engine.rig import Rig, close_rig, et, open_rig, scenario_data
from weekly_er_tui.clock import ManualClock
from weekly_er_tui.model import AlertRecord, EventType, Severity


async def rig_with(tmp_path: Path, positions: list[dict[str, object]]) -> Rig:
    scenario = scenario_data() | {"positions": positions}
    return await open_rig(tmp_path, ManualClock(et(2026, 11, 16, 9, 0)), [], scenario)


@pytest.fixture
async def flat(tmp_path: Path) -> AsyncIterator[Rig]:
    r = await rig_with(tmp_path, [])
    try:
        yield r
    finally:
        await close_rig(r)


@pytest.fixture
async def holding(tmp_path: Path) -> AsyncIterator[Rig]:
    r = await rig_with(tmp_path, [
        {"symbol": "KO", "quantity": 100, "avg_cost": 58.0},
        {"symbol": "JNJ", "quantity": 50, "avg_cost": 150.0},
        {"symbol": "XOM", "quantity": -30, "avg_cost": 110.0},
    ])
    try:
        yield r
    finally:
        await close_rig(r)


def stopped_alert(rig: Rig) -> AlertRecord:
    engine = rig.engines[-1]
    found = [r for r in engine.alerts.records if "stopped" in r.title.lower()]
    assert len(found) == 1, [r.title for r in engine.alerts.records]
    return found[0]


def stopped_event(rig: Rig) -> dict[str, object]:
    [event] = [e for e in rig.events(EventType.SYSTEM)
               if str(e["message"]).startswith("Monitoring stopped")]
    return event


async def test_a_quit_with_nothing_open_is_low(flat: Rig) -> None:
    await flat.start_engine(planned=False)
    await flat.stop_engine()
    alert = stopped_alert(flat)
    assert alert.priority is Severity.LOW
    assert alert.title == "Engine stopped by the trader with no position open"
    assert stopped_event(flat)["severity"] == Severity.INFO.value  # not logged at ERROR


async def test_a_quit_with_positions_open_is_high_and_counts_them(holding: Rig) -> None:
    engine = await holding.start_engine(planned=False)
    await holding.until(lambda: len(engine.ib.positions()) == 3)
    await holding.stop_engine()
    alert = stopped_alert(holding)
    assert alert.priority is Severity.HIGH
    assert alert.title == "Engine stopped by the trader with 3 positions open: not monitored"
    assert stopped_event(holding)["severity"] == Severity.HIGH.value


async def test_a_stop_nobody_asked_for_stays_loud(flat: Rig) -> None:
    await flat.start_engine(planned=False)
    task = flat.task
    assert task is not None
    task.cancel()  # the host died under it: no stop() was asked
    with pytest.raises(BaseException):  # noqa: B017 (CancelledError, whatever the host saw)
        await task
    flat.engine = flat.task = None
    alert = stopped_alert(flat)
    assert alert.priority is Severity.HIGH
    assert alert.title == "weekly-er-tui stopped unexpectedly: positions are no longer monitored"
