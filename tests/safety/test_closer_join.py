"""A request that joins a running close never cancels the close's own working orders.

The merged close re-plans (the running attempt is stopped and a new one starts), and its closing
orders may be half filled at that moment. A global cancel then would cancel them and the next
attempt would send the rest again: 1.5x every position sent, which the closers-together test saw
on a loaded machine in 2 runs of 6. The executor here records what it is asked (a stand-in for
the broker: what is checked is the closer's own decision, deterministically)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from tests.engine.rig import et
from weekly_er_tui.broker.closing import CloseRequest
from weekly_er_tui.broker.orders import FlattenResult
from weekly_er_tui.clock import ManualClock
from weekly_er_tui.journal import Journal
from weekly_er_tui.safety.closer import Closer


class RecordingExecutor:
    """Records every flatten; each one waits until the test lets it finish."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.release = asyncio.Event()
        self.called = asyncio.Event()

    def open_positions(self, symbols: Any = None) -> dict[str, float]:
        return {"AAPL": 100.0, "XOM": -50.0}

    def working_orders(self, symbols: Any = None) -> list[Any]:
        return []

    async def cancel_orders(self, trades: Any, timeout: float = 10.0) -> bool:
        self.calls.append({"cancel": list(trades)})
        return True

    async def flatten(self, reason: str = "EMERGENCY", symbols: Any = None, *,
                      owned: Any = None, cancel_first: bool = True, why: str = "") -> FlattenResult:
        self.calls.append({"reason": reason, "symbols": symbols, "cancel_first": cancel_first})
        self.called.set()
        await self.release.wait()
        return FlattenResult(closed=("AAPL", "XOM"), failed=(), remaining=(),
                             working_orders=0, seconds=0.0)


async def test_a_joining_request_reruns_the_close_without_cancelling_its_orders(
    tmp_path: Path,
) -> None:
    clock = ManualClock(et(2026, 11, 20, 15, 45))
    journal = Journal(tmp_path, clock)
    executor = RecordingExecutor()
    closer = Closer(executor, journal, clock)  # type: ignore[arg-type]
    try:
        first = asyncio.create_task(closer.close(CloseRequest("EMERGENCY", "emergency stop")))
        await asyncio.wait_for(executor.called.wait(), 5)
        executor.called.clear()
        joined = asyncio.create_task(closer.close(CloseRequest(
            "FRIDAY_CLOSE", "Friday close", owned=lambda: {"AAPL": 43.0})))
        await asyncio.wait_for(executor.called.wait(), 5)
        executor.release.set()
        results = await asyncio.wait_for(asyncio.gather(first, joined), 5)
    finally:
        journal.close()
    assert [c["cancel_first"] for c in executor.calls] == [True, False]
    assert results[0] is results[1] and results[0].flat


async def test_the_backup_joining_a_slow_close_cancels_it_and_sends_again(tmp_path: Path) -> None:
    """The Friday close's backup is the one joiner that asks for its orders to be replaced: the
    close's orders are too slow for the bell."""
    clock = ManualClock(et(2026, 11, 20, 15, 55))
    journal = Journal(tmp_path, clock)
    executor = RecordingExecutor()
    closer = Closer(executor, journal, clock)  # type: ignore[arg-type]
    owned = lambda: {"AAPL": 43.0}  # noqa: E731
    try:
        first = asyncio.create_task(closer.close(CloseRequest(
            "FRIDAY_CLOSE", "Friday close", owned=owned, cancel_first=False)))
        await asyncio.wait_for(executor.called.wait(), 5)
        executor.called.clear()
        backup = asyncio.create_task(closer.close(CloseRequest(
            "FRIDAY_CLOSE", "Friday close backup", owned=owned, cancel_first=True,
            resend=True)))
        await asyncio.wait_for(executor.called.wait(), 5)
        executor.release.set()
        await asyncio.wait_for(asyncio.gather(first, backup), 5)
    finally:
        journal.close()
    assert [c["cancel_first"] for c in executor.calls] == [False, True]
