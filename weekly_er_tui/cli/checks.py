"""The checks: `check-config` (the config and the files it names), `check connection` and `check
safety` (against the configured gateway), `test-alert` (every enabled channel)."""

from __future__ import annotations

import argparse
import asyncio
import json
from dataclasses import replace
from pathlib import Path
from typing import TextIO

from weekly_er_tui.cli.check_reports import connection_lines, safety_lines
from weekly_er_tui.cli.common import (
    DEFAULT_CONFIG,
    EXIT_BAD_INPUT,
    EXIT_CRITICAL,
    EXIT_FAILURE,
    EXIT_OK,
    LOG_LEVELS,
    Subcommands,
    add_command,
    add_common,
    load_or_report,
)
from weekly_er_tui.config import AppConfig
from weekly_er_tui.journal import remove_handlers, setup_logging


def add_commands(sub: Subcommands) -> None:
    p = add_command(sub, "check-config", cmd_check_config,
                    "validate a config file and print it, secrets masked")
    p.add_argument("path", nargs="?", default=DEFAULT_CONFIG)
    p.add_argument("--log-level", default="INFO", choices=LOG_LEVELS)

    p = add_command(sub, "check", cmd_check, "test the connection monitoring or the safety check")
    p.add_argument("what", choices=["connection", "safety"])
    add_common(p)

    p = add_command(sub, "test-alert", cmd_test_alert,
                    "send one test alert on every enabled channel")
    add_common(p)


def cmd_check_config(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    loaded = load_or_report(args.path, err)
    if loaded is None:
        return EXIT_BAD_INPUT
    # What only the parts can tell (template files, smtp_ca_file, URLs apprise cannot read, the
    # earnings calendar): the checks run makes, so OK here means run starts.
    from weekly_er_tui.preflight import preflight

    alert_problems = preflight(loaded.config)
    if alert_problems:
        print(f"Configuration error in {args.path}; nothing was started:", file=err)
        for problem in alert_problems:
            print(f"  - {problem}", file=err)
        return EXIT_BAD_INPUT
    print(f"{args.path}: OK", file=out)
    print(json.dumps(loaded.config.masked(), indent=2), file=out)
    return EXIT_OK


def cmd_test_alert(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    loaded = load_or_report(args.config, err)
    if loaded is None:
        return EXIT_BAD_INPUT
    from weekly_er_tui.alerts.testalert import send_test_alert

    return asyncio.run(send_test_alert(loaded.config, out))


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
        for line in connection_lines(monitor.stats()):
            print(line, file=out)
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
    for line in safety_lines(report):
        print(line, file=out)
    critical = any(v["severity"] == "CRITICAL" for v in report["violations"])
    return EXIT_CRITICAL if critical else EXIT_OK
