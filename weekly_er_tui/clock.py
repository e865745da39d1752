"""Time for the whole engine: a wall clock, an accelerated clock and a manual clock.

Nothing in the engine, the strategy or the simulator reads the wall clock directly. What the
market schedules (entries, the Friday close, session boundaries) follows a `Clock`, so a test can
run a trading week in seconds. What guards the network (socket timeouts, reconnect delays) stays in
real seconds and does not use this module.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable
from zoneinfo import ZoneInfo

ET = ZoneInfo("America/New_York")


@runtime_checkable
class Clock(Protocol):
    """The source of market time. `now()` is always timezone-aware (UTC)."""

    def now(self) -> datetime: ...

    async def sleep(self, seconds: float) -> None:
        """Wait `seconds` of this clock's time."""

    async def sleep_until(self, when: datetime) -> None:
        """Wait until `now() >= when` (returns at once when that is already so)."""

    @property
    def speed(self) -> float:
        """Clock seconds per real second (1 for the wall clock; 0 for a manual clock)."""


def _aware(when: datetime) -> datetime:
    if when.tzinfo is None:
        raise ValueError(f"clock instants must be timezone-aware (got naive {when.isoformat()})")
    return when.astimezone(UTC)


class WallClock:
    """Real time."""

    speed = 1.0

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))

    async def sleep_until(self, when: datetime) -> None:
        await self.sleep((_aware(when) - self.now()).total_seconds())


class AcceleratedClock:
    """Starts at `start` and runs `speed` times faster than real time.

    At speed 1 it is a wall clock shifted to `start`: that is what the demo uses so that it shows a
    live trading session at any time of day.

    With `epoch` (a real wall-clock instant) the clock reads `start` at `epoch` rather than at its
    creation: processes given the same start, speed and epoch (the engine and a standalone
    simulated gateway, `--clock-epoch`) share one simulated clock, whenever each started.
    """

    def __init__(self, start: datetime, speed: float = 1.0,
                 epoch: datetime | None = None) -> None:
        if speed <= 0:
            raise ValueError(f"clock speed must be greater than 0 (got {speed})")
        self._start = _aware(start)
        self._speed = float(speed)
        # The monotonic instant of `epoch` (or of now): the wall clock is read once, so a later
        # jump of the wall clock (NTP) does not move this clock.
        since_epoch = 0.0 if epoch is None else time.time() - _aware(epoch).timestamp()
        self._t0 = time.monotonic() - since_epoch

    @property
    def speed(self) -> float:
        return self._speed

    def now(self) -> datetime:
        elapsed = (time.monotonic() - self._t0) * self._speed
        return self._start + timedelta(seconds=elapsed)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds) / self._speed)

    async def sleep_until(self, when: datetime) -> None:
        # Re-check after waking: the monotonic clock and the loop's timer can disagree by a few
        # microseconds, and a caller that waits for an instant must never wake before it.
        target = _aware(when)
        while (remaining := (target - self.now()).total_seconds()) > 0:
            await asyncio.sleep(remaining / self._speed)


class ManualClock:
    """A clock that moves only when told to: `advance()` or `set()`.

    Sleepers wake in time order as the clock passes their instant, so a test can step through a
    whole week deterministically.
    """

    speed = 0.0

    def __init__(self, start: datetime) -> None:
        self._now = _aware(start)
        self._sleepers: list[tuple[datetime, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def now(self) -> datetime:
        return self._now

    async def sleep(self, seconds: float) -> None:
        await self.sleep_until(self._now + timedelta(seconds=max(0.0, seconds)))

    async def sleep_until(self, when: datetime) -> None:
        target = _aware(when)
        if target <= self._now:
            await asyncio.sleep(0)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (target, next(self._seq), fut))
        await fut

    def set(self, when: datetime) -> None:
        target = _aware(when)
        if target < self._now:
            raise ValueError(
                f"a clock never runs backwards (now {self._now.isoformat()}, "
                f"asked for {target.isoformat()})"
            )
        self._now = target
        while self._sleepers and self._sleepers[0][0] <= self._now:
            _, _, fut = heapq.heappop(self._sleepers)
            if not fut.done():
                fut.set_result(None)

    def advance(self, seconds: float) -> None:
        self.set(self._now + timedelta(seconds=seconds))

    @property
    def next_wakeup(self) -> datetime | None:
        """The earliest instant a sleeper waits for, if any."""
        while self._sleepers and self._sleepers[0][2].done():
            heapq.heappop(self._sleepers)
        return self._sleepers[0][0] if self._sleepers else None


def parse_instant(text: str) -> datetime:
    """Parse an ISO 8601 instant; a naive one is taken as America/New_York (the market's zone)."""
    try:
        when = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(
            f"{text!r} is not an ISO 8601 instant; use for example 2026-11-23T10:30:00-05:00"
        ) from exc
    if when.tzinfo is None:
        when = when.replace(tzinfo=ET)
    return when.astimezone(UTC)
