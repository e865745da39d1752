"""Where the engine runs: headless, or under the Textual app and on without it when the
screen goes.

The engine's task belongs to this loop, not to the app: the app hosts it (its worker awaits the
task, shielded) and renders it. When the terminal goes away (SIGHUP from a dropped SSH link or
a killed tmux pane, or a write to it fails) the app leaves and the engine simply goes on,
headless, in the same loop: no reconnect, no gap in heartbeats or safety checks; the trader is
told (event and MEDIUM alert) and can `weekly-er-tui attach` again. SIGTERM and SIGINT stop it
cleanly, as headless does.

`run_headless` is the documented `enhanced_live_runner`: the same engine as the app, without a
screen, for tmux or systemd. SIGTERM, SIGINT and SIGHUP stop it cleanly.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
from pathlib import Path
from typing import Any, TextIO

from weekly_er_tui.cli.common import EXIT_FAILURE, EXIT_OK
from weekly_er_tui.clock import ET, Clock
from weekly_er_tui.config import AppConfig
from weekly_er_tui.journal import setup_logging
from weekly_er_tui.model import Alert, EngineState, EventType, Severity

log = logging.getLogger("weekly_er_tui.runner")

SCREEN_LOST = "screen lost: monitoring continues headless; attach with `weekly-er-tui attach`"
START_TIMEOUT_S = 30.0


async def started(engine: Any, task: asyncio.Task[None]) -> bool:
    """Wait until the engine has claimed its account and socket (True) or ended (False)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + START_TIMEOUT_S
    while not task.done() and not engine.state.is_running and loop.time() < deadline:
        await asyncio.sleep(0.01)
    return not task.done()


def detach_from_terminal() -> None:
    """stdin, stdout and stderr to /dev/null: nothing later can block on, or fail writing to,
    a terminal that is gone."""
    fd = os.open(os.devnull, os.O_RDWR)
    try:
        for target in (0, 1, 2):
            os.dup2(fd, target)
    finally:
        os.close(fd)


async def host_in_app(engine: Any, config: AppConfig, clock: Clock, *,
                      run_for: float | None = None, title: str = "Weekly ER") -> asyncio.Task[None]:
    """Run the app over the engine until it quits, a stop signal, or the screen is lost; returns
    the engine's task (done, or still running headless when the screen was lost)."""
    from weekly_er_tui.ui.app import WeeklyERApp

    loop = asyncio.get_running_loop()
    task = asyncio.create_task(engine.run(), name="engine")
    if not await started(engine, task):
        return task
    lost: list[str] = []
    stopping: list[asyncio.Future[None]] = []

    def screen_lost(why: str) -> None:
        if lost or stopping:
            return
        lost.append(why)
        engine.journal.event(
            EventType.SYSTEM, Severity.MEDIUM,
            f"Screen lost ({why}): monitoring continues headless; attach with "
            f"`weekly-er-tui attach --data-dir {engine.data_dir.absolute()}`", {"why": why})
        engine.alert(Alert(
            key="screen_lost", priority=Severity.MEDIUM, kind="system", title=SCREEN_LOST,
            body=f"The cockpit's terminal went away ({why}). The engine goes on without a "
                 f"screen: heartbeats, safety checks, the strategy and the Friday close. "
                 f"`weekly-er-tui attach --data-dir {engine.data_dir.absolute()}` shows it "
                 f"again; `weekly-er-tui status` tells its state."))
        app.exit()

    def stop_signal(name: str) -> None:
        if stopping:
            return
        engine.journal.event(EventType.SYSTEM, Severity.INFO,
                             f"{name} received: stopping cleanly", {"signal": name})
        stopping.append(asyncio.ensure_future(engine.stop(by=name)))
        if not lost:
            app.exit()

    app = WeeklyERApp(engine, clock=clock, limits=config.safety_limits, title=title,
                      engine_task=task, on_screen_lost=screen_lost)
    handlers = {signal.SIGHUP: lambda: screen_lost("SIGHUP: the terminal hung up"),
                signal.SIGTERM: lambda: stop_signal("SIGTERM"),
                signal.SIGINT: lambda: stop_signal("SIGINT")}
    installed = []
    for sig, fn in handlers.items():
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, fn)
            installed.append(sig)
    stopper = None
    if run_for is not None:
        async def stop_later() -> None:
            await clock.sleep(run_for)
            await engine.stop(by="--run-for (its time was up)")
            app.exit()

        stopper = asyncio.ensure_future(stop_later())
    try:
        await app.run_async()
        if lost:
            detach_from_terminal()
            log.warning("screen lost (%s): the engine goes on headless", lost[0])
        elif not task.done():
            await engine.stop()  # the trader quit (the app asked already), or run_for
        await asyncio.shield(task)
    finally:
        if stopper is not None:
            stopper.cancel()
        for sig in installed:
            loop.remove_signal_handler(sig)
    return task


def build_engine(config: AppConfig, data_dir: Path, clock: Clock, err: TextIO,
                 connection: Any = None) -> Any:
    """The engine, or None after printing why it cannot start (a bad part of the config)."""
    from weekly_er_tui.alerts import AlertConfigError
    from weekly_er_tui.engine import TradingEngine
    from weekly_er_tui.store import StoreError

    try:
        return TradingEngine(config, data_dir=data_dir, clock=clock, connection=connection)
    except AlertConfigError as exc:
        print("Configuration error in alerts; nothing was started:", file=err)
        for p in exc.problems:
            print(f"  - {p}", file=err)
    except StoreError as exc:
        print(f"State database error; nothing was started:\n  {exc}", file=err)
    except OSError as exc:
        where = exc.filename or data_dir
        print(f"Cannot open the data directory's files ({where}: {exc.strerror or exc}); "
              f"nothing was started. Make {data_dir} writable or give another --data-dir.",
              file=err)
    return None


async def run_headless(engine: Any, run_for: float | None = None) -> int:
    """Run the engine until a signal (or `run_for` seconds of the engine's clock)."""
    loop = asyncio.get_running_loop()
    stopping: list[asyncio.Future[None]] = []

    def on_signal(name: str) -> None:
        if not stopping:
            engine.journal.event(EventType.SYSTEM, Severity.INFO,
                                 f"{name} received: stopping cleanly", {"signal": name})
            stopping.append(asyncio.ensure_future(engine.stop(by=name)))

    installed = []
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, on_signal, sig.name)
            installed.append(sig)
    timer = None
    if run_for is not None:
        async def stop_later() -> None:
            await engine.clock.sleep(run_for)
            await engine.stop(by="--run-for (its time was up)")

        timer = asyncio.ensure_future(stop_later())
    try:
        await engine.run()
    finally:
        if timer is not None:
            timer.cancel()
        for sig in installed:
            loop.remove_signal_handler(sig)
        engine.close()
    return refused(engine)


def refused(engine: Any) -> int:
    """EXIT_FAILURE, said on stderr, when the engine would not trade (another holds the
    account or the data directory)."""
    import sys

    if engine.refused:
        print(f"weekly-er-tui: not started: {engine.refused}", file=sys.stderr)
        return EXIT_FAILURE
    return EXIT_OK


def setup_logs(args: argparse.Namespace, clock: Clock, headless: bool, err: TextIO) -> list[Any]:
    return setup_logging(args.data_dir, args.log_level, clock, console=err if headless else None)


async def host(engine: Any, config: AppConfig, clock: Clock, *, headless: bool,
               run_for: float | None = None, title: str = "Weekly ER") -> int:
    """Run the engine headless, or in the app (which hosts it as a worker), until stopped."""
    if headless:
        return await run_headless(engine, run_for)
    try:
        task = await host_in_app(engine, config, clock, run_for=run_for, title=title)
        if task.done() and not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            log.error("the engine stopped with an error: %r", exc)
            return EXIT_FAILURE
    finally:
        if engine.state.is_running:
            await engine.stop()
        engine.close()
    if task.done() and not engine.refused:
        # The screen is the terminal's again: say what stays at IB and where to look.
        import sys

        with contextlib.suppress(OSError, ValueError):
            print(farewell(engine.state, engine.data_dir), file=sys.stdout, flush=True)
    return refused(engine)


def farewell(state: EngineState, data_dir: Path) -> str:
    """What the terminal says after the cockpit quits: the trading state, the positions left
    at IB unwatched, and where the logs and the state are."""
    when = f" at {state.timestamp.astimezone(ET):%Y-%m-%d %H:%M} ET" if state.timestamp else ""
    lines = [f"weekly-er-tui stopped{when}; trading state {state.trading_state.value}."]
    held = [p for p in (state.portfolio.positions if state.portfolio else ()) if p.quantity]
    if held:
        names = ", ".join(f"{p.symbol} {p.quantity:+g}" for p in held[:8])
        more = f" and {len(held) - 8} more" if len(held) > 8 else ""
        lines.append(f"{len(held)} position{'s' * (len(held) != 1)} left at IB as "
                     f"{'they are' if len(held) != 1 else 'it is'} ({names}{more}): nothing "
                     f"watches {'them' if len(held) != 1 else 'it'} until the next start "
                     f"(`weekly-er-tui run --headless` keeps watching without a screen).")
    elif state.portfolio is not None:
        lines.append("No position left at IB.")
    where = data_dir.absolute()
    lines.append(f"Logs: {where / 'logs'} (enhanced_trading.log, events_log.csv, "
                 f"trade_journal.csv); state: {where / 'state'}.")
    return "\n".join(lines)
