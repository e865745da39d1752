"""`weekly-er-tui sim`: the simulated gateway as a standalone process, until Ctrl+C.

It prints one line per client connect/disconnect, per order event and per fault, each stamped
with the simulated clock, so a person can watch what an API client does to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from datetime import UTC, datetime
from typing import TextIO

from weekly_er_tui.clock import ET, AcceleratedClock, Clock, WallClock
from weekly_er_tui.sim.scenario import ScenarioError, load_scenario
from weekly_er_tui.sim.server import GatewayEvent, SimulatedGateway


def make_clock(clock_start: datetime | None, clock_speed: float) -> Clock:
    """The wall clock, or an accelerated one from `clock_start` at `clock_speed`."""
    if clock_speed <= 0:
        raise ValueError(f"--clock-speed must be greater than 0 (got {clock_speed})")
    if clock_start is None and clock_speed == 1:
        return WallClock()
    return AcceleratedClock(clock_start or datetime.now(UTC), clock_speed)


async def run_standalone(
    host: str,
    port: int,
    scenario: str,
    clock_start: datetime | None,
    clock_speed: float,
    out: TextIO,
    *,
    seed: int = 1,
    stop: asyncio.Event | None = None,
) -> int:
    """Run the gateway until Ctrl+C (SIGINT/SIGTERM) or `stop` is set; returns an exit code.

    0 after a clean stop, 1 when the port cannot be opened, 2 for a bad scenario or option.
    """

    def say(line: str) -> None:
        print(line, file=out, flush=True)

    try:
        sc = load_scenario(scenario)
        clock = make_clock(clock_start, clock_speed)
    except (ScenarioError, ValueError) as exc:
        say(f"error: {exc}")
        return 2

    gw = SimulatedGateway(sc, clock, host=host, port=port, seed=seed)

    def stamp() -> str:
        return clock.now().astimezone(ET).strftime("%Y-%m-%d %H:%M:%S ET")

    def on_event(ev: GatewayEvent) -> None:
        say(f"{stamp()}  {ev.text}")

    gw.add_listener(on_event)
    try:
        await gw.start()
    except OSError as exc:
        say(
            f"error: cannot listen on {host}:{port}: {exc.strerror or exc}. Is TWS, IB Gateway "
            "or another simulator already using this port? Choose another with --port."
        )
        return 1

    stopping = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stopping.set)
            installed.append(sig)
    speed = "real time" if clock_speed == 1 else f"x{clock_speed:g}"
    say(
        f"Simulated IB Gateway listening on {host}:{gw.port} "
        f"(scenario {sc.name or scenario!r}, account {sc.account.id}, "
        f"clock {stamp()} {speed}). Press Ctrl+C to stop."
    )
    try:
        await stopping.wait()
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
        await gw.stop()
        say(f"{stamp()}  gateway stopped")
    return 0
