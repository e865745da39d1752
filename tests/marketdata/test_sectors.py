"""Sectors before orders: the gate knows a new symbol's sector (IB's contract details, cached in
the state database with their date) before it accepts an entry, and refuses one that takes a
sector over its limit or whose sector cannot be found."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from ib_async import IB

from tests.engine.rig import Rig, close_rig, et, open_rig, scenario_data
from weekly_er_tui.broker.pacing import RequestPacer
from weekly_er_tui.broker.sectors import SectorBook
from weekly_er_tui.clock import ManualClock
from weekly_er_tui.model import PlanStatus
from weekly_er_tui.sim import SimulatedGateway
from weekly_er_tui.store import Store

ENTRY = et(2026, 11, 16, 10)


def technology_at_29_percent() -> dict[str, Any]:
    """$1M: AAPL and NVDA (Technology) are 29% of it, the rest cash."""
    data = scenario_data()
    data["account"]["cash"] = 710_000
    data["positions"] = [{"symbol": "AAPL", "quantity": 725, "avg_cost": 200.0},
                         {"symbol": "NVDA", "quantity": 1035, "avg_cost": 140.0}]
    data["symbols"]["ZZZ"] = {"price": 50.0, "sector": "Unknown",
                               "volatility": 0.3}  # details without a real industry
    return data


async def rig_for(tmp_path: Path, rows: list[str], **limits: Any) -> Rig:
    rig = await open_rig(tmp_path, ManualClock(et(2026, 11, 16, 9, 0)), rows,
                         technology_at_29_percent())
    safety = rig.config.safety_limits.model_copy(update={"max_position_value": 100_000, **limits})
    rig.config = rig.config.model_copy(update={"safety_limits": safety})
    return rig


@pytest.fixture
async def rigs() -> AsyncIterator[list[Rig]]:
    made: list[Rig] = []
    try:
        yield made
    finally:
        for r in made:
            await close_rig(r)


async def test_an_entry_that_takes_a_sector_over_its_limit_is_refused(
    tmp_path: Path, rigs: list[Rig]
) -> None:
    # MSFT (Technology, not held) for $86,000: Technology 29% -> 37.6% against a 30% limit.
    rig = await rig_for(tmp_path, ["MSFT,2026-11-17,BMO,,86000"])
    rigs.append(rig)
    engine = await rig.start_engine()
    # The plan's sectors were fetched when the plan was made, and saved with their date.
    saved = engine.store.contract_details()
    assert saved["MSFT"][1:] == ("Technology", date(2026, 11, 16))
    assert engine.portfolio.known_sector("MSFT") == "Technology"
    await rig.step_to_entry(ENTRY)
    await rig.until(lambda: rig.entry("MSFT").status is PlanStatus.DENIED)
    note = rig.entry("MSFT").note
    assert "sector Technology weight after fill 3" in note
    assert "over max_sector_concentration 30%" in note
    assert not rig.ours()  # nothing was sent


@pytest.mark.parametrize("override", [None, "Materials"])
async def test_a_symbol_whose_sector_cannot_be_found_is_refused_unless_overridden(
    tmp_path: Path, rigs: list[Rig], override: str | None
) -> None:
    rig = await rig_for(tmp_path, ["ZZZ,2026-11-17,BMO,,"],
                        sector_overrides={"ZZZ": override} if override else {})
    rigs.append(rig)
    engine = await rig.start_engine()
    await rig.step_to_entry(ENTRY)
    if override is None:
        await rig.until(lambda: rig.entry("ZZZ").status is PlanStatus.DENIED)
        note = rig.entry("ZZZ").note
        assert "sector of ZZZ is not known" in note and "sector_overrides" in note
        assert "industry" in engine.portfolio.sectors.why_unknown["ZZZ"]
        assert not rig.ours()
    else:
        await rig.until(lambda: rig.entry("ZZZ").status is PlanStatus.ENTERED)
        assert engine.portfolio.known_sector("ZZZ") == "Materials"


async def test_a_restart_takes_sectors_from_the_state_database(
    tmp_path: Path, rigs: list[Rig]
) -> None:
    rig = await rig_for(tmp_path, ["MSFT,2026-11-17,BMO,,5000"])
    rigs.append(rig)
    await rig.start_engine()
    asked = list(rig.gw.contract_details_asked)
    assert {"AAPL", "NVDA", "MSFT"} <= set(asked)
    await rig.stop_engine()
    engine = await rig.start_engine()
    assert rig.gw.contract_details_asked == asked  # not one request more
    assert {s: engine.portfolio.known_sector(s) for s in ("AAPL", "NVDA", "MSFT")} == {
        s: "Technology" for s in ("AAPL", "NVDA", "MSFT")}


async def test_sectors_older_than_a_week_are_asked_again(
    gateway: SimulatedGateway, ib: IB, manual_clock: ManualClock, tmp_path: Path
) -> None:
    store = Store(tmp_path / "state.sqlite")
    today = manual_clock.now().date()
    store.save_contract_details("MSFT", 1, "Stale Sector", today - timedelta(days=8))
    store.save_contract_details("JPM", 2, "Banks Cached", today - timedelta(days=6))
    book = SectorBook(ib, manual_clock, RequestPacer(), store=store)
    assert await book.sector_of("JPM") == "Banks Cached"  # young enough: not asked
    assert await book.sector_of("MSFT") == "Technology"
    assert gateway.contract_details_asked == ["MSFT"]
    assert store.contract_details()["MSFT"][1:] == ("Technology", today)
    store.close()
