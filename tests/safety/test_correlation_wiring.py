"""Correlation-aware exposure: groups from daily bars reach the rules (and the gate)."""

from __future__ import annotations

import asyncio
import math
from datetime import UTC, datetime
from pathlib import Path

from tests.fixtures_sim import wait_until
from weekly_er_tui.broker.connection import ConnectionConfig
from weekly_er_tui.clock import ManualClock
from weekly_er_tui.config import AppConfig, SafetyLimits
from weekly_er_tui.engine import TradingEngine
from weekly_er_tui.model import PortfolioSnapshot, Position
from weekly_er_tui.safety import PositionSafetyManager
from weekly_er_tui.sim import SimulatedGateway
from weekly_er_tui.store import Store

T0 = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)


def wave(phase: float, n: int = 40) -> list[float]:
    return [100.0 * (1 + 0.02 * math.sin(i * 0.7 + phase)) for i in range(n)]


async def test_groups_from_daily_bars_make_a_medium_violation(tmp_path: Path) -> None:
    store = Store.in_data_dir(tmp_path)
    limits = SafetyLimits(max_correlated_weight=0.30)
    safety = PositionSafetyManager(limits, store=store, clock=ManualClock(T0))
    series = {"AAA": wave(0.0), "BBB": wave(0.05), "CCC": wave(2.5)}

    async def closes(symbol: str) -> list[float]:
        if symbol == "DDD":
            raise TimeoutError("no bars")
        return series[symbol]

    groups = await safety.refresh_correlations(["AAA", "BBB", "CCC", "DDD"], closes)
    assert groups == [("AAA", "BBB")]  # AAA and BBB move together; CCC does not; DDD unknown
    assert safety.correlation_symbols == ("AAA", "BBB", "CCC")
    for s in ("AAA", "BBB", "CCC"):
        store.track_position(s, 10, "r", T0)
    positions = tuple(Position(s, 10, 100.0, 100.0, v, 0.0, sector=f"S{s}", price_time=T0)
                      for s, v in (("AAA", 20_000.0), ("BBB", 20_000.0), ("CCC", 5_000.0)))
    snap = PortfolioSnapshot(T0, "DU1", 100_000.0, 55_000.0, 45_000.0, daily_pnl=0.0,
                             positions=positions)
    report = safety.evaluate(snap)
    hits = [v for v in report.violations if v.rule == "correlated_exposure"]
    assert len(hits) == 1 and hits[0].symbols == ("AAA", "BBB")
    assert hits[0].severity.value == "MEDIUM" and math.isclose(hits[0].value, 0.40)


async def test_the_engine_groups_held_symbols_after_connecting(
    gateway: SimulatedGateway, manual_clock: ManualClock, tmp_path: Path
) -> None:
    engine = TradingEngine(
        AppConfig(), data_dir=tmp_path, clock=manual_clock,
        connection=ConnectionConfig(port=gateway.port, connect_timeout=2.0),
    )
    task = asyncio.create_task(engine.run())
    try:
        await wait_until(lambda: engine.safety.correlation_symbols == ("AAPL", "JPM", "XOM"),
                         timeout=10)
        # The simulator's symbols walk independently: nothing is grouped.
        assert engine.safety.correlated_groups == []
    finally:
        await engine.stop()
        await task
        engine.close()
