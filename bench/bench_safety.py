"""The safety manager against the simulated gateway: a flatten, and one check end to end.

    python bench/bench_safety.py

- flatten_50_positions: OrderExecutor.flatten of an account of 50 positions (cancel all, a market
  order per position, each followed to its fill, positions verified flat), over TCP with the real
  ib_async client. ib_async paces requests at 45 per second, so the floor is about N/45 s.
  Baseline, measured in the same run on an identical gateway: the bare time to hand 50 orders to
  ib_async and for its throttle to put the last one on the wire, following none of them.
  Target: within 1.1x of that. Each is the median of three runs on fresh gateways.
- safety_check_{20,200}_positions: one PositionSafetyManager.check end to end (the snapshot folded
  from ib_async's live state, store lookups, the rules, recording violations) on an engine fed by
  the simulator. Baseline: the pure rules (risk.rules.evaluate) on the same snapshot. Target:
  under 5 ms at 200 positions, a tenth of the 50 ms window that coalesces a burst of updates into
  one check (the enhancement guide quotes 100-200 ms per check).
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ib_async import IB, MarketOrder, Stock

from weekly_er_tui.broker.portfolio import PortfolioTracker
from weekly_er_tui.broker.stack import build_broker_stack
from weekly_er_tui.clock import ManualClock
from weekly_er_tui.config import SafetyLimits
from weekly_er_tui.journal import Journal
from weekly_er_tui.model import TradingState
from weekly_er_tui.risk.rules import evaluate
from weekly_er_tui.safety import PositionSafetyManager
from weekly_er_tui.sim import SimulatedGateway, parse_scenario
from weekly_er_tui.store import Store

START = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)  # Monday 10:00 ET, in session
SECTORS = ("Technology", "Financials", "Energy", "Healthcare", "Industrials", "Utilities",
           "Materials", "Real Estate", "Consumer Staples", "Communication", "Consumer Disc.")
FLATTEN_N = 50
FLATTEN_RUNS = 3  # medians of three runs, each on a fresh gateway
CHECK_SIZES = (20, 200)
IB_RATE = 45  # ib_async's client throttle: requests per second
CHECK_TARGET_MS = 5.0
# No rule breached on purpose: a check that acted would be timing the action, not the check.
LIMITS = SafetyLimits(max_position_value=1e9, max_portfolio_value=1e10, max_daily_loss=1e9,
                      max_positions=10_000, min_cash_reserve=0, emergency_stop_loss=0.9)


def _scenario_data(n: int) -> dict[str, Any]:
    prices = {f"S{i:03d}": 20.0 + 3 * i for i in range(n)}
    symbols = {
        s: {"price": price, "sector": SECTORS[i % len(SECTORS)],
            "industry": SECTORS[i % len(SECTORS)], "volatility": 0.25}
        for i, (s, price) in enumerate(prices.items())
    }
    positions = [
        {"symbol": s, "quantity": max(1, round(5_000 / price)), "avg_cost": round(price * 0.97, 2)}
        for s, price in prices.items()
    ]
    return {"name": f"bench-{n}", "account": {"id": "DU7000001", "cash": 2_000_000},
            "symbols": symbols, "positions": positions}


def _gateway(n: int, clock: ManualClock) -> SimulatedGateway:
    return SimulatedGateway(parse_scenario(_scenario_data(n)), clock, port=0, seed=1,
                            tick_interval=0.05, engine_interval=0.01, account_interval=0.1)


async def _connect(gw: SimulatedGateway, client_id: int) -> IB:
    ib = IB()
    await ib.connectAsync("127.0.0.1", gw.port, clientId=client_id, timeout=10)
    return ib


async def _unthrottled(ib: IB, setup: Callable[[], Any]) -> None:
    """Run a setup step with ib_async's pacing off (the simulator does not enforce IB's), then
    wait until the pacing window is empty again, so a measurement starts with a clean slate."""
    client = ib.client
    client.MaxRequests = 0
    try:
        await setup()
    finally:
        del client.MaxRequests  # back to the class's 45 per second
    await _window_clear(ib)


async def _window_clear(ib: IB) -> None:
    client = ib.client
    while client._msgQ:
        await asyncio.sleep(0.01)
    times = client._timeQ
    if times:
        loop = asyncio.get_running_loop()
        await asyncio.sleep(max(0.0, times[-1] + client.RequestsInterval - loop.time() + 0.01))


async def _bare_placement(n: int) -> float:
    """Seconds to hand `n` orders to ib_async until its throttle has sent the last one."""
    clock = ManualClock(START)
    gw = await _gateway(n, clock).start()
    try:
        ib = await _connect(gw, 2)
        try:
            await _window_clear(ib)
            contracts = {s: Stock(s, "SMART", "USD", conId=inst.con_id)
                         for s, inst in gw.market.instruments.items()}
            held = list(gw.account.positions.items())
            sent = asyncio.Event()
            ib.client.throttleEnd += sent.set
            t0 = time.perf_counter()
            for symbol, (qty, _avg) in held:
                ib.placeOrder(contracts[symbol], MarketOrder("SELL", qty))
            if ib.client._msgQ:
                await sent.wait()
            seconds = time.perf_counter() - t0
            await gw.wait_for(lambda: not gw.account.positions, timeout=10)
            return seconds
        finally:
            ib.disconnect()
    finally:
        await gw.stop()


async def _flatten(n: int) -> tuple[float, dict[str, Any]]:
    clock = ManualClock(START)
    gw = await _gateway(n, clock).start()
    tmp = tempfile.TemporaryDirectory(prefix="bench_safety_")
    ib = await _connect(gw, 1)
    journal = Journal(tmp.name, clock)
    store = Store.in_data_dir(tmp.name)
    # The engine's own wiring (broker/stack.py), so the bench times the flatten that runs.
    stack = build_broker_stack(ib, clock, store, journal, LIMITS,
                               trading_state=lambda: TradingState.HALTED,
                               market_open=lambda: True)
    tracker = stack.portfolio
    try:
        await _unthrottled(ib, lambda: tracker.resync(ib))
        t0 = time.perf_counter()
        result = await stack.executor.flatten("EMERGENCY")
        seconds = time.perf_counter() - t0
        if not result.flat or len(result.closed) != n or gw.account.positions:
            raise RuntimeError(f"the flatten did not flatten: {result.to_dict()}")
        return seconds, result.to_dict()
    finally:
        stack.close()
        tracker.detach()
        ib.disconnect()
        journal.close()
        store.close()
        tmp.cleanup()
        await gw.stop()


def _median_ms(fn: Callable[[], object], repeats: int) -> float:
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000.0)
    return statistics.median(samples)


async def _check(n: int) -> dict[str, float]:
    clock = ManualClock(START)
    gw = await _gateway(n, clock).start()
    tmp = tempfile.TemporaryDirectory(prefix="bench_safety_")
    ib = await _connect(gw, 1)
    journal = Journal(tmp.name, clock)
    store = Store.in_data_dir(tmp.name)
    tracker = PortfolioTracker(ib, clock)
    try:
        await _unthrottled(ib, lambda: tracker.resync(ib))
        for symbol, (qty, _avg) in gw.account.positions.items():
            store.track_position(symbol, qty, "wer-bench", clock.now())
        # Every position priced from the stream and with its own P&L, as in a running engine.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while any(tracker.price(s) is None for s in gw.account.positions) or len(
            ib.wrapper.reqId2PnlSingle
        ) < n:
            if loop.time() > deadline:
                raise RuntimeError("market data or PnL did not arrive")
            await asyncio.sleep(0.01)
        safety = PositionSafetyManager(LIMITS, store=store, journal=journal, clock=clock,
                                       portfolio=tracker)
        first = await safety.check("change")
        if first is None or first.critical:
            raise RuntimeError("the benchmark account breaches a CRITICAL limit")
        snap = tracker.snapshot()
        if len(snap.positions) != n or any(p.stale for p in snap.positions):
            raise RuntimeError("the snapshot is not the live account")
        baseline_nlv = safety.baseline(snap)
        tracked = set(store.tracked_positions())

        def one_check() -> None:
            # check() has no await unless it acts (it does not here): drive it synchronously.
            coro = safety.check("change")
            try:
                coro.send(None)
            except StopIteration:
                return
            raise RuntimeError("the check awaited: it acted")

        def rules_alone() -> None:
            evaluate(snap, LIMITS, baseline_nlv=baseline_nlv, now=clock.now(), tracked=tracked,
                     vanished=())

        repeats = 400 if n <= 20 else 150
        return {"check_ms": _median_ms(one_check, repeats),
                "snapshot_ms": _median_ms(tracker.snapshot, repeats),
                "rules_ms": _median_ms(rules_alone, repeats)}
    finally:
        tracker.detach()
        ib.disconnect()
        journal.close()
        store.close()
        tmp.cleanup()
        await gw.stop()


async def _run() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    bares, flattens = [], []
    for _ in range(FLATTEN_RUNS):
        bares.append(await _bare_placement(FLATTEN_N))
        seconds, result = await _flatten(FLATTEN_N)
        flattens.append(seconds)
    bare, seconds = statistics.median(bares), statistics.median(flattens)
    ratio = seconds / bare
    rows.append({
        "name": f"flatten_{FLATTEN_N}_positions", "value": round(seconds, 3), "unit": "s",
        "baseline": round(bare, 3), "ratio": round(ratio, 3), "target": 1.1,
        "met": ratio <= 1.1,
        "note": f"pacing floor {FLATTEN_N}/{IB_RATE} = {FLATTEN_N / IB_RATE:.2f} s; runs "
                f"{', '.join(f'{x:.3f}' for x in flattens)} s; closed "
                f"{len(result['closed'])}, flat {result['flat']}",
    })
    for n in CHECK_SIZES:
        t = await _check(n)
        rows.append({
            "name": f"safety_check_{n}_positions", "value": round(t["check_ms"], 3),
            "unit": "ms", "baseline": round(t["rules_ms"], 3),
            "ratio": round(t["check_ms"] / t["rules_ms"], 1), "target": CHECK_TARGET_MS,
            "met": t["check_ms"] < CHECK_TARGET_MS,
            "note": f"of which the snapshot {t['snapshot_ms']:.3f} ms",
        })
    return rows


def run() -> list[dict[str, Any]]:
    """One row per measurement: name, value, unit, baseline, ratio, target, met (and a note)."""
    return asyncio.run(_run())


def main() -> None:
    rows = run()
    header = (f"{'name':<28} {'value':>9} {'unit':>4} {'baseline':>9} {'ratio':>6} "
              f"{'target':>6}  met")
    print(header)
    print("-" * len(header))
    for r in rows:
        print(f"{r['name']:<28} {r['value']:>9} {r['unit']:>4} {r['baseline']:>9} "
              f"{r['ratio']:>6} {r['target']:>6}  {'yes' if r['met'] else 'NO'}  {r['note']}")


if __name__ == "__main__":
    main()
