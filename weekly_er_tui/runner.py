"""The CLI's long-running commands: run (app or headless), demo, check, flatten.

`weekly-er-tui run --headless` is the documented `enhanced_live_runner`: the same engine as the
app, without a screen, for tmux or systemd. SIGTERM, SIGINT and SIGHUP stop it cleanly.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
from dataclasses import replace
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any, TextIO

from weekly_er_tui.cli import (
    EXIT_BAD_INPUT,
    EXIT_CRITICAL,
    EXIT_FAILURE,
    EXIT_OK,
    Handler,
    load_or_report,
)
from weekly_er_tui.cli_args import parse_duration
from weekly_er_tui.clock import ET, AcceleratedClock, Clock, WallClock
from weekly_er_tui.config import AppConfig
from weekly_er_tui.journal import remove_handlers, setup_logging

# The demo's own data directories carry this file: the only state databases it may delete.
DEMO_MARKER = ".weekly-er-tui-demo"

log = logging.getLogger("weekly_er_tui.runner")


def _build_engine(config: AppConfig, data_dir: Path, clock: Clock, err: TextIO,
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
            from weekly_er_tui.model import EventType, Severity

            engine.journal.event(EventType.SYSTEM, Severity.INFO,
                                 f"{name} received: stopping cleanly", {"signal": name})
            stopping.append(asyncio.ensure_future(engine.stop()))

    installed = []
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, on_signal, sig.name)
            installed.append(sig)
    timer = None
    if run_for is not None:
        async def stop_later() -> None:
            await engine.clock.sleep(run_for)
            await engine.stop()

        timer = asyncio.ensure_future(stop_later())
    try:
        await engine.run()
    finally:
        if timer is not None:
            timer.cancel()
        for sig in installed:
            loop.remove_signal_handler(sig)
        engine.close()
    return _refused(engine)


def _refused(engine: Any) -> int:
    """EXIT_FAILURE, said on stderr, when the engine would not trade (another holds the
    account or the data directory)."""
    import sys

    if engine.refused:
        print(f"weekly-er-tui: not started: {engine.refused}", file=sys.stderr)
        return EXIT_FAILURE
    return EXIT_OK


def _setup(args: argparse.Namespace, clock: Clock, headless: bool, err: TextIO) -> list[Any]:
    return setup_logging(args.data_dir, args.log_level, clock, console=err if headless else None)


def cmd_run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    loaded = load_or_report(args.config, err)
    if loaded is None:
        return EXIT_BAD_INPUT
    clock: Clock = WallClock()
    connection = None
    if simulated_clock_asked(args):
        if loaded.config.live:
            print(f"weekly-er-tui run: {simulated_clock_refused(loaded.config)}", file=err)
            return EXIT_BAD_INPUT
        from weekly_er_tui.broker.connection import ConnectionConfig

        start = args.clock_start or args.clock_epoch or WallClock().now()
        clock = AcceleratedClock(start, args.clock_speed, args.clock_epoch)
        # The connect refuses a live account again (the account IB names decides).
        connection = replace(ConnectionConfig.from_config(loaded.config), simulated_clock=True)
    handlers = _setup(args, clock, args.headless, err)
    try:
        engine = _build_engine(loaded.config, Path(args.data_dir), clock, err,
                               connection=connection)
        if engine is None:
            return EXIT_BAD_INPUT
        return asyncio.run(_host(engine, loaded.config, clock, headless=args.headless))
    finally:
        remove_handlers(handlers)


def simulated_clock_asked(args: argparse.Namespace) -> bool:
    """Whether `run` was given a simulated clock (--clock-start, --clock-speed, --clock-epoch)."""
    return (getattr(args, "clock_start", None) is not None
            or getattr(args, "clock_speed", 1.0) != 1.0
            or getattr(args, "clock_epoch", None) is not None)


def simulated_clock_refused(config: AppConfig) -> str:
    what = f"account {config.account}" if config.account else f"ib_port {config.ib_port}"
    return (f"--clock-start/--clock-speed/--clock-epoch refused: {what} is LIVE (real money), "
            "and a simulated clock would time its entries and Friday close wrongly. Drop those "
            "flags, or point ib_port at a paper account or `weekly-er-tui sim`")


async def _host(engine: Any, config: AppConfig, clock: Clock, *, headless: bool,
                run_for: float | None = None, title: str = "Weekly ER") -> int:
    """Run the engine headless, or in the app (which hosts it as a worker), until stopped."""
    if headless:
        return await run_headless(engine, run_for)
    from weekly_er_tui.app_host import host_in_app

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
    return _refused(engine)


def demo_start(now: datetime) -> datetime:
    """A moment in a trading session, so the demo is alive at any time of day: now when the
    market is open, else 10:30 ET of the most recent session."""
    from weekly_er_tui.strategy.calendars import market_calendar

    cal = market_calendar()
    if cal.is_open(now):
        return now
    day = now.astimezone(ET).date()
    while not cal.is_session(day) or (
        day == now.astimezone(ET).date() and now < cal.session_open(day)
    ):
        day -= timedelta(days=1)
    return datetime.combine(day, time(10, 30), ET)


def cmd_demo(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from weekly_er_tui.sim import SimulatedGateway
    from weekly_er_tui.sim.scenario import ScenarioError, load_scenario

    loaded = load_or_report(args.config, err)
    if loaded is None:
        return EXIT_BAD_INPUT
    try:
        scenario = load_scenario(args.scenario)
        # --run-for, --clock-start and --clock-speed are checked by cli_args as argparse reads
        # them.
        run_for = args.run_for
        start = args.clock_start or demo_start(WallClock().now())
    except (ScenarioError, ValueError) as exc:
        print(f"weekly-er-tui demo: {exc}", file=err)
        return EXIT_BAD_INPUT
    data_dir = Path(args.data_dir if args.data_dir != "." else "demo-data")
    clock = AcceleratedClock(start, args.clock_speed)
    gateway = SimulatedGateway(scenario, clock, port=0, seed=scenario.seed or 1)
    try:
        config = prepare_demo(loaded.config, scenario, data_dir, clock)
    except NotADemoDir as exc:
        print(f"weekly-er-tui demo: {exc}", file=err)
        return EXIT_BAD_INPUT
    args.data_dir = str(data_dir)
    handlers = _setup(args, clock, args.headless, err)
    try:
        async def demo() -> int:
            await gateway.start()
            try:
                engine = _build_engine(config, data_dir, clock, err,
                                       connection=_demo_connection(config, gateway.port))
                if engine is None:
                    return EXIT_BAD_INPUT
                if args.headless:
                    print(f"Demo: simulated gateway on 127.0.0.1:{gateway.port}, clock starts "
                          f"{start.astimezone(ET):%a %Y-%m-%d %H:%M} ET at "
                          f"{args.clock_speed:g}x; logs in {data_dir / 'logs'}", file=err)
                return await _host(engine, config, clock, headless=args.headless,
                                   run_for=run_for,
                                   title="Weekly ER — DEMO (simulated gateway)")
            finally:
                await gateway.stop()

        return asyncio.run(demo())
    finally:
        remove_handlers(handlers)


def _demo_connection(config: AppConfig, port: int) -> Any:
    from weekly_er_tui.broker.connection import ConnectionConfig

    cfg = ConnectionConfig.from_config(config)
    return replace(cfg, host="127.0.0.1", port=port)


class NotADemoDir(ValueError):
    """--data-dir holds the app's files but not the demo's marker: it may be the trader's."""


def claim_demo_dir(data_dir: Path) -> None:
    """Make `data_dir` the demo's own (the marker), unless it already holds a state database or
    journals that the demo did not create: those may be the trader's HALT latch and intents."""
    marker = data_dir / DEMO_MARKER
    if marker.exists():
        return
    theirs = [p for p in (data_dir / "state", data_dir / "logs") if p.is_dir() and any(p.iterdir())]
    if theirs:
        raise NotADemoDir(
            f"--data-dir {data_dir} is not a demo data directory (it holds "
            f"{' and '.join(p.name + '/' for p in theirs)} but no {DEMO_MARKER}): the demo "
            f"would replace its state database. Give the demo a new directory, e.g. "
            f"--data-dir demo-data (or delete {data_dir} yourself if it is an old demo's)"
        )
    data_dir.mkdir(parents=True, exist_ok=True)
    marker.write_text("Made by `weekly-er-tui demo`: its state database may be replaced.\n")


def prepare_demo(config: AppConfig, scenario: Any, data_dir: Path, clock: Clock) -> AppConfig:
    """The demo's data directory: a fresh state database, and the scenario's earnings calendar.
    The scenario's opening positions are the trader's own holdings (on the orphan ignore list):
    the strategy trades the week's reports beside them and closes only its own on Friday."""
    from weekly_er_tui.store import Store
    from weekly_er_tui.strategy.calendars import market_calendar

    claim_demo_dir(data_dir)
    for f in (data_dir / "state").glob("weekly_er.sqlite*"):
        f.unlink()
    Store.in_data_dir(data_dir).close()
    cal = market_calendar()
    calendar = data_dir / "demo_calendar.csv"
    rows = ["symbol,report_date,timing"]
    for e in scenario.earnings_for_week(clock.now()):
        day = e.date
        # A weekday entry can land on a holiday (Thanksgiving); companies report on sessions.
        if not cal.is_session(day):
            day = cal.previous_session(day)
        rows.append(f"{e.symbol},{day.isoformat()},{e.timing}")
    calendar.write_text("\n".join(rows) + "\n")
    strategy = config.strategy.model_copy(update={"calendar_file": str(calendar)})
    held = sorted({*config.safety_limits.orphan_ignore, *(p.symbol for p in scenario.positions)})
    limits = config.safety_limits.model_copy(update={"orphan_ignore": held})
    return config.model_copy(update={"strategy": strategy, "safety_limits": limits})


def cmd_check(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    loaded = load_or_report(args.config, err)
    if loaded is None:
        return EXIT_BAD_INPUT
    handlers = setup_logging(None, args.log_level, console=err)
    try:
        if args.what == "connection":
            return asyncio.run(check_connection(loaded.config, out))
        return asyncio.run(check_safety(loaded.config, out, Path(args.data_dir)))
    finally:
        remove_handlers(handlers)


async def check_connection(config: AppConfig, out: TextIO) -> int:
    """The documented 'test connection monitoring' step: connect, three heartbeats, stats."""
    from weekly_er_tui.broker.connection import (
        ConnectionConfig,
        ConnectionFailed,
        ConnectionMonitor,
    )

    cfg = ConnectionConfig.from_config(config)
    monitor = ConnectionMonitor(
        replace(cfg, max_reconnect_attempts=1)
    )
    try:
        await monitor.start(wait=True)
    except ConnectionFailed as exc:
        print(str(exc), file=out)
        await monitor.stop()
        return EXIT_FAILURE
    try:
        for i in range(3):
            ok = await monitor.heartbeat()
            lat = monitor.stats().heartbeat_latency.last_ms
            print(f"heartbeat {i + 1}: " + (f"ok, {lat:.1f} ms" if ok else "FAILED"), file=out)
            if not ok:
                return EXIT_FAILURE
        stats = monitor.get_connection_stats()
        print("Connection statistics:", file=out)
        for key, value in stats.items():
            print(f"  {key}: {value}", file=out)
        return EXIT_OK
    finally:
        await monitor.stop()


async def check_safety(config: AppConfig, out: TextIO, data_dir: Path | None = None) -> int:
    """Connect, run one safety check, print the report; exit 3 on anything CRITICAL.

    With the data directory's state database (when there is one) the check knows the strategy's
    tracked positions (orphans) and the stored baselines, as the running app does."""
    from weekly_er_tui.broker.connection import (
        ConnectionConfig,
        ConnectionFailed,
        RobustIBConnection,
    )
    from weekly_er_tui.safety import PositionSafetyManager
    from weekly_er_tui.store import Store

    cfg = ConnectionConfig.from_config(config)
    conn = RobustIBConnection(replace(cfg, max_reconnect_attempts=1))
    db = data_dir / "state" / "weekly_er.sqlite" if data_dir is not None else None
    store = Store(db) if db is not None and db.exists() else None
    try:
        async with conn as ib:
            safety = PositionSafetyManager(config.safety_limits, store=store)
            report = await safety.perform_safety_check(ib)
    except ConnectionFailed as exc:
        print(str(exc), file=out)
        return EXIT_FAILURE
    finally:
        if store is not None:
            store.close()
    print(f"Risk score: {report['overall_risk_score']}/100", file=out)
    print(f"Violations: {len(report['violations'])}", file=out)
    for v in report["violations"]:
        print(f"  [{v['severity']}] {v['rule']}: {v['message']}", file=out)
    critical = any(v["severity"] == "CRITICAL" for v in report["violations"])
    return EXIT_CRITICAL if critical else EXIT_OK


def cmd_flatten(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if not args.yes:
        print("weekly-er-tui flatten cancels EVERY open order and closes EVERY position in the "
              "account. Run it again with --yes to do it.", file=err)
        return EXIT_BAD_INPUT
    loaded = load_or_report(args.config, err)
    if loaded is None:
        return EXIT_BAD_INPUT
    routed = _through_engine("flatten", args, loaded.config, out,
                             reason="emergency flatten from the command line")
    if routed is not None:
        return routed
    print(f"No engine is running for {Path(args.data_dir).absolute()} (nor, by its lock, for "
          f"account {loaded.config.account or '(not configured)'}): flattening directly with "
          f"its own clientId.", file=out)
    clock = WallClock()
    handlers = setup_logging(args.data_dir, args.log_level, clock, console=err)
    try:
        return asyncio.run(flatten_account(loaded.config, Path(args.data_dir), clock, out,
                                           args.client_id))
    finally:
        remove_handlers(handlers)


async def flatten_account(config: AppConfig, data_dir: Path, clock: Clock, out: TextIO,
                          client_id: int | None = None) -> int:
    """From another terminal, with its own clientId, for when the app is gone."""
    from weekly_er_tui.broker.connection import (
        ConnectionConfig,
        ConnectionFailed,
        RobustIBConnection,
    )
    from weekly_er_tui.broker.orders import FillRecorder, OrderExecutor
    from weekly_er_tui.broker.portfolio import PortfolioTracker
    from weekly_er_tui.journal import Journal
    from weekly_er_tui.model import EventType, Severity, TradingState
    from weekly_er_tui.safety import PositionSafetyManager
    from weekly_er_tui.store import Store
    from weekly_er_tui.strategy.calendars import market_calendar

    cfg = ConnectionConfig.from_config(config)
    cid = client_id if client_id is not None else config.ib_client_id + 50
    journal = Journal(data_dir, clock)
    store = Store.in_data_dir(data_dir)
    cal = market_calendar()
    try:
        async with RobustIBConnection(
            replace(cfg, client_id=cid, max_reconnect_attempts=1),
            journal=journal, clock=clock,
        ) as ib:
            portfolio = PortfolioTracker(ib, clock, account=config.account or "")
            await portfolio.resync(ib)
            fills = FillRecorder(ib, journal, store, clock)
            # Through the safety manager, so the HALT is an event like any other.
            PositionSafetyManager(config.safety_limits, store=store, journal=journal,
                                  clock=clock).set_trading_state(
                TradingState.HALTED, "flattened from the command line")
            executor = OrderExecutor(
                ib, portfolio, store, journal, clock, config.safety_limits,
                trading_state=lambda: TradingState.HALTED,
                market_open=lambda: cal.is_open(clock.now()),
                closed_until=lambda: cal.closed_until(clock.now()),
            )
            journal.event(EventType.EMERGENCY_CLOSE, Severity.CRITICAL,
                          "Emergency close of ALL positions started from the command line", {})
            result = await executor.flatten("EMERGENCY")
            fills.close()
            journal.event(EventType.EMERGENCY_CLOSE, Severity.CRITICAL,
                          f"Emergency close finished: {'FLAT' if result.flat else 'NOT flat'}",
                          result.to_dict())
    except ConnectionFailed as exc:
        print(str(exc), file=out)
        return EXIT_FAILURE
    finally:
        journal.close()
        store.close()
    print(f"closed: {', '.join(result.closed) or 'none'}", file=out)
    for sym, why in result.failed:
        print(f"FAILED: {sym}: {why}", file=out)
    print(f"remaining positions: {', '.join(result.remaining) or 'none'}; "
          f"working orders: {result.working_orders}", file=out)
    print("Account is FLAT." if result.flat else "Account is NOT flat: act in TWS now.",
          file=out)
    print("Trading state set to HALTED: resume it in the app when it is safe.", file=out)
    return EXIT_OK if result.flat else EXIT_FAILURE


def _through_engine(cmd: str, args: argparse.Namespace, config: AppConfig, out: TextIO,
                    **fields: Any) -> int | None:
    """Send `cmd` to the running engine and report; None when no engine runs."""
    from weekly_er_tui.control.commands import send, where

    reply = send(Path(args.data_dir), cmd, config.account or "", **fields)
    if reply is None:
        return None
    if not reply.get("ok"):
        print(f"{cmd} not done by the running engine ({where(reply)}): {reply.get('error')}",
              file=out)
        return EXIT_FAILURE
    st = reply["status"]
    print(f"{cmd} done through the running engine ({where(reply)}).", file=out)
    print(f"Trading state now: {st['trading_state']}"
          + (f" ({st['trading_state_reason']})" if st["trading_state_reason"] else ""), file=out)
    if cmd == "flatten":
        print(f"Open positions: {st['positions']}" + (
            "; the flatten is QUEUED: it runs when the connection is back"
            if st["flatten_pending"] else ""), file=out)
        return EXIT_OK if st["positions"] == 0 or st["flatten_pending"] else EXIT_FAILURE
    return EXIT_OK


def cmd_trading_state(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """`pause` / `resume`: through the running engine, else written to the data directory's
    state database, which the next engine starts from."""
    from weekly_er_tui.model import EventType, Severity, TradingState
    from weekly_er_tui.safety import PositionSafetyManager
    from weekly_er_tui.store import Store

    loaded = load_or_report(args.config, err)
    if loaded is None:
        return EXIT_BAD_INPUT
    reason = f"{args.command}d from the command line"
    routed = _through_engine(args.command, args, loaded.config, out, reason=reason)
    if routed is not None:
        return routed
    data_dir = Path(args.data_dir)
    clock = WallClock()
    from weekly_er_tui.journal import Journal

    journal = Journal(data_dir, clock)
    store = Store.in_data_dir(data_dir)
    try:
        safety = PositionSafetyManager(loaded.config.safety_limits, store=store, journal=journal,
                                       clock=clock)
        if args.command == "pause":
            safety.pause(reason)
        else:
            safety.set_trading_state(TradingState.ACTIVE, reason)
        journal.event(EventType.SYSTEM, Severity.INFO,
                      f"{args.command} written to the state database: no engine was running", {})
        state = store.trading_state()[0].value
    finally:
        journal.close()
        store.close()
    print(f"No engine is running for {data_dir.absolute()}: trading state {state} written to "
          f"its state database directly; the next engine starts from it.", file=out)
    return EXIT_OK


def cmd_status(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    import json

    from weekly_er_tui.control.commands import send, status_text

    loaded = load_or_report(args.config, err)
    if loaded is None:
        return EXIT_BAD_INPUT
    reply = send(Path(args.data_dir), "status", loaded.config.account or "")
    if reply is None:
        if args.json:
            where = str(Path(args.data_dir).absolute())
            print(json.dumps({"is_running": False, "data_dir": where}), file=out)
        else:
            print(f"No engine is running for {Path(args.data_dir).absolute()}.", file=out)
        return EXIT_FAILURE
    if args.json:
        print(json.dumps({**reply["status"], "engine": reply["engine"],
                          "state": reply["state"]}, indent=2), file=out)
    else:
        status_text(reply, out)
    return EXIT_OK


def _attach(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from weekly_er_tui.attach import cmd_attach

    return cmd_attach(args, out, err)


HANDLERS: dict[str, Handler] = {
    "run": cmd_run,
    "demo": cmd_demo,
    "check": cmd_check,
    "flatten": cmd_flatten,
    "pause": cmd_trading_state,
    "resume": cmd_trading_state,
    "status": cmd_status,
    "attach": _attach,
}

__all__ = ["HANDLERS", "parse_duration", "run_headless"]

