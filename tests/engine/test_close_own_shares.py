"""The Friday close closes what the strategy opened and nothing of the trader's own: the trader's
long and short in the same symbols stay as they were, and shares the trader sold by hand are never
sold again (no position crosses zero)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.engine.rig import Rig, close_rig, et, open_rig, scenario_data
from weekly_er_tui.clock import ManualClock
from weekly_er_tui.model import EventType, FridayPhase

WEEK = ["AAPL,2026-11-19,AMC,,", "XOM,2026-11-20,BMO,,", "JNJ,2026-11-19,AMC,,"]
OWN = [{"symbol": "AAPL", "quantity": 100, "avg_cost": 190.0},
       {"symbol": "XOM", "quantity": -50, "avg_cost": 112.0}]


def scenario() -> dict[str, Any]:
    data = scenario_data()
    data["positions"] = [*data["positions"], *OWN]
    return data


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    r = await open_rig(tmp_path, ManualClock(et(2026, 11, 19, 9, 0)), WEEK, scenario())
    limits = r.config.safety_limits.model_copy(update={"orphan_ignore": ["AAPL", "XOM", "KO"]})
    r.config = r.config.model_copy(update={"safety_limits": limits})
    try:
        yield r
    finally:
        await close_rig(r)


def closes(rig: Rig) -> dict[str, float]:
    """Per symbol, the signed quantity of the engine's closing executions."""
    entries = {e.order_ref for e in rig.plan()}
    out: dict[str, float] = {}
    for x in rig.ours():
        if x.order_ref not in entries:
            out[x.symbol] = out.get(x.symbol, 0.0) + x.signed_qty
    return out


async def test_the_friday_close_leaves_the_traders_own_long_and_short(rig: Rig) -> None:
    await rig.start_engine()
    await rig.enter(et(2026, 11, 19, 10))
    bought = {e.symbol: float(e.quantity) for e in rig.plan()}
    assert all(q > 0 for q in bought.values())
    assert rig.sim_position("AAPL") == 100 + bought["AAPL"]
    assert rig.sim_position("XOM") == -50 + bought["XOM"]

    fc = await rig.friday_close()
    assert closes(rig) == {s: -q for s, q in bought.items()}
    assert (rig.sim_position("AAPL"), rig.sim_position("XOM"), rig.sim_position("JNJ")) == (
        100, -50, 0)
    assert rig.sim_position("KO") == 100
    assert fc.flat is True
    # The screen (and an attached one) sees the close through EngineState.
    assert rig.eng.state.friday_close == fc and rig.eng.state.friday_close.phase is FridayPhase.FLAT
    assert rig.eng.store.tracked_positions() == {}
    assert [e["details"]["flat"] for e in rig.events(EventType.FRIDAY_CLOSE)
            if e["details"].get("phase") == "result"] == [True]
    rig.assert_journal_is_the_simulators()


async def test_shares_the_trader_sold_by_hand_are_not_sold_again(rig: Rig) -> None:
    await rig.start_engine()
    await rig.enter(et(2026, 11, 19, 10))
    jnj = float(rig.entry("JNJ").quantity)
    aapl = float(rig.entry("AAPL").quantity)
    # By hand in TWS: all but 10 of the strategy's JNJ, and the trader's 100 AAPL and 20 more.
    rig.gw.fill_externally("JNJ", -(jnj - 10))
    rig.gw.fill_externally("AAPL", -120)
    await rig.until(lambda: rig.eng.executor.open_positions(["JNJ", "AAPL"]) == {
        "JNJ": 10, "AAPL": aapl - 20})

    fc = await rig.friday_close()
    got = closes(rig)
    assert got["JNJ"] == -10 and got["AAPL"] == -(aapl - 20)
    assert rig.sim_position("JNJ") == 0 and rig.sim_position("AAPL") == 0
    assert rig.sim_position("XOM") == -50
    assert fc.flat is True
    rig.assert_journal_is_the_simulators()
