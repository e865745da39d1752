"""The enhancement guide's standalone API, kept under the guide's names for the trader's
procedures (`PositionSafetyManager(limits)`, then `perform_safety_check(ib)` and
`emergency_close_all_positions(ib)` on any ib_async.IB).

Inside the engine the manager is wired to the engine's own parts and these calls use them; on
their own they build what they need on `ib` once and keep it.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

from weekly_er_tui.journal import Journal
from weekly_er_tui.model import TradingState
from weekly_er_tui.safety.initial_sync import INITIAL_SYNC_WAIT_S
from weekly_er_tui.store import Store

if TYPE_CHECKING:
    from weekly_er_tui.safety.manager import PositionSafetyManager


async def tracker_for(safety: PositionSafetyManager, ib: Any) -> Any:
    """The engine's tracker, or (standalone) one of our own on `ib`, made and resynced once
    and kept: it follows ib's events from then on (a new one per call would subscribe
    everything again and leak handlers; ib_async refuses a second reqPnL)."""
    from weekly_er_tui.broker.portfolio import PortfolioTracker

    if safety.portfolio is not None:
        return safety.portfolio
    tracker = safety.standalone_tracker
    if tracker is None or tracker.ib is not ib:
        if tracker is not None:
            tracker.detach()
        tracker = safety.standalone_tracker = PortfolioTracker(ib, safety.clock)
        await tracker.resync(ib)
    elif (tracker.account, "") not in ib.wrapper.pnlKey2ReqId:
        await tracker.resync(ib)  # ib reconnected since: its subscriptions are gone
    return tracker


async def perform_safety_check(safety: PositionSafetyManager, ib: Any) -> dict[str, Any]:
    """One check over an ib_async.IB's current state; the documented dict form. Right after a
    connect it waits (up to INITIAL_SYNC_WAIT_S real seconds) for the account's download, which
    ib_async may have stopped waiting for; still incomplete, the dict says what is missing
    (`initial_sync_missing`) beside the figures of what arrived."""
    tracker = await tracker_for(safety, ib)
    missing = await wait_initial_sync(tracker, INITIAL_SYNC_WAIT_S)
    report = safety.evaluate(tracker.snapshot())
    safety.last_report, safety.last_check = report, safety.clock.now()
    out = report.to_dict()
    if missing:
        out["initial_sync_missing"] = list(missing)
    return out


async def wait_initial_sync(tracker: Any, timeout: float) -> tuple[str, ...]:
    """Wait (real seconds, bounded) until the tracker has the connect's whole account; what is
    still missing then (nothing: complete)."""
    missing: tuple[str, ...] = tracker.initial_sync_missing()
    if not missing:
        return ()
    arrived = asyncio.Event()
    tracker.on_change(arrived.set)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while missing and loop.time() < deadline:
        arrived.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(arrived.wait(), max(0.0, deadline - loop.time()))
        missing = tracker.initial_sync_missing()
    return missing


async def emergency_close_all_positions(safety: PositionSafetyManager, ib: Any
                                        ) -> dict[str, Any]:
    """Cancel every order and close every position on `ib`; {closed, failed, remaining}."""
    from weekly_er_tui.broker.stack import build_broker_stack

    if safety.executor is not None:
        return dict((await safety.executor.flatten("EMERGENCY")).to_dict())
    # Standalone: order intents in our store, or in memory for the length of this call
    # (the documented PositionSafetyManager(limits) has none); fills journaled as always.
    tracker = await tracker_for(safety, ib)
    store = safety.store if safety.store is not None else Store(":memory:")
    journal = safety.journal if safety.journal is not None else Journal(".", safety.clock)
    stack = build_broker_stack(
        ib, safety.clock, store, journal, safety.limits, portfolio=tracker,
        trading_state=lambda: TradingState.HALTED, market_open=lambda: True,
    )
    try:
        result = await stack.executor.flatten("EMERGENCY")
        await stack.fills.resync(ib)  # every closing fill, whether its commission came or not
    finally:
        stack.close()
        if store is not safety.store:
            store.close()
        if journal is not safety.journal:
            journal.close()
    return dict(result.to_dict())
