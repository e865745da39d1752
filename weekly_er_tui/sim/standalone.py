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
from weekly_er_tui.sim.orders import fresh_run_id
from weekly_er_tui.sim.scenario import ScenarioError, load_scenario
from weekly_er_tui.sim.server import GatewayEvent, SimulatedGateway


def make_clock(clock_start: datetime | None, clock_speed: float,
               epoch: datetime | None = None) -> Clock:
    """The wall clock, or an accelerated one from `clock_start` at `clock_speed` (reading
    `clock_start` at the real instant `epoch`, when given: a clock shared with the engine)."""
    if clock_speed <= 0:
        raise ValueError(f"--clock-speed must be greater than 0 (got {clock_speed})")
    if clock_start is None and clock_speed == 1 and epoch is None:
        return WallClock()
    return AcceleratedClock(clock_start or epoch or datetime.now(UTC), clock_speed, epoch)


def write_record(gw: SimulatedGateway, path: str) -> None:
    """Every order the gateway booked and every execution of the run, as JSON: what a test of
    another process (the engine) reads as the broker's own record."""
    import json
    from pathlib import Path

    orders = [
        {"perm_id": o.perm_id, "client_id": o.client_id, "order_id": o.order_id,
         "symbol": o.symbol, "action": o.action, "quantity": o.quantity,
         "order_type": o.order_type, "order_ref": o.order_ref, "status": o.status,
         "filled": o.filled, "placed_at": o.placed_at}
        for o in sorted(gw.book.orders.values(), key=lambda o: o.perm_id)
    ]
    executions = [
        {"exec_id": e.exec_id, "perm_id": e.perm_id, "client_id": e.client_id,
         "order_id": e.order_id, "order_ref": e.order_ref, "symbol": e.symbol, "side": e.side,
         "qty": e.qty, "price": e.price, "time": e.time.isoformat()}
        for e in gw.executions
    ]
    record = {
        "account": gw.account_id,
        "clock": gw.clock.now().isoformat(),
        "opening_positions": {p.symbol: p.quantity for p in gw.scenario.positions},
        "order_refs_received": list(gw.order_refs_received),
        "orders": orders,
        "executions": executions,
    }
    target = Path(path)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(json.dumps(record, indent=1))
    tmp.replace(target)  # a reader never sees half a record


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
    epoch: datetime | None = None,
    record: str | None = None,
) -> int:
    """Run the gateway until Ctrl+C (SIGINT/SIGTERM) or `stop` is set; returns an exit code.

    0 after a clean stop, 1 when the port cannot be opened, 2 for a bad scenario or option.
    """

    def say(line: str) -> None:
        print(line, file=out, flush=True)

    try:
        sc = load_scenario(scenario)
        clock = make_clock(clock_start, clock_speed, epoch)
    except (ScenarioError, ValueError) as exc:
        say(f"error: {exc}")
        return 2

    gw = SimulatedGateway(sc, clock, host=host, port=port, seed=seed, run_id=fresh_run_id())

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
        if record:
            write_record(gw, record)
        say(f"{stamp()}  gateway stopped")
    return 0
