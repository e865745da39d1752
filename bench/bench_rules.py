"""How long one safety evaluation takes, for 20, 200 and 2,000 positions.

    python bench/bench_rules.py

The baseline is measured in the same run over the same positions: a bare loop summing abs market
values (the least any evaluation must do), so the ratio says what the rules cost on this machine.
Target: one evaluation of 200 positions under 1 ms; 2,000 under 10 ms (linear). The pre-trade gate
is timed too, for one order against the same accounts.
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from weekly_er_tui.config import SafetyLimits
from weekly_er_tui.model import PortfolioSnapshot, Position, TradingState
from weekly_er_tui.risk.gate import MarketQuote, OrderIntent, check_order
from weekly_er_tui.risk.rules import evaluate

NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
SECTORS = [
    "Technology", "Health Care", "Financials", "Energy", "Industrials", "Utilities",
    "Materials", "Real Estate", "Consumer Staples", "Consumer Discretionary", "Communication",
]  # fmt: skip
SIZES = (20, 200, 2000)


def account(n: int, seed: int = 5) -> PortfolioSnapshot:
    """n positions of $2k-$60k in an account of a fitting size: a busy case, not a quiet one.

    About a sixth are over max_position_value and a sixth have stale prices, so each evaluation
    also builds dozens of violations and their messages.
    """
    rng = random.Random(seed)
    positions = []
    for i in range(n):
        price = rng.uniform(5, 500)
        qty = float(max(1, round(rng.uniform(2_000, 60_000) / price)))
        if rng.random() < 0.1:
            qty = -qty
        value = qty * price
        positions.append(
            Position(
                symbol=f"S{i:04d}",
                quantity=qty,
                avg_cost=price * rng.uniform(0.9, 1.1),
                market_price=price,
                market_value=value,
                unrealized_pnl=value * rng.uniform(-0.1, 0.1),
                sector=SECTORS[i % len(SECTORS)],
                daily_pnl=value * rng.uniform(-0.03, 0.03),
                price_time=NOW - timedelta(seconds=rng.uniform(0, 150)),
            )
        )
    gross = sum(abs(p.market_value) for p in positions)
    return PortfolioSnapshot(
        timestamp=NOW,
        account="DU000001",
        net_liquidation=gross * 1.2,
        total_cash=gross * 0.3,
        gross_position_value=gross,
        daily_pnl=sum(p.daily_pnl or 0.0 for p in positions),
        positions=tuple(positions),
    )


def _median_ms(fn: Callable[[], object], *, budget_s: float = 0.4) -> float:
    """Median of repeated timings, each of enough calls to last about a millisecond or more."""
    start = time.perf_counter()
    fn()
    once = max(time.perf_counter() - start, 1e-7)
    calls = max(1, int(0.002 / once))
    samples: list[float] = []
    deadline = time.perf_counter() + budget_s
    while len(samples) < 5 or (time.perf_counter() < deadline and len(samples) < 200):
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        samples.append((time.perf_counter() - t0) / calls * 1000.0)
    return statistics.median(samples)


def _rows(n: int, limits: SafetyLimits) -> list[dict[str, Any]]:
    snapshot = account(n)
    tracked = [p.symbol for p in snapshot.positions]
    groups = [tuple(tracked[i : i + 3]) for i in range(0, min(n, 30), 3)]
    baseline_nlv = snapshot.net_liquidation * 1.05
    intent = OrderIntent("NEW", "BUY", 100, "LMT", 50.0, "bench-1", "ENTRY", "Technology")
    quote = MarketQuote(bid=49.9, ask=50.0, last=49.95)
    recent = [(NOW - timedelta(seconds=i), intent) for i in range(30, 60)]

    def bare_loop() -> float:
        total = 0.0
        for p in snapshot.positions:
            total += abs(p.market_value)
        return total

    def one_evaluation() -> object:
        return evaluate(
            snapshot,
            limits,
            baseline_nlv=baseline_nlv,
            now=NOW,
            tracked=tracked,
            correlated_groups=groups,
        )

    def one_gate_check() -> object:
        return check_order(
            intent,
            snapshot,
            limits,
            trading_state=TradingState.ACTIVE,
            quote=quote,
            recent_orders=recent,
            now=NOW,
            correlated_groups=groups,
        )

    baseline = _median_ms(bare_loop)
    target = 1.0 if n <= 200 else n / 200.0
    rows = []
    for name, fn in (("evaluate", one_evaluation), ("check_order", one_gate_check)):
        value = _median_ms(fn)
        rows.append(
            {
                "name": f"{name}_{n}_positions",
                "value": round(value, 4),
                "unit": "ms",
                "baseline": round(baseline, 4),
                "ratio": round(value / baseline, 1),
                "target": target,
            }
        )
    return rows


def run() -> list[dict[str, Any]]:
    """One row per measurement: name, value, unit, baseline, ratio, target."""
    limits = SafetyLimits()
    return [row for n in SIZES for row in _rows(n, limits)]


def main() -> None:
    rows = run()
    header = f"{'name':<28} {'value':>10} {'unit':>4} {'baseline':>10} {'ratio':>7} {'target':>7}"
    print(header)
    print("-" * len(header))
    for r in rows:
        flag = "" if r["value"] <= r["target"] else "  OVER TARGET"
        print(
            f"{r['name']:<28} {r['value']:>10.4f} {r['unit']:>4} {r['baseline']:>10.4f} "
            f"{r['ratio']:>7.1f} {r['target']:>7g}{flag}"
        )


if __name__ == "__main__":
    main()
