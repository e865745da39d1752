"""Record the cockpit's scenes from the real engine on the simulated gateway.

    python -m weekly_er_tui.scenes.record [DIR]            # all scenes (default: the package's)
    python -m weekly_er_tui.scenes.record --only normal    # some
    python -m weekly_er_tui.scenes.record --check          # re-record, compare, write nothing

Each run below is a script of the demo account's Thanksgiving week (Monday 2026-11-23): the
real TradingEngine with the real ib_async client against the simulated gateway on 127.0.0.1
(`Realism.real()`), on a ManualClock the script moves, with faults the simulator plays (a
refused connect, a farm outage, a dropped link, partial fills, a price shock). At each scene a
trader sees, the engine's EngineState is captured and written as JSON with the control
socket's codec: the snapshot tests and the screenshots render these, never a hand-written state.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import sys
import tempfile
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from weekly_er_tui.clock import ET, ManualClock
from weekly_er_tui.control.lock import RUNTIME_ENV
from weekly_er_tui.model import ConnectionState, FridayPhase, PlanStatus, TradingState
from weekly_er_tui.scenes.fixtures import SCENES_DIR, write_scene
from weekly_er_tui.scenes.rig import Enough, SceneRig
from weekly_er_tui.sim import Scenario
from weekly_er_tui.sim.scenario import load_scenario


def et(day: int, hh: int, mm: int = 0, ss: int = 0) -> datetime:
    """An instant of the week of Monday 2026-11-23, US Eastern."""
    return datetime.combine(date(2026, 11, day), time(hh, mm, ss), tzinfo=ET)


def demo_config(scenario: Scenario, rig_dir: Path) -> dict[str, Any]:
    """The demo's config: the scenario's calendar, its opening positions the trader's own."""
    calendar = rig_dir / "calendar.csv"
    rows = [f"{e.symbol},{e.date.isoformat()},{e.timing}"
            for e in scenario.earnings_for_week(et(23, 9))]
    calendar.write_text("symbol,report_date,timing\n" + "".join(f"{r}\n" for r in rows))
    return {"strategy": {"calendar_file": str(calendar)},
            "safety_limits": {"orphan_ignore": sorted(p.symbol for p in scenario.positions)}}


# -- the scripts ------------------------------------------------------------------------------

async def the_week(rig: SceneRig) -> None:
    """Monday's first connect to Friday's close, on the demo account."""
    gw = rig.gw
    gw.refuse_connections()  # the gateway is not up yet when the engine starts
    engine = await rig.start()
    await rig.until(lambda: engine.state.connection.reconnect_attempts >= 1,
                    "the first connect refused and the retry counted")
    await rig.capture("first-connect", "Before the first connect: nothing known yet")
    gw.accept_connections()
    await engine.reconnect()
    await rig.until(lambda: engine.monitor.is_connected and engine.strategy.plan,
                    "connected, the week planned")
    for day in (23, 24):  # Monday's and Tuesday's entries at 10:00
        await rig.at(et(day, 10))
        await rig.until(lambda: _entries_done(engine, rig.clock.now()),
                        "the day's entries done")
    await rig.at(et(24, 10, 30))
    await rig.capture("normal", "A normal session: Tuesday of the week")

    await engine.pause()
    await rig.capture("paused", "PAUSED by the trader")
    await engine.resume()

    await rig.at(et(24, 10, 41))
    gw.emit_connectivity(2103)  # a market data farm is down
    await rig.until(lambda: engine.monitor.state is ConnectionState.DEGRADED, "DEGRADED")
    await rig.capture("degraded", "DEGRADED: a market data farm is down")
    gw.emit_connectivity(2104)
    await rig.until(lambda: engine.monitor.state is ConnectionState.CONNECTED, "farm back")

    # The trader's own order, entered in TWS: this client sees it at the next connect's resync.
    await rig.at(et(24, 10, 50))
    gw.place_in_tws("AAPL", 20, "LMT", round(gw.quote("AAPL").bid * 0.97, 2), tif="GTC")
    await rig.at(et(24, 11, 5))
    await rig.settled()  # the link drops on a quiet account, not mid-update
    gw.refuse_connections()
    gw.drop_all()
    # RECONNECTING comes the moment the socket closes; the loop's first attempt (its log line,
    # "Reconnect attempt 1/5") a turn of the event loop later: capture the screen after both.
    await rig.until(lambda: engine.state.connection.attempt >= 1
                    and engine.monitor.state is ConnectionState.RECONNECTING, "reconnecting")
    rig.clock.set(et(24, 11, 5, 47))
    await rig.capture("reconnecting", "The link is down: positions as last known, STALE")
    gw.accept_connections()
    await engine.reconnect()
    await rig.until(lambda: engine.monitor.is_connected, "reconnected")

    # Wednesday: the day's entries filling in parts.
    gw.partial_fills(3, interval=60)
    await rig.at(et(25, 10))
    await rig.until(lambda: {o.ours for o in engine.state.orders} == {True, False},
                    "an entry of ours and the TWS order working")
    rig.clock.set(et(25, 10, 0, 20))
    await rig.capture("working-orders", "Working orders: entries filling, a TWS order")
    rig.clock.set(et(25, 10, 3))
    await rig.until(lambda: _entries_done(engine, rig.clock.now()),
                    "Wednesday's entries done")

    # Friday 2026-11-27, the early close (13:00): the close at 12:45 fills in three parts, a
    # minute apart.
    await rig.at(et(27, 12, 44))
    held = {e.symbol for e in engine.strategy.plan if e.status is PlanStatus.ENTERED}
    await rig.at(et(27, 12, 45))
    await rig.until(lambda: _first_parts_filled(engine, held), "the Friday close working")
    rig.clock.set(et(27, 12, 45, 30))
    await rig.capture("friday-closing", "The Friday close in progress")
    for minute in (46, 47, 55):  # the second and third parts, the backup
        await rig.at(et(27, 12, minute))
    await rig.until(lambda: not gw.open_orders() or all(o.client_id == 0
                                                        for o in gw.open_orders()),
                    "the close filled")
    await rig.at(et(27, 13))
    await rig.until(lambda: _friday(engine) in (FridayPhase.FLAT, FridayPhase.NOT_FLAT),
                    "the bell's verdict")
    await rig.capture("friday-flat", "The Friday close done: the strategy is flat")


async def the_crash(rig: SceneRig) -> None:
    """Tuesday: Technology runs past its limit, then the market falls through the stop."""
    gw = rig.gw
    engine = await rig.start()
    await rig.until(lambda: engine.monitor.is_connected and engine.strategy.plan, "connected")
    await rig.at(et(24, 10, 25))
    gw.price_shock(8.0, sector="Technology")
    await rig.until(lambda: engine.safety.last_report is not None
                    and engine.safety.last_report.violations, "a sector over its limit")
    await rig.capture("sector-over", "A sector over its limit")
    gw.partial_fills(2, interval=60)
    await rig.at(et(24, 10, 28))
    await rig.settled()
    gw.price_shock(-16.0)
    held = {p.symbol for p in engine.portfolio.snapshot().open_positions}
    await rig.until(lambda: engine.safety.trading_state is TradingState.HALTED
                    and _first_parts_filled(engine, held), "the emergency close working")
    rig.clock.set(et(24, 10, 28, 20))
    # The trader looks (s) once the account has caught up: the report is of the fallen market,
    # whichever of the account's updates the stop's own check came between.
    await rig.settled()
    await engine.check_now()
    await rig.capture("halted", "HALTED: the emergency close under way")


async def the_link_lost_flatten(rig: SceneRig) -> None:
    """The link is down and the trader asks for a flatten: queued for the reconnect."""
    gw = rig.gw
    engine = await rig.start()
    await rig.until(lambda: engine.monitor.is_connected and engine.strategy.plan, "connected")
    await rig.at(et(24, 10, 30))
    await rig.settled()
    gw.refuse_connections()
    gw.drop_all()
    await rig.until(lambda: engine.state.connection.attempt >= 1
                    and engine.monitor.state is ConnectionState.RECONNECTING, "reconnecting")
    rig.clock.set(et(24, 10, 30, 40))
    await engine.flatten()
    await rig.capture("flatten-queued", "A flatten queued while the link is down")


async def the_live_account(rig: SceneRig) -> None:
    """A live account (allow_live): the LIVE badge."""
    engine = await rig.start()
    await rig.until(lambda: engine.monitor.is_connected and engine.strategy.plan, "connected")
    await rig.at(et(24, 10, 30))
    await rig.capture("live", "A LIVE account")


def _entries_done(engine: Any, now: datetime) -> bool:
    busy = (PlanStatus.PLANNED, PlanStatus.ENTERING)
    return not any(e.planned_entry <= now and e.status in busy for e in engine.strategy.plan)


def _first_parts_filled(engine: Any, symbols: set[str]) -> bool:
    """Every one of `symbols` has a working order of ours, its first part filled."""
    started = {o.symbol for o in engine.state.orders if o.ours and o.filled > 0}
    return bool(symbols) and symbols <= started


def _friday(engine: Any) -> FridayPhase | None:
    fc = engine.strategy.friday_close_state
    return fc.phase if fc is not None else None


@dataclass(frozen=True)
class Run:
    script: Callable[[SceneRig], Awaitable[None]]
    start: datetime
    scenes: tuple[str, ...]
    account: str | None = None  # another account id than the demo's
    config: dict[str, Any] | None = None


RUNS: tuple[Run, ...] = (
    Run(the_week, et(23, 9, 20), ("first-connect", "normal", "paused", "degraded",
                                   "reconnecting", "working-orders", "friday-closing",
                                   "friday-flat")),
    Run(the_crash, et(24, 10, 20), ("sector-over", "halted")),
    Run(the_link_lost_flatten, et(24, 10, 20), ("flatten-queued",)),
    Run(the_live_account, et(24, 10, 29), ("live",), account="U7654321",
        config={"allow_live": True}),
)
SCENE_NAMES: tuple[str, ...] = tuple(name for run in RUNS for name in run.scenes)


async def record(names: Sequence[str] = ()) -> dict[str, dict[str, Any]]:
    """Scene name -> its fixture (every scene, or those named), in the order of SCENE_NAMES."""
    wanted = set(names) or set(SCENE_NAMES)
    out: dict[str, dict[str, Any]] = {}
    # The account locks of its own: a recording must neither refuse nor block a demo that runs
    # the same demo account on this machine.
    with tempfile.TemporaryDirectory(prefix="weekly-er-scenes-locks-") as locks, \
            _environ(RUNTIME_ENV, locks):
        for run in RUNS:
            if wanted & set(run.scenes):
                out.update(await _record_run(run, wanted & set(run.scenes)))
    return {n: out[n] for n in SCENE_NAMES if n in out}


@contextlib.contextmanager
def _environ(name: str, value: str) -> Iterator[None]:
    before = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


async def _record_run(run: Run, mine: set[str]) -> dict[str, dict[str, Any]]:
    scenario = load_scenario("demo")
    if run.account:
        scenario = scenario.model_copy(update={"account": scenario.account.model_copy(
            update={"id": run.account})})
    rig = SceneRig(scenario, ManualClock(run.start), {}, wanted=frozenset(mine))
    rig.config_data = {**demo_config(scenario, rig.data_dir), **(run.config or {})}
    try:
        await rig.gw.start()
        await run.script(rig)
    except Enough:
        pass
    finally:
        await rig.stop()
    missing = mine - set(rig.captured)
    if missing:
        raise RuntimeError(f"{run.script.__name__} did not reach {sorted(missing)}")
    return rig.captured


# How far a float recorded again may be from the committed one and be the same figure: well
# under the finest the screen shows (a weight's tenth of a percent, 1e-3; money to the cent),
# well over the noise of the same sums taken in another order. Everything else (texts, counts,
# states, the number of rows and alerts) must be equal.
FLOAT_TOLERANCE = 5e-4


def _number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def same_figure(a: float, b: float, tolerance: float = FLOAT_TOLERANCE) -> bool:
    """Two recorded figures are the same: equal within `tolerance` (absolute)."""
    return math.isclose(a, b, rel_tol=0.0, abs_tol=tolerance)


def differences(recorded: Any, committed: Any, path: str = "", *,
                tolerance: float = FLOAT_TOLERANCE) -> list[str]:
    """Where two fixtures differ, as 'state.portfolio.positions[3].quantity: 130 != 131';
    floats within `tolerance` of each other are the same, every other value must be equal."""
    if isinstance(recorded, dict) and isinstance(committed, dict):
        out = []
        for key in sorted(set(recorded) | set(committed)):
            sub = f"{path}.{key}" if path else key
            if key not in recorded or key not in committed:
                out.append(f"{sub}: only in {'the recording' if key in recorded else 'the file'}")
            else:
                out += differences(recorded[key], committed[key], sub, tolerance=tolerance)
        return out
    if isinstance(recorded, list) and isinstance(committed, list):
        if len(recorded) != len(committed):
            # Which items, so that a difference seen once (a loaded CI machine) says what it was.
            shown = {json.dumps(x, sort_keys=True) for x in committed}
            extra = [x for x in recorded if json.dumps(x, sort_keys=True) not in shown][:3]
            kept = {json.dumps(x, sort_keys=True) for x in recorded}
            gone = [x for x in committed if json.dumps(x, sort_keys=True) not in kept][:3]
            return [f"{path}: {len(recorded)} items recorded, {len(committed)} in the file"
                    + (f"; only recorded: {extra!r}" if extra else "")
                    + (f"; only in the file: {gone!r}" if gone else "")]
        out = []
        for i, (a, b) in enumerate(zip(recorded, committed, strict=True)):
            out += differences(a, b, f"{path}[{i}]", tolerance=tolerance)
        return out
    if (_number(recorded) and _number(committed)
            and (isinstance(recorded, float) or isinstance(committed, float))):
        if same_figure(recorded, committed, tolerance):
            return []
        return [f"{path}: {recorded!r} != {committed!r} (more than {tolerance:g} apart)"]
    return [] if recorded == committed else [f"{path}: {recorded!r} != {committed!r}"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m weekly_er_tui.scenes.record",
                                     description="Record the cockpit's scenes on the simulator.")
    parser.add_argument("out_dir", nargs="?", default=str(SCENES_DIR),
                        help="where to write the JSON fixtures (default: the package's)")
    parser.add_argument("--only", nargs="*", default=(), help="scene names to record")
    parser.add_argument("--check", action="store_true",
                        help="re-record and compare with the fixtures in out_dir; write nothing")
    args = parser.parse_args(argv)
    unknown = set(args.only) - set(SCENE_NAMES)
    if unknown:
        parser.error(f"unknown scene(s) {', '.join(sorted(unknown))}; "
                     f"known: {', '.join(SCENE_NAMES)}")
    recorded = asyncio.run(record(args.only))
    out_dir = Path(args.out_dir)
    if args.check:
        bad = 0
        for name, fixture in recorded.items():
            path = out_dir / f"{name}.json"
            committed = json.loads(path.read_text()) if path.exists() else {}
            diff = differences(fixture, committed)
            bad += bool(diff)
            print(f"{name}: " + ("same" if not diff else f"{len(diff)} difference(s)"))
            for line in diff[:20]:
                print(f"  {line}")
        return 1 if bad else 0
    for fixture in recorded.values():
        print(write_scene(out_dir, fixture))
    return 0


if __name__ == "__main__":
    sys.exit(main())
