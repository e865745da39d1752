from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from weekly_er_tui.clock import AcceleratedClock, ManualClock, parse_instant

T0 = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)


async def test_manual_clock_wakes_sleepers_in_time_order() -> None:
    clock = ManualClock(T0)
    woke: list[str] = []

    async def sleeper(name: str, seconds: float) -> None:
        await clock.sleep(seconds)
        woke.append(f"{name}@{(clock.now() - T0).total_seconds():g}")

    tasks = [asyncio.create_task(sleeper("b", 20)), asyncio.create_task(sleeper("a", 10))]
    await asyncio.sleep(0)
    assert clock.next_wakeup == T0 + timedelta(seconds=10)
    clock.advance(15)
    await asyncio.sleep(0)
    assert woke == ["a@15"]
    clock.advance(5)
    await asyncio.gather(*tasks)
    assert woke == ["a@15", "b@20"]


def test_manual_clock_never_runs_backwards() -> None:
    clock = ManualClock(T0)
    with pytest.raises(ValueError, match="never runs backwards"):
        clock.set(T0 - timedelta(seconds=1))


async def test_accelerated_clock_sleep_until_never_wakes_early() -> None:
    clock = AcceleratedClock(T0, speed=3600)
    target = T0 + timedelta(minutes=30)  # half a real second at 3600x
    await clock.sleep_until(target)
    assert clock.now() >= target


def test_naive_instants_are_market_time() -> None:
    assert parse_instant("2026-11-27T12:45:00") == datetime(2026, 11, 27, 17, 45, tzinfo=UTC)
    with pytest.raises(ValueError, match="ISO 8601"):
        parse_instant("next friday")


def test_clock_rejects_naive_start() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        ManualClock(datetime(2026, 11, 23, 10, 0))
