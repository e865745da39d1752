"""`weekly-er-tui demo`: the engine on the embedded simulated gateway (no IB account), in the
demo's own data directory."""

from __future__ import annotations

import argparse
import asyncio
import shutil
from dataclasses import replace
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any, TextIO

from weekly_er_tui.cli import values
from weekly_er_tui.cli.common import (
    EXIT_BAD_INPUT,
    Subcommands,
    add_command,
    add_common,
    load_or_report,
)
from weekly_er_tui.cli.hosting import build_engine, host, setup_logs
from weekly_er_tui.clock import ET, AcceleratedClock, Clock, WallClock
from weekly_er_tui.config import AppConfig
from weekly_er_tui.journal import remove_handlers
from weekly_er_tui.model import Alert, Severity

# The demo's own data directories carry this file: the only state databases it may delete.
DEMO_MARKER = ".weekly-er-tui-demo"
# The last run's journals and logs, moved here when the next run starts.
PREVIOUS_RUN = "previous-run"


def add_commands(sub: Subcommands) -> None:
    p = add_command(sub, "demo", cmd_demo,
                    "run on the embedded simulated gateway (no IB account)")
    add_common(p, data_dir="demo-data")
    add_demo_flags(p)
    p.add_argument("--headless", action="store_true", help="no screen: log to console and files")
    p.add_argument("--send-alerts", action="store_true",
                   help="send the demo's alerts on the config's email, SMS and push channels, "
                        "tagged [DEMO] (default: the alert log only)")


def add_demo_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--scenario", default="demo", metavar="NAME|PATH",
                   help="built-in scenario name or a scenario JSON file (default: demo)")
    p.add_argument("--clock-start", default=None, metavar="ISO8601", type=values.clock_start,
                   help="simulated start instant (default: a moment in a trading session)")
    p.add_argument("--clock-speed", type=values.clock_speed, default=1.0, metavar="X",
                   help="simulated seconds per real second, 0.01-100000 (default 1)")
    p.add_argument("--run-for", default=None, metavar="DURATION", type=values.duration,
                   help="stop after this much simulated time, e.g. 90m, 2h, 5d (at most 366d)")


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
    from weekly_er_tui.sim import SimulatedGateway, fresh_run_id
    from weekly_er_tui.sim.scenario import ScenarioError, load_scenario

    loaded = load_or_report(args.config, err, say_defaults=False)
    if loaded is None:
        return EXIT_BAD_INPUT
    try:
        scenario = load_scenario(args.scenario)
        # --run-for, --clock-start and --clock-speed are checked by cli.values as argparse reads
        # them.
        run_for = args.run_for
        start = args.clock_start or demo_start(WallClock().now())
    except (ScenarioError, ValueError) as exc:
        print(f"weekly-er-tui demo: {exc}", file=err)
        return EXIT_BAD_INPUT
    data_dir = Path(args.data_dir)
    clock = AcceleratedClock(start, args.clock_speed)
    gateway = SimulatedGateway(scenario, clock, port=0, seed=scenario.seed or 1,
                               run_id=fresh_run_id())
    try:
        config = prepare_demo(loaded.config, scenario, data_dir, clock,
                              send_alerts=args.send_alerts)
    except NotADemoDir as exc:
        print(f"weekly-er-tui demo: {exc}", file=err)
        return EXIT_BAD_INPUT
    calendar_note = replaced_calendar_note(loaded.config, args.scenario)
    if calendar_note:
        print(f"Demo: {calendar_note}", file=err)
    if (data_dir / PREVIOUS_RUN).is_dir():
        print(f"Demo: a fresh simulated account; the last run's journals and logs are in "
              f"{data_dir / PREVIOUS_RUN}", file=err)
    args.data_dir = str(data_dir)
    wired = loaded.config.alerts.email_enabled or bool(loaded.config.alerts.notify)
    if wired and not args.send_alerts:
        print("Demo: alerts stay in the alert log: the config's email, SMS and push channels "
              "are not used (pass --send-alerts to send them, tagged [DEMO])", file=err)
    handlers = setup_logs(args, clock, args.headless, err)
    try:
        async def demo() -> int:
            await gateway.start()
            try:
                engine = build_engine(config, data_dir, clock, err,
                                      connection=_demo_connection(config, gateway.port))
                if engine is None:
                    return EXIT_BAD_INPUT
                engine.alerts.set_context(tag="DEMO")
                if calendar_note:
                    engine.alert(Alert(key="demo_calendar", priority=Severity.LOW,
                                       kind="system", title=calendar_note))
                if args.headless:
                    print(f"Demo: simulated gateway on 127.0.0.1:{gateway.port}, clock starts "
                          f"{start.astimezone(ET):%a %Y-%m-%d %H:%M} ET at "
                          f"{args.clock_speed:g}x; logs in {data_dir / 'logs'}", file=err)
                return await host(engine, config, clock, headless=args.headless,
                                  run_for=run_for,
                                  title="Weekly ER — DEMO (simulated gateway)")
            finally:
                await gateway.stop()

        return asyncio.run(demo())
    finally:
        remove_handlers(handlers)


def replaced_calendar_note(config: AppConfig, scenario: str) -> str:
    """What the trader must be told when the config names an earnings calendar: the demo does
    not use it. The simulated gateway knows only the scenario's symbols (a real calendar's
    would have no contract and no price), so the scenario's week of reports is traded."""
    mine = config.strategy.calendar_file
    if not mine:
        return ""
    return (f"strategy.calendar_file {mine} is not used: the demo trades scenario {scenario!r}'s "
            f"earnings calendar (the simulated gateway knows only its symbols). To rehearse "
            f"your own calendar, put its symbols and reports in a scenario file "
            f"(--scenario PATH; see weekly_er_tui/sim/SCENARIOS.md)")


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


def set_aside_last_run(data_dir: Path) -> None:
    """Move the last run's journals and logs to `previous-run/` (replacing the run before it).
    Each run starts a fresh simulated account and a fresh state database: journals kept in
    place would describe another account, and the engine would take their entries for this
    week's (the lost-state rebuild records them as filled and never sends them)."""
    logs = data_dir / "logs"
    if not logs.is_dir() or not any(logs.iterdir()):
        return
    previous = data_dir / PREVIOUS_RUN
    if previous.is_dir():
        shutil.rmtree(previous)
    previous.mkdir()
    logs.rename(previous / "logs")


def prepare_demo(config: AppConfig, scenario: Any, data_dir: Path, clock: Clock, *,
                 send_alerts: bool = False) -> AppConfig:
    """The demo's data directory: a fresh state database and journals (the last run's are set
    aside), and the scenario's earnings calendar.
    Its alerts reach the config's channels only when asked (`send_alerts`): a simulation must
    not page the trader.
    The scenario's opening positions are the trader's own holdings (on the orphan ignore list):
    the strategy trades the week's reports beside them and closes only its own on Friday."""
    from weekly_er_tui.store import Store
    from weekly_er_tui.strategy.calendars import market_calendar

    claim_demo_dir(data_dir)
    set_aside_last_run(data_dir)
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
    update: dict[str, Any] = {"strategy": strategy, "safety_limits": limits}
    if not send_alerts:
        update["alerts"] = config.alerts.model_copy(update={"email_enabled": False,
                                                            "notify": []})
    return config.model_copy(update=update)
