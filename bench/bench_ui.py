"""The cockpit under load: 500 positions, 1,000 price updates a second, on a real terminal.

    python bench/bench_ui.py

Each measurement runs the app in a child process on a pseudo-terminal of 160x48 (so every frame is
composited and encoded for a terminal, as over SSH; a headless app skips that work), fed by a
synthetic producer in the same process standing in for the engine: 500 positions, 1,000 price
updates a second, each one published as a new immutable EngineState (the engine's own contract).

- ui_cpu_busy: CPU of the whole UI process (app + producer) over 10 s, % of one core. Baseline,
  same run: the same app with the producer stopped (idle: only the clock ticks). Target < 30%.
  The producer's own cost (the same loop with no app) is given in the note.
- refresh_latency_p95 / _max: from a price change of a visible row to the first terminal write
  after the refresh tick that rendered it. Baseline: the refresh period (1 / refresh_hz), the wait
  no tick-driven screen can beat. Target < 250 ms.
- first_frame: from launching the process to the first frame showing the positions. Baseline:
  the same for a bare Textual app with one label (what Python and Textual cost before our code).
  Target < 2 s.
- rss_after_busy: resident memory of the UI process at the end of the busy run. Target < 150 MB.

Diagnostics: BENCH_UI_HZ=8 sets the refresh rate; BENCH_UI_DEBUG=1 prints the tick, paint and
latency distributions; BENCH_UI_PROFILE=FILE writes a cProfile of the app process.
"""

from __future__ import annotations

import argparse
import asyncio
import fcntl
import json
import os
import pty
import random
import re
import resource
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SIZE = (160, 48)
POSITIONS = 500
UPDATES_PER_S = 1_000
BATCH_S = 0.01  # the producer wakes every 10 ms and publishes 10 updates, one state each
PROBE_EVERY_S = 0.1  # a change to the first (visible) row every 100 ms, for the latency
WARMUP_S = 2.0
BUSY_S = 10.0
IDLE_S = 5.0
TARGET_CPU_PCT = 30.0
TARGET_LATENCY_MS = 250.0
TARGET_FIRST_FRAME_S = 2.0
TARGET_RSS_MB = 150.0


# -- the child: the app under load ---------------------------------------------------------------


def _child(out: Path, mode: str, launched_at: float) -> None:
    if mode == "bare":
        _child_bare(out, launched_at)
        return

    from rich.console import RenderableType
    from textual.screen import Screen

    from weekly_er_tui.clock import ManualClock
    from weekly_er_tui.model import EngineState
    from weekly_er_tui.scenes.fixtures import load_scene
    from weekly_er_tui.ui.app import WeeklyERApp
    from weekly_er_tui.ui.static_engine import StaticEngine, large_book

    scene = load_scene("normal")
    engine = StaticEngine(large_book(scene.state, POSITIONS))
    result: dict[str, Any] = {}

    class BenchApp(WeeklyERApp):
        """The cockpit with hooks that time the refresh tick and the terminal writes."""

        def __init__(self) -> None:
            hz = float(os.environ.get("BENCH_UI_HZ", "5"))
            super().__init__(engine, clock=ManualClock(scene.now), limits=scene.limits,
                             refresh_hz=hz)
            self.probes: list[tuple[int, float]] = []  # (version, published at)
            self.latencies: list[float] = []
            self.first_frame: float | None = None
            self.producing = False
            self.tick_ms: list[float] = []
            self.paint_ms: list[float] = []
            self.tick_end: float | None = None

        def refresh_from_engine(self, force: bool = False) -> None:
            t0 = time.perf_counter()
            super().refresh_from_engine(force)
            self.tick_ms.append((time.perf_counter() - t0) * 1000)
            self.tick_end = time.perf_counter()

        def _display(self, screen: Screen[Any], renderable: RenderableType | None) -> None:
            super()._display(screen, renderable)
            if renderable is None or self._batch_count:
                return
            now = time.perf_counter()
            if self.tick_end is not None:
                self.paint_ms.append((now - self.tick_end) * 1000)
                self.tick_end = None
            if self.first_frame is None and self.positions.row_count:
                self.first_frame = time.time()
            if self.probes and self.rendered is not None:
                shown = self.rendered.version
                waiting = []
                for version, t0 in self.probes:
                    if version <= shown:
                        self.latencies.append(now - t0)
                    else:
                        waiting.append((version, t0))
                self.probes = waiting

        def on_mount(self) -> None:
            self.run_worker(self.measure(), group="bench", description="bench driver")

        async def produce(self) -> None:
            rng = random.Random(11)
            state: EngineState = engine.state
            assert state.portfolio is not None
            positions = list(state.portfolio.positions)
            net_liq = state.portfolio.net_liquidation
            per_batch = round(UPDATES_PER_S * BATCH_S)
            next_probe = time.perf_counter()
            next_wake = time.perf_counter()
            while self.producing:
                for _ in range(per_batch):
                    probe = time.perf_counter() >= next_probe
                    i = 0 if probe else rng.randrange(len(positions))
                    p = positions[i]
                    price = round(p.market_price * (1 + rng.gauss(0, 0.002)), 2)
                    if price == p.market_price:
                        price = round(price + 0.01, 2)
                    value = round(p.quantity * price, 2)
                    net_liq += value - p.market_value
                    positions[i] = replace(
                        p,
                        market_price=price,
                        market_value=value,
                        unrealized_pnl=round(p.quantity * (price - p.avg_cost), 2),
                    )
                    portfolio = replace(
                        state.portfolio, positions=tuple(positions), net_liquidation=net_liq
                    )
                    state = engine.publish(replace(state, portfolio=portfolio))
                    if probe:
                        self.probes.append((state.version, time.perf_counter()))
                        next_probe += PROBE_EVERY_S
                next_wake += BATCH_S
                await asyncio.sleep(max(0.0, next_wake - time.perf_counter()))

        async def window(self, seconds: float) -> float:
            wall0, cpu0 = time.perf_counter(), time.process_time()
            await asyncio.sleep(seconds)
            return 100.0 * (time.process_time() - cpu0) / (time.perf_counter() - wall0)

        async def measure(self) -> None:
            await asyncio.sleep(0.5)
            result["idle_cpu_pct"] = await self.window(IDLE_S)
            self.producing = True
            producer = asyncio.create_task(self.produce())
            await asyncio.sleep(WARMUP_S)
            self.latencies.clear()
            self.probes.clear()
            result["busy_cpu_pct"] = await self.window(BUSY_S)
            result["latencies_ms"] = [x * 1000 for x in self.latencies]
            result["tick_ms"] = self.tick_ms
            result["paint_ms"] = self.paint_ms
            result["updates"] = engine.state.version
            self.producing = False
            await producer
            result["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            result["first_frame_at"] = self.first_frame
            result["refresh_hz"] = self.refresh_hz
            self.exit()

    profile_to = os.environ.get("BENCH_UI_PROFILE")
    if profile_to:  # where the time goes: python -m pstats FILE
        import cProfile

        cProfile.runctx("BenchApp().run()", globals(), {"BenchApp": BenchApp}, profile_to)
    else:
        BenchApp().run()
    result["launched_at"] = launched_at
    out.write_text(json.dumps(result))


def _child_bare(out: Path, launched_at: float) -> None:
    from rich.console import RenderableType
    from textual.app import App, ComposeResult
    from textual.screen import Screen
    from textual.widgets import Label

    first: list[float] = []

    class Bare(App[None]):
        def compose(self) -> ComposeResult:
            yield Label("hello")

        def _display(self, screen: Screen[Any], renderable: RenderableType | None) -> None:
            super()._display(screen, renderable)
            if renderable is not None and not self._batch_count and not first:
                first.append(time.time())
                self.call_later(self.exit)

    Bare().run()
    out.write_text(json.dumps({"first_frame_at": first[0], "launched_at": launched_at}))


def _producer_only_cpu() -> float:
    """CPU % of the producer loop alone (no app): what the stand-in engine itself costs."""
    from weekly_er_tui.scenes.fixtures import load_scene
    from weekly_er_tui.ui.static_engine import StaticEngine, large_book

    engine = StaticEngine(large_book(load_scene("normal").state, POSITIONS))

    async def produce() -> float:
        rng = random.Random(11)
        state = engine.state
        assert state.portfolio is not None
        positions = list(state.portfolio.positions)
        per_batch = round(UPDATES_PER_S * BATCH_S)
        wall0, cpu0 = time.perf_counter(), time.process_time()
        next_wake = wall0
        while time.perf_counter() - wall0 < 3.0:
            for _ in range(per_batch):
                i = rng.randrange(len(positions))
                p = positions[i]
                price = round(p.market_price * (1 + rng.gauss(0, 0.002)), 2)
                positions[i] = replace(p, market_price=price, market_value=p.quantity * price)
                portfolio = replace(state.portfolio, positions=tuple(positions))
                state = engine.publish(replace(state, portfolio=portfolio))
            next_wake += BATCH_S
            await asyncio.sleep(max(0.0, next_wake - time.perf_counter()))
        return 100.0 * (time.process_time() - cpu0) / (time.perf_counter() - wall0)

    return asyncio.run(produce())


# -- the parent: a pseudo-terminal per run -------------------------------------------------------


def _run_child(mode: str, timeout_s: float = 120.0) -> dict[str, Any]:
    master, slave = pty.openpty()
    cols, rows = SIZE
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.json"
        env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "TEXTUAL")}
        env.update(TERM="xterm-256color", COLORTERM="truecolor", COLUMNS=str(cols), LINES=str(rows))
        launched_at = time.time()
        proc = subprocess.Popen(
            [sys.executable, __file__, "--child", str(out), mode, repr(launched_at)],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            start_new_session=True,
        )
        os.close(slave)
        drained = [0]
        tail = bytearray()

        def drain() -> None:
            while True:
                try:
                    data = os.read(master, 65536)
                except OSError:
                    return
                if not data:
                    return
                drained[0] += len(data)
                tail.extend(data)
                del tail[:-20_000]

        reader = threading.Thread(target=drain, daemon=True)
        reader.start()
        try:
            proc.wait(timeout=timeout_s)
        finally:
            if proc.poll() is None:
                proc.kill()
            os.close(master)
        result: dict[str, Any] = json.loads(out.read_text()) if out.exists() else {}
        if "first_frame_at" not in result:
            text = re.sub(r"\x1b\[[0-9;?<>]*[a-zA-Z]", "", tail.decode(errors="replace"))
            raise RuntimeError(
                f"the {mode} child failed (exit code {proc.returncode}); its terminal ended "
                f"with:\n{text[-4000:]}"
            )
        result["terminal_bytes"] = drained[0]
        return result


def run() -> list[dict[str, Any]]:
    """One row per measurement: name, value, unit, baseline, ratio, target."""
    app = _run_child("app")
    bare = _run_child("bare")
    producer = _producer_only_cpu()

    busy, idle = app["busy_cpu_pct"], app["idle_cpu_pct"]
    if os.environ.get("BENCH_UI_DEBUG"):
        for key in ("tick_ms", "paint_ms", "latencies_ms"):
            xs = sorted(app[key])
            print(key, [round(xs[int(q * (len(xs) - 1))], 1) for q in (0, 0.5, 0.9, 0.99, 1)])
    lat = sorted(app["latencies_ms"])
    p95 = lat[min(len(lat) - 1, int(0.95 * len(lat)))] if lat else float("nan")
    worst = lat[-1] if lat else float("nan")
    period_ms = 1000.0 / app["refresh_hz"]
    first = app["first_frame_at"] - app["launched_at"]
    bare_first = bare["first_frame_at"] - bare["launched_at"]
    updates_per_s = app["updates"] / (WARMUP_S + BUSY_S)

    def ratio(a: float, b: float) -> float:
        return round(a / b, 2) if b else float("inf")

    return [
        {
            "name": "ui_cpu_busy_500pos_1000ups",
            "value": round(busy, 1),
            "unit": "%",
            "baseline": round(idle, 1),
            "ratio": ratio(busy, idle),
            "target": f"< {TARGET_CPU_PCT:g}",
            "met": busy < TARGET_CPU_PCT,
            "note": f"baseline: idle app; the producer alone costs {producer:.1f}%; "
            f"{updates_per_s:,.0f} updates/s delivered",
        },
        {
            "name": "refresh_latency_p95",
            "value": round(p95, 1),
            "unit": "ms",
            "baseline": round(period_ms, 1),
            "ratio": ratio(p95, period_ms),
            "target": f"< {TARGET_LATENCY_MS:g}",
            "met": p95 < TARGET_LATENCY_MS,
            "note": f"{len(lat)} samples, median {statistics.median(lat):.0f} ms" if lat else "",
        },
        {
            "name": "refresh_latency_max",
            "value": round(worst, 1),
            "unit": "ms",
            "baseline": round(period_ms, 1),
            "ratio": ratio(worst, period_ms),
            "target": f"< {TARGET_LATENCY_MS:g}",
            "met": worst < TARGET_LATENCY_MS,
        },
        {
            "name": "first_frame_500pos",
            "value": round(first, 3),
            "unit": "s",
            "baseline": round(bare_first, 3),
            "ratio": ratio(first, bare_first),
            "target": f"< {TARGET_FIRST_FRAME_S:g}",
            "met": first < TARGET_FIRST_FRAME_S,
            "note": "baseline: a bare Textual app with one label",
        },
        {
            "name": "rss_after_busy",
            "value": round(app["rss_mb"], 1),
            "unit": "MB",
            "baseline": None,
            "ratio": None,
            "target": f"< {TARGET_RSS_MB:g}",
            "met": app["rss_mb"] < TARGET_RSS_MB,
            "note": f"after {IDLE_S + WARMUP_S + BUSY_S:g} s with {POSITIONS} positions",
        },
    ]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", nargs=3, metavar=("OUT", "MODE", "LAUNCHED_AT"))
    args = parser.parse_args(argv)
    if args.child:
        out, mode, launched_at = args.child
        _child(Path(out), mode, float(launched_at))
        return 0
    rows = run()
    header = f"{'name':<28} {'value':>9} {'unit':>4} {'baseline':>9} {'ratio':>6} {'target':>8}"
    print(header)
    print("-" * len(header))
    for r in rows:
        flag = "" if r["met"] else "  MISSED"
        base = "-" if r["baseline"] is None else f"{r['baseline']:g}"
        ratio = "-" if r["ratio"] is None else f"{r['ratio']:g}"
        print(
            f"{r['name']:<28} {r['value']:>9g} {r['unit']:>4} {base:>9} {ratio:>6} "
            f"{r['target']:>8}{flag}"
        )
        if r.get("note"):
            print(f"{'':<28} {r['note']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
