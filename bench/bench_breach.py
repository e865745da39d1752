"""Emergency actions on a real gateway's timing: how fast a genuine breach is acted on, and how
many emergencies a lagging account stream causes.

    python bench/bench_breach.py

The TradingEngine against the simulated gateway with the realism profile `real` (account values
0.5 s after a position change and otherwise every 3 minutes, positions 0.2 s after their fill,
P&L once a second), over TCP with the real ib_async client.

- breach_to_first_closing_order: a -15% gap in Technology (71% of the book, 10.6% of net
  liquidation, past the 10% stop) to the first closing order the gateway receives; the median of
  three runs on fresh gateways. Target: under 2 s. Baseline: IB's P&L period (1 s), the figure
  that confirms a price move.
- false_emergencies: sales and buy-backs of 18% of the book, each read in the window where the
  position has changed and the cash has not, counted as emergency closes started. Target: 0.
  Baseline: the same run with the confirmation turned off (what the product did before).
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from weekly_er_tui.broker.connection import ConnectionConfig
from weekly_er_tui.clock import ManualClock
from weekly_er_tui.config import AppConfig
from weekly_er_tui.engine import TradingEngine
from weekly_er_tui.journal import Event
from weekly_er_tui.model import EventType
from weekly_er_tui.safety.manager import PositionSafetyManager
from weekly_er_tui.sim import SimulatedGateway, parse_scenario
from weekly_er_tui.sim.realism import Realism

START = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)  # Monday 10:00 ET, in session
RUNS = 3
TRADES = 10  # sales and buy-backs of the false-emergency run
TARGET_S = 2.0
FAST: dict[str, Any] = {
    "host": "127.0.0.1", "client_id": 7, "heartbeat_interval": 1.0, "heartbeat_timeout": 1.0,
    "connect_timeout": 2.0, "max_reconnect_attempts": 2, "reconnect_delay": 0.2,
    "slow_retry_interval": 0.5,
}  # fmt: skip
LIMITS = {"max_daily_loss": 50_000, "max_position_value": 100_000,
          "max_position_concentration": 0.9, "max_sector_concentration": 0.95}  # fmt: skip


def _scenario(positions: list[dict[str, Any]], cash: float) -> Any:
    return parse_scenario({
        "account": {"id": "DU1000001", "cash": cash},
        "symbols": {
            "AAPL": {"price": 200.0, "sector": "Technology", "volatility": 0.3},
            "MSFT": {"price": 400.0, "sector": "Technology", "volatility": 0.25},
            "JPM": {"price": 200.0, "sector": "Financials", "volatility": 0.22},
            "XOM": {"price": 110.0, "sector": "Energy", "volatility": 0.25},
        },
        "positions": positions,
        "realism": {"profile": "real"},
    })


async def _wait(predicate: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"not met within {timeout} s")
        await asyncio.sleep(0.01)


class _Run:
    def __init__(self, positions: list[dict[str, Any]], cash: float) -> None:
        self.clock = ManualClock(START)
        self.gw = SimulatedGateway(_scenario(positions, cash), self.clock, port=0,
                                   tick_interval=0.05, engine_interval=0.01,
                                   account_interval=1.0, realism=Realism.real())
        self.tmp = tempfile.TemporaryDirectory()
        self.events: list[Event] = []

    async def __aenter__(self) -> _Run:
        await self.gw.start()
        config = AppConfig.model_validate({"ib_port": self.gw.port, "safety_limits": LIMITS})
        self.engine = TradingEngine(config, data_dir=self.tmp.name, clock=self.clock,
                                    connection=ConnectionConfig(port=self.gw.port, **FAST))
        for sym, (qty, _avg) in self.gw.account.positions.items():
            self.engine.store.track_position(sym, qty, "wer-entry-earlier", self.clock.now())
        self.engine.journal.subscribe(self.events.append)
        self.task = asyncio.create_task(self.engine.run())
        safety = self.engine.safety
        await _wait(lambda: self.engine.monitor.is_connected and safety.last_report is not None,
                    10)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.engine.stop()
        await asyncio.wait_for(self.task, 10)
        self.engine.close()
        await self.gw.stop()
        self.tmp.cleanup()

    def emergencies(self) -> int:
        return sum(1 for e in self.events
                   if e.event_type is EventType.EMERGENCY_CLOSE and "started" in e.message)


async def _breach_once() -> float:
    tech_heavy = [{"symbol": "AAPL", "quantity": 300, "avg_cost": 180.0},
                  {"symbol": "MSFT", "quantity": 100, "avg_cost": 380.0},
                  {"symbol": "JPM", "quantity": 50, "avg_cost": 190.0},
                  {"symbol": "XOM", "quantity": 100, "avg_cost": 105.0}]  # fmt: skip
    async with _Run(tech_heavy, 20_000) as run:
        first: list[float] = []
        run.gw.add_listener(lambda ev: first.append(time.monotonic())
                            if ev.kind == "order" and not first else None)
        t0 = time.monotonic()
        run.gw.price_shock(-15, sector="Technology")
        await _wait(lambda: first, 10)
        return first[0] - t0


async def _false_emergencies() -> int:
    book = [{"symbol": "AAPL", "quantity": 130, "avg_cost": 180.0},
            {"symbol": "JPM", "quantity": 50, "avg_cost": 190.0},
            {"symbol": "XOM", "quantity": 100, "avg_cost": 105.0}]  # fmt: skip
    async with _Run(book, 100_000) as run:
        for _ in range(TRADES):
            for qty in (-130, 130):  # 18% of the book out, then back in
                before = run.gw.account.cash
                run.gw.fill_externally("AAPL", qty)
                await _wait(lambda b=before: run.engine.portfolio.snapshot().total_cash != b, 5)
                n = run.engine.safety.checks_run
                run.engine.safety.request_check()
                await _wait(lambda n=n: run.engine.safety.checks_run > n, 5)
            if run.emergencies():
                break
        return run.emergencies()


async def _run() -> list[dict[str, Any]]:
    took = [await _breach_once() for _ in range(RUNS)]
    median = statistics.median(took)
    false_now = await _false_emergencies()
    confirmer = PositionSafetyManager._breach_confirmer
    PositionSafetyManager._breach_confirmer = lambda self: None  # type: ignore[method-assign]
    try:
        false_before = await _false_emergencies()
    finally:
        PositionSafetyManager._breach_confirmer = confirmer  # type: ignore[method-assign]
    return [
        {"name": "breach_to_first_closing_order", "value": round(median, 3), "unit": "s",
         "baseline": 1.0, "ratio": round(median / 1.0, 2), "target": f"< {TARGET_S:g} s",
         "met": median < TARGET_S,
         "note": "runs " + ", ".join(f"{t:.2f}" for t in took)},
        {"name": "false_emergencies", "value": false_now, "unit": "",
         "baseline": false_before, "ratio": None, "target": "0", "met": false_now == 0,
         "note": f"{2 * TRADES} trades of 18% of the book; baseline without the confirmation"},
    ]


def run() -> list[dict[str, Any]]:
    """One row per measurement: name, value, unit, baseline, ratio, target, met (and a note)."""
    return asyncio.run(_run())


if __name__ == "__main__":
    for row in run():
        print(row)
