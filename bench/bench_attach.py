"""`weekly-er-tui attach` against an engine serving its control socket: how fast the cockpit
comes up, and how fresh it stays at 500 positions and 1,000 price updates a second.

    python bench/bench_attach.py

The stand-in engine (500 positions, the demo book) runs in this process behind a real
ControlServer on a Unix socket; the cockpit runs in a child process on a pseudo-terminal of
160x48, as over SSH.

- attach_to_full_cockpit: from launching `weekly-er-tui attach --data-dir D` to the terminal
  showing "Positions (500)". Baseline: launching a Python that only imports the app
  (`import weekly_er_tui.ui.app`): what Python and Textual cost before any of attach's own work.
  Target < 1 s.
- attached_refresh_latency_p95: from a price change of the first (visible) row, published by the
  engine, to the first terminal frame of the attached cockpit that shows that state or a newer
  one. Baseline: the hosted app's p95 in the same run (bench_ui's measurement: the app hosting
  the same producer in its own process). Target: within 1.5x of it.
"""

from __future__ import annotations

import asyncio
import fcntl
import itertools
import json
import os
import pty
import random
import re
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
BATCH_S = 0.01
PROBE_EVERY_S = 0.1
WARMUP_S = 2.0
BUSY_S = 10.0
TARGET_ATTACH_S = 1.0
TARGET_RATIO = 1.5
ANSI = re.compile(r"\x1b\[[0-9;?<>]*[a-zA-Z]|\x1b[()][0-9A-Za-z]|\x1b[=>]")


# -- the engine side: a stand-in behind a real control socket -----------------------------------


class Engine:
    """The demo book behind the control socket; publishes price updates on demand."""

    def __init__(self, data_dir: Path) -> None:
        from weekly_er_tui.control.protocol import socket_path
        from weekly_er_tui.control.server import ControlServer
        from weekly_er_tui.scenes.fixtures import load_scene
        from weekly_er_tui.ui.static_engine import StaticEngine, large_book

        self.static = StaticEngine(large_book(load_scene("normal").state, POSITIONS))
        self.server = ControlServer(self, socket_path(data_dir), data_dir)  # type: ignore[arg-type]
        self.probes: list[tuple[int, float]] = []
        self.producing = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.static, name)

    @property
    def state(self) -> Any:
        return self.static.state

    async def get_system_status(self) -> dict[str, Any]:
        return {}

    async def produce(self) -> None:
        rng = random.Random(11)
        state = self.static.state
        positions = list(state.portfolio.positions)
        per_batch = round(UPDATES_PER_S * BATCH_S)
        next_probe = next_wake = time.perf_counter()
        while self.producing:
            for _ in range(per_batch):
                probe = time.perf_counter() >= next_probe
                i = 0 if probe else rng.randrange(len(positions))
                p = positions[i]
                price = round(p.market_price * (1 + rng.gauss(0, 0.002)), 2)
                if price == p.market_price:
                    price = round(price + 0.01, 2)
                positions[i] = replace(p, market_price=price,
                                       market_value=round(p.quantity * price, 2))
                portfolio = replace(state.portfolio, positions=tuple(positions))
                state = self.static.publish(replace(state, portfolio=portfolio))
                if probe:
                    self.probes.append((state.version, time.time()))
                    next_probe += PROBE_EVERY_S
            next_wake += BATCH_S
            await asyncio.sleep(max(0.0, next_wake - time.perf_counter()))


class EngineThread(threading.Thread):
    def __init__(self, data_dir: Path) -> None:
        super().__init__(daemon=True, name="bench engine")
        self.data_dir = data_dir
        self.ready = threading.Event()
        self.loop = asyncio.new_event_loop()
        self.engine: Engine | None = None

    def run(self) -> None:
        asyncio.set_event_loop(self.loop)

        async def start() -> None:
            self.engine = Engine(self.data_dir)
            await self.engine.server.start()
            self.ready.set()

        self.loop.run_until_complete(start())
        self.loop.run_forever()

    def call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(60)


# -- the cockpit side ---------------------------------------------------------------------------


def _child(out: Path, socket: Path, seconds: float) -> None:
    from rich.console import RenderableType
    from textual.screen import Screen

    from weekly_er_tui.cli.attach import attached_app
    from weekly_er_tui.config import SafetyLimits
    from weekly_er_tui.control.client import RemoteEngine

    async def main() -> dict[str, Any]:
        remote = await RemoteEngine.connect(socket)
        app = attached_app(remote, SafetyLimits())
        frames: list[tuple[float, int]] = []
        arrivals: list[tuple[float, int]] = []
        remote.subscribe(lambda state: arrivals.append((time.time(), state.version)))
        display = app._display

        def timed(screen: Screen[Any], renderable: RenderableType | None) -> None:
            display(screen, renderable)
            if renderable is not None and not app._batch_count and app.rendered is not None:
                frames.append((time.time(), app.rendered.version))

        app._display = timed  # type: ignore[method-assign]

        async def stop_later() -> None:
            await asyncio.sleep(seconds)
            app.exit()

        stopper = asyncio.ensure_future(stop_later())
        await app.run_async()
        stopper.cancel()
        return {"frames": frames, "arrivals": arrivals, "refresh_hz": app.refresh_hz}

    profile_to = os.environ.get("BENCH_ATTACH_PROFILE")
    if profile_to:  # where the attached cockpit's time goes: python -m pstats FILE
        import cProfile

        result: list[dict[str, Any]] = []
        cProfile.runctx("result.append(asyncio.run(main()))", globals(),
                        {"result": result, "main": main, "asyncio": asyncio}, profile_to)
        out.write_text(json.dumps(result[0]))
        return
    out.write_text(json.dumps(asyncio.run(main())))


def _on_pty(argv: list[str], until: str | None, timeout_s: float) -> tuple[float, float, int]:
    """Run `argv` on a 160x48 pty; (seconds to `until` in its output, or to its exit; exit
    code; bytes written)."""
    master, slave = pty.openpty()
    cols, rows = SIZE
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "TEXTUAL")}
    env.update(TERM="xterm-256color", COLORTERM="truecolor", COLUMNS=str(cols), LINES=str(rows))
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env,
                            start_new_session=True)
    os.close(slave)
    seen = bytearray()
    found = [float("nan")]

    def drain() -> None:
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:
                return
            if not data:
                return
            seen.extend(data)
            if until and found[0] != found[0]:
                text = ANSI.sub("", seen[-200_000:].decode(errors="replace"))
                if until in text:
                    found[0] = time.perf_counter() - t0
                    proc.terminate()

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        proc.wait(timeout=timeout_s)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        reader.join(5)
        os.close(master)
    took = found[0] if until else time.perf_counter() - t0
    return took, float(proc.returncode or 0), len(seen)


def _latencies(probes: list[tuple[int, float]], frames: list[tuple[float, int]]) -> list[float]:
    out = []
    for version, published in probes:
        shown = next((t for t, v in frames if v >= version and t >= published), None)
        if shown is not None:
            out.append((shown - published) * 1000)
    return out


def _debug(latencies: list[float], arrived: list[float], frames: list[tuple[float, int]],
           since: float) -> None:
    """The attached cockpit's latency, state-arrival and frame-interval distributions
    (BENCH_ATTACH_DEBUG=1)."""
    busy = [t for t, _v in frames if t >= since]
    gaps = [(b - a) * 1000 for a, b in itertools.pairwise(busy)]

    def spread(xs: list[float]) -> str:
        xs = sorted(xs)
        if not xs:
            return "-"
        at = [xs[min(len(xs) - 1, int(q * len(xs)))] for q in (0.05, 0.5, 0.95)]
        return f"p5 {at[0]:.0f} p50 {at[1]:.0f} p95 {at[2]:.0f} max {xs[-1]:.0f} ms"

    print(f"attached latency: {spread(latencies)}\n  of which to the state's arrival: "
          f"{spread(arrived)}\n  frames {len(busy)}, gaps {spread(gaps)}", file=sys.stderr)


def _p95(xs: list[float]) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(0.95 * len(xs)))] if xs else float("nan")


def run() -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        host = EngineThread(data_dir)
        host.start()
        host.ready.wait(30)
        engine = host.engine
        assert engine is not None
        cli = [sys.executable, "-m", "weekly_er_tui.cli", "attach", "--data-dir", str(data_dir)]
        attach_s = [_on_pty(cli, f"Positions ({POSITIONS})", 60)[0] for _ in range(3)]
        import_s = [_on_pty([sys.executable, "-c", "import weekly_er_tui.ui.app"], None, 60)[0]
                    for _ in range(3)]

        # The attached cockpit under load.
        out = Path(tmp) / "frames.json"
        child = threading.Thread(target=_on_pty, args=(
            [sys.executable, __file__, "--child", str(out), str(engine.server.path),
             str(WARMUP_S + BUSY_S + 2)], None, 120))
        child.start()
        time.sleep(1.5)
        engine.producing = True
        producer = asyncio.run_coroutine_threadsafe(engine.produce(), host.loop)
        time.sleep(WARMUP_S)
        probes_from = len(engine.probes)
        time.sleep(BUSY_S)
        engine.producing = False
        producer.result(10)
        child.join(120)
        seen = json.loads(out.read_text())
        frames = [tuple(f) for f in seen["frames"]]
        attached = _latencies(engine.probes[probes_from:], frames)  # type: ignore[arg-type]
        if os.environ.get("BENCH_ATTACH_DEBUG"):
            arrived = _latencies(engine.probes[probes_from:],
                                 [tuple(a) for a in seen["arrivals"]])  # type: ignore[misc]
            _debug(attached, arrived, frames, engine.probes[probes_from][1])  # type: ignore[arg-type]
        host.call(engine.server.stop())
        host.loop.call_soon_threadsafe(host.loop.stop)

    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_ui", Path(__file__).with_name(
        "bench_ui.py"))
    assert spec is not None and spec.loader is not None
    bench_ui = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench_ui)
    hosted = bench_ui._run_child("app")["latencies_ms"]

    attach_best, import_best = min(attach_s), min(import_s)
    a95, h95 = _p95(attached), _p95(hosted)
    return [
        {
            "name": "attach_to_full_cockpit_500pos",
            "value": round(attach_best, 3), "unit": "s",
            "baseline": round(import_best, 3),
            "ratio": round(attach_best / import_best, 2),
            "target": f"< {TARGET_ATTACH_S:g}", "met": attach_best < TARGET_ATTACH_S,
            "note": f"best of 3 ({', '.join(f'{x:.2f}' for x in attach_s)} s); baseline: a "
                    f"Python that only imports the app",
        },
        {
            "name": "attached_refresh_latency_p95",
            "value": round(a95, 1), "unit": "ms",
            "baseline": round(h95, 1), "ratio": round(a95 / h95, 2),
            "target": f"<= {TARGET_RATIO:g}x hosted", "met": a95 <= TARGET_RATIO * h95,
            "note": f"{len(attached)} samples attached, {len(hosted)} hosted; baseline: the "
                    f"hosted app's p95 in the same run",
        },
    ]


def main(argv: list[str]) -> int:
    if argv[:1] == ["--child"]:
        _child(Path(argv[1]), Path(argv[2]), float(argv[3]))
        return 0
    for r in run():
        print(f"{r['name']:<32} {r['value']:>9g} {r['unit']:>3}  baseline {r['baseline']:g}  "
              f"ratio {r['ratio']:g}  target {r['target']}  {'met' if r['met'] else 'MISSED'}")
        print(f"{'':<32} {r['note']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
