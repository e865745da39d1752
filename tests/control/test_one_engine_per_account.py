"""Two engines on one account (two data directories, `client_id_fallback` 2, as a trader who
started the app twice would have): one trades, the other refuses and names the process and the
data directory that hold the account. Every entry is bought once."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from tests.conftest import IbLogGuard
from tests.engine.rig import (
    CLIENT_ID,
    LINK_FAULT_LOGS,
    Rig,
    close_rig,
    et,
    fast_connection,
    open_rig,
)
from tests.fixtures_sim import wait_until
from weekly_er_tui.clock import ManualClock
from weekly_er_tui.control.lock import AccountLock, AccountLocked
from weekly_er_tui.engine import TradingEngine
from weekly_er_tui.model import EventType, PlanStatus

WEEK = ["AAPL,2026-11-16,AMC,,", "MSFT,2026-11-17,BMO,,"]


@pytest.fixture
async def rig(tmp_path: Path, ib_log_guard: IbLogGuard) -> AsyncIterator[Rig]:
    for pattern in LINK_FAULT_LOGS:
        ib_log_guard.expect(pattern)
    ib_log_guard.expect("clientId|client id|Error 326")
    r = await open_rig(tmp_path, ManualClock(et(2026, 11, 16, 9, 30)), WEEK)
    try:
        yield r
    finally:
        await close_rig(r)


def second_engine(rig: Rig, **config: object) -> TradingEngine:
    conn = replace(fast_connection(rig.gw.port), client_id_fallback=2)
    engine = TradingEngine(rig.config.model_copy(update=config),
                           data_dir=rig.data_dir.parent / "second", clock=rig.clock,
                           connection=conn)
    rig.engines.append(engine)
    return engine


@pytest.mark.parametrize("configured", [True, False], ids=["account-configured",
                                                           "account-from-the-login"])
async def test_a_second_engine_on_the_account_refuses_and_says_who_holds_it(
    rig: Rig, configured: bool
) -> None:
    first = await rig.start_engine()
    second = second_engine(rig, **({} if configured else {"account": ""}))
    task = asyncio.create_task(second.run(), name="second engine")
    try:
        await asyncio.wait_for(asyncio.shield(task), 20)
    except TimeoutError:
        pass  # still running: it trades too (the defect); the entries below show it
    await rig.fresh_prices(["AAPL", "MSFT"])
    await rig.enter(et(2026, 11, 16, 10))
    entries = {e.order_ref for e in rig.plan()}
    # Each entry reached the gateway once: one engine traded.
    sent = [r for r in rig.gw.order_refs_received if r in entries]
    assert sorted(sent) == sorted(entries), rig.gw.order_refs_received
    assert all(e.status is PlanStatus.ENTERED for e in first.strategy.plan)

    assert task.done(), "the second engine is still running"
    assert str(os.getpid()) in second.refused
    assert str(rig.data_dir.absolute()) in second.refused
    assert "does not trade" in second.refused and "weekly-er-tui attach" in second.refused
    assert not [x for x in rig.gw.executions if x.client_id != CLIENT_ID]
    await wait_until(lambda: rig.gw.clients == [CLIENT_ID], timeout=10)
    # The refusal is journaled in its own data directory, CRITICAL, and alerted.
    events = (rig.data_dir.parent / "second" / "logs" / "events_log.csv").read_text()
    assert "Not trading: account" in events and "engine_refused" in events
    assert EventType.SYSTEM.value in events


def test_the_lock_is_dropped_with_its_holder(tmp_path: Path) -> None:
    """A stopped (or dead: the kernel drops the flock) engine leaves the account free."""
    a = AccountLock("DU1", tmp_path / "a")
    b = AccountLock("DU1", tmp_path / "b")
    a.acquire()
    with pytest.raises(AccountLocked) as refused:
        b.acquire()
    assert str(tmp_path / "a") in str(refused.value) and str(os.getpid()) in str(refused.value)
    a.release()
    b.acquire()
    assert b.held
    b.release()


async def test_an_engine_on_another_machine_refuses_when_our_orders_work_that_it_never_sent(
    rig: Rig, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The lock covers one machine. An engine elsewhere (its own lock directory, its own data
    directory) finds, at connect, working orders with this app's orderRefs that its data
    directory never recorded: another engine trades the account, and it refuses to trade."""
    first = await rig.start_engine()
    rig.gw.partial_fills(2, interval=3600)  # the entries stay working, half filled
    rig.manual.set(et(2026, 11, 16, 10))
    await rig.until(lambda: len([o for o in rig.gw.open_orders() if o.order_ref]) == 2)
    working = sorted(o.order_ref for o in rig.gw.open_orders())

    monkeypatch.setenv("WEEKLY_ER_TUI_RUNTIME_DIR", str(tmp_path / "another-machine"))
    second = second_engine(rig)
    task = asyncio.create_task(second.run(), name="second engine")
    await asyncio.wait_for(asyncio.shield(task), 20)

    assert "another weekly-er-tui engine trades this account" in second.refused.lower(), \
        second.refused
    assert all(ref in second.refused for ref in working), second.refused
    assert not [r for r in rig.gw.order_refs_received if r not in working]
    assert first.refused == ""
    events = (rig.data_dir.parent / "second" / "logs" / "events_log.csv").read_text()
    assert "Not trading" in events and "engine_refused" in events
