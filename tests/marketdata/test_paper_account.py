"""A new paper account without market-data subscriptions (notes row 4): the engine falls back to
delayed data, says so once, marks the prices DELAYED, and the week's entries still go out."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import IbLogGuard
from tests.engine.rig import Rig, close_rig, et, open_rig, scenario_data
from weekly_er_tui.clock import ManualClock
from weekly_er_tui.model import EventType, PlanStatus

ENTRY = et(2026, 11, 16, 10)
WEEK = ["MSFT,2026-11-17,BMO,,"]  # entry Monday 10:00 ET


def paper_account(**realism: Any) -> dict[str, Any]:
    data = scenario_data()
    data["realism"] = {"market_data": "delayed", **realism}
    return data


@pytest.fixture
async def rig(tmp_path: Path, ib_log_guard: IbLogGuard) -> AsyncIterator[Rig]:
    ib_log_guard.expect(r"Error 10089")  # IB's refusal of live data, before the fallback
    ib_log_guard.expect(r"Error 162")  # history refused: the correlation grouping asks for it
    r = await open_rig(tmp_path, ManualClock(et(2026, 11, 16, 9, 0)), WEEK, paper_account())
    try:
        yield r
    finally:
        await close_rig(r)


def delayed_quote(rig: Rig, symbol: str) -> tuple[float, float, float]:
    t = rig.clock.now().timestamp() - rig.gw.realism.delayed_data_minutes * 60
    q = rig.gw.market.quote(symbol, t)
    return q.bid, q.ask, q.last


async def test_a_paper_account_without_market_data_enters_on_delayed_prices(rig: Rig) -> None:
    engine = await rig.start_engine()
    rig.manual.set(ENTRY - timedelta(seconds=1))
    # The delayed feed: the market 15 minutes ago, for the plan's symbol and the held KO.
    await rig.until(lambda: engine.portfolio.quote("MSFT") == delayed_quote(rig, "MSFT")
                    and engine.portfolio.quote("KO") == delayed_quote(rig, "KO"))
    bid, ask, last = delayed_quote(rig, "MSFT")
    rig.manual.set(ENTRY)
    await rig.until(lambda: rig.entry("MSFT").status is PlanStatus.ENTERED
                    and rig.journaled_all())
    entry = rig.entry("MSFT")
    sizes = rig.sizes(10_000, (last, (bid + ask) / 2))
    assert entry.quantity in sizes, (entry, sizes)
    assert [x.symbol for x in rig.ours()] == ["MSFT"]

    # Said once: one event and one alert, naming IB's code and what was done.
    said = [e for e in rig.events(EventType.MARKET_DATA) if "10089" in e["message"]]
    assert len(said) == 1, said
    assert "using DELAYED data" in said[0]["message"]
    alerts = [a for a in engine.alerts.records if "10089" in a.title]
    assert len(alerts) == 1 and "DELAYED" in alerts[0].title

    # Prices are marked DELAYED: on the snapshot and in the journal of the entry.
    snap = engine.portfolio.snapshot()
    assert all(p.delayed for p in snap.positions) and {p.symbol for p in snap.positions} == {
        "KO", "MSFT"}
    submitted = [e for e in rig.events(EventType.ORDER_SUBMITTED)
                 if e["details"].get("order_ref") == entry.order_ref]
    assert len(submitted) == 1 and "DELAYED" in submitted[0]["message"]
    assert math.isfinite(engine.portfolio.price("MSFT") or math.nan)


async def test_market_data_type_live_never_falls_back_and_says_why_once(rig: Rig) -> None:
    rig.config = rig.config.model_copy(update={"market_data_type": "live"})
    engine = await rig.start_engine()
    await rig.until(lambda: any("10089" in e["message"]
                                for e in rig.events(EventType.MARKET_DATA)))
    rounds = rig.gw.tick_rounds
    await rig.until(lambda: rig.gw.tick_rounds > rounds + 5)
    assert engine.portfolio.quote("MSFT") == (None, None, None)
    assert engine.portfolio.quote("KO") == (None, None, None)
    said = [e for e in rig.events(EventType.MARKET_DATA) if "10089" in e["message"]]
    assert len(said) == 1 and said[0]["severity"] == "HIGH"
    assert "market_data_type" in said[0]["message"] and "auto" in said[0]["message"]
    assert not engine.portfolio.feed.fell_back


async def test_without_historical_bars_volatility_sizing_uses_the_fixed_notional(
    rig: Rig,
) -> None:
    rig.config = rig.config.model_copy(update={"strategy": rig.config.strategy.model_copy(
        update={"sizing": "volatility"})})
    engine = await rig.start_engine()
    await rig.until(lambda: any("Historical bars are not available" in e["message"]
                                for e in rig.events(EventType.MARKET_DATA)))
    rig.manual.set(ENTRY - timedelta(seconds=1))
    await rig.until(lambda: engine.portfolio.quote("MSFT") == delayed_quote(rig, "MSFT"))
    bid, ask, last = delayed_quote(rig, "MSFT")
    rig.manual.set(ENTRY)
    await rig.until(lambda: rig.entry("MSFT").status is PlanStatus.ENTERED)
    entry = rig.entry("MSFT")
    assert entry.quantity in rig.sizes(10_000, (last, (bid + ask) / 2))
    assert "fixed" in entry.note.lower(), entry.note
    history = [e for e in rig.events(EventType.MARKET_DATA) if "Historical bars" in e["message"]]
    assert len(history) == 1
    assert "IB 162" in history[0]["message"] and "fixed notional" in history[0]["message"]
