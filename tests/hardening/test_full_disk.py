"""A full disk at the Friday close: the close still goes out, records fall back, a person is told.

The data directory is a real tmpfs that the test fills at 15:44:30 on Friday, so every journal and
state write from then on fails as on a full disk (ENOSPC, SQLITE_FULL) through the real code.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.engine.rig import Rig, close_rig, et, fast_connection, open_rig
from tests.fixtures_sim import wait_until
from tests.hardening.disk import SmallDisk, small_disk
from weekly_er_tui.cli.hosting import run_headless
from weekly_er_tui.clock import ManualClock
from weekly_er_tui.engine import TradingEngine
from weekly_er_tui.model import EventType, PlanStatus, Severity


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[SmallDisk]:
    with small_disk(tmp_path / "data") as d:
        yield d


@pytest.fixture
async def rig(tmp_path: Path, disk: SmallDisk) -> AsyncIterator[Rig]:
    r = await open_rig(tmp_path, ManualClock(et(2026, 11, 18, 9, 0)), [
        "AAPL,2026-11-18,AMC,,",  # entry Wed 10:00
        "JNJ,2026-11-19,AMC,,", "NVDA,2026-11-20,BMO,,",  # entries Thu 10:00
    ])
    try:
        yield r
    finally:
        disk.free()
        await close_rig(r)


def flat(rig: Rig, symbols: tuple[str, ...]) -> bool:
    return all(rig.sim_position(s) == 0 for s in symbols)


async def test_a_disk_full_from_15_44_30_friday_still_closes_the_week(
    rig: Rig, disk: SmallDisk, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    await rig.start_engine()
    await rig.enter(et(2026, 11, 18, 10))
    await rig.enter(et(2026, 11, 19, 10))
    held = ("AAPL", "JNJ", "NVDA")
    assert all(rig.sim_position(s) > 0 for s in held)

    rig.manual.set(et(2026, 11, 20, 15, 44, 30))
    assert disk.fill() > 0
    fc = rig.close_state()
    rig.manual.set(fc.close_at)
    await rig.until(lambda: flat(rig, held), timeout=15)
    rig.manual.set(fc.backup_at)
    rig.manual.set(fc.bell)
    await rig.until(lambda: rig.close_state().flat is True, timeout=15)

    # A person is told that records are failing, and where they went.
    critical = [a for a in rig.eng.alerts.records if a.priority is Severity.CRITICAL
                and "records" in a.title.lower()]
    assert critical, [a.title for a in rig.eng.alerts.records]
    assert any("events_log.csv" in a.title for a in critical)
    assert any("weekly_er.sqlite" in a.title for a in critical)
    assert not [r for r in caplog.records if "safety check failed" in r.getMessage()]

    # The disk comes back: what was kept in memory is written out, in order, exactly once.
    disk.free()
    rig.manual.set(fc.bell.replace(minute=fc.bell.minute + 1))
    await rig.until(lambda: rig.has_phase("result") and rig.journaled_all(), timeout=15)
    rows = rig.assert_journal_is_the_simulators()
    assert {r["symbol"] for r in rows if r["reason"] == "FRIDAY_CLOSE"} == set(held)
    assert rig.close_phases()[-1] == "result"
    await rig.until(lambda: rig.eng.store.durable and rig.eng.journal.durable)
    failing = [e for e in rig.events(EventType.SYSTEM) if e["severity"] == "CRITICAL"
               and e["message"].startswith("Records are failing")]
    # This engine logs to no console (as in the app, whose terminal is the screen's): the alert
    # says so, not that the console has them.
    assert failing and all(e["details"]["fallback"] == ["memory"] for e in failing)
    assert "kept in memory only" in failing[0]["message"]
    # The state written while in memory is on disk again: the closes' intents are there.
    closes = [i for i in rig.eng.store.intents() if i.reason == "FRIDAY_CLOSE"]
    assert sorted(i.symbol for i in closes) == sorted(held)


async def test_a_full_disk_refuses_new_entries_but_keeps_the_close(
    rig: Rig, disk: SmallDisk
) -> None:
    await rig.start_engine()
    await rig.enter(et(2026, 11, 18, 10))
    rig.manual.set(et(2026, 11, 19, 9, 59, 30))
    disk.fill()
    await rig.step_to_entry(et(2026, 11, 19, 10))
    await rig.until(lambda: all(rig.entry(s).status is not PlanStatus.PLANNED
                                for s in ("JNJ", "NVDA")), timeout=15)
    await rig.until(lambda: rig.eng.monitor.is_connected)
    for s in ("JNJ", "NVDA"):
        assert rig.entry(s).status is not PlanStatus.ENTERED
        assert rig.sim_position(s) == 0, "an entry whose intent cannot be recorded is not sent"
    assert not [x for x in rig.ours() if x.symbol in ("JNJ", "NVDA")]
    fc = rig.close_state()
    rig.manual.set(fc.close_at)
    await rig.until(lambda: rig.sim_position("AAPL") == 0, timeout=15)


async def test_sigterm_on_a_full_disk_still_stops_cleanly(rig: Rig, disk: SmallDisk) -> None:
    engine = TradingEngine(rig.config, data_dir=rig.data_dir, clock=rig.clock,
                           connection=fast_connection(rig.gw.port))
    rig.engines.append(engine)
    task = asyncio.create_task(run_headless(engine))
    await wait_until(lambda: engine.monitor.is_connected, timeout=15)
    disk.fill()
    engine.journal.event(EventType.SYSTEM, Severity.INFO, "a record the disk refuses " * 1000)
    assert not engine.journal.durable
    os.kill(os.getpid(), signal.SIGTERM)
    assert await asyncio.wait_for(task, 20) == 0
    assert not engine.state.is_running


async def test_the_traders_flatten_on_a_full_disk_closes_everything(
    rig: Rig, disk: SmallDisk
) -> None:
    await rig.start_engine()
    await rig.enter(et(2026, 11, 18, 10))
    rig.manual.set(et(2026, 11, 18, 11))
    disk.fill()
    await rig.eng.flatten("emergency flatten by the trader")
    await rig.until(lambda: rig.sim_position("AAPL") == 0 and rig.sim_position("KO") == 0,
                    timeout=15)
    assert rig.eng.safety.trading_state.value == "HALTED"
    disk.free()
    await rig.until(lambda: rig.eng.store.durable and rig.eng.journal.durable)
    rig.assert_journal_is_the_simulators()
