"""PositionSafetyManager.evaluate over a real Store, without a gateway."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from weekly_er_tui.clock import ManualClock
from weekly_er_tui.config import SafetyLimits
from weekly_er_tui.model import PortfolioSnapshot, Position
from weekly_er_tui.order_life import ExecutionRecord
from weekly_er_tui.safety import PositionSafetyManager
from weekly_er_tui.store import Store

T0 = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)


def snap(nlv: float, *symbols: str) -> PortfolioSnapshot:
    positions = tuple(
        Position(s, 10, 100.0, 100.0, 1000.0, 0.0, sector="Tech", price_time=T0)
        for s in symbols
    )
    return PortfolioSnapshot(T0, "DU1", nlv, nlv - 1000.0 * len(symbols),
                             1000.0 * len(symbols), daily_pnl=0.0, positions=positions)


def orphans(report: object) -> list[str]:
    return [s for v in report.violations if v.rule == "orphaned_position"  # type: ignore[attr-defined]
            for s in v.symbols]


def test_an_entry_is_not_an_orphan_from_its_execution_on(tmp_path: Path) -> None:
    """The execution counts the entry as the strategy's at once, before its commission report
    (which can trail it): the safety check needs no allowance for entries "on their way"."""
    store = Store.in_data_dir(tmp_path)
    safety = PositionSafetyManager(SafetyLimits(), store=store, clock=ManualClock(T0))
    store.record_intent("wer-entry-ORCL", "ORCL", "BUY", 10, "MKT", "ENTRY", T0)
    store.update_intent("wer-entry-ORCL", "SUBMITTED", T0, order_id=5)
    store.apply_execution(ExecutionRecord("e.01.01", "wer-entry-ORCL", "ORCL", 10, 100.0,
                                          T0.isoformat()), T0)
    assert orphans(safety.evaluate(snap(100_000, "ORCL"))) == []
    # A position nothing of the strategy's explains is an orphan.
    assert orphans(safety.evaluate(snap(100_000, "ORCL", "NFLX"))) == ["NFLX"]


def test_high_water_mark_is_persisted_in_steps_not_per_tick(tmp_path: Path) -> None:
    store = Store.in_data_dir(tmp_path)
    limits = SafetyLimits(stop_loss_baseline="high_water")
    safety = PositionSafetyManager(limits, store=store, clock=ManualClock(T0))
    assert safety.baseline(snap(100_000)) == 100_000
    safety.baseline(snap(100_050))  # +0.05%: a new high in memory only
    assert safety.baseline(snap(100_000)) == 100_050
    assert store.baseline("high_water_nlv", "2026-W48") == 100_000
    safety.baseline(snap(100_200))  # +0.2% over the persisted high: written
    assert store.baseline("high_water_nlv", "2026-W48") == 100_200
    # A restart reads the persisted values.
    again = PositionSafetyManager(limits, store=store, clock=ManualClock(T0))
    assert again.baseline(snap(90_000)) == 100_200
