"""`weekly-er-tui run`: the engine on the configured IB connection, in the cockpit or headless
(the default command)."""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import replace
from pathlib import Path
from typing import TextIO

from weekly_er_tui.cli import values
from weekly_er_tui.cli.common import (
    EXIT_BAD_INPUT,
    Subcommands,
    add_command,
    add_common,
    add_epoch_flag,
    add_shadow_flag,
    config_of,
    load_or_report,
)
from weekly_er_tui.cli.hosting import build_engine, host, setup_logs
from weekly_er_tui.clock import AcceleratedClock, Clock, WallClock
from weekly_er_tui.config import AppConfig
from weekly_er_tui.journal import remove_handlers


def add_commands(sub: Subcommands) -> None:
    p = add_command(sub, "run", cmd_run,
                    "run on the configured IB connection (the default command)")
    add_common(p)
    p.add_argument("--headless", action="store_true", help="no screen: log to console and files")
    add_shadow_flag(p, "decide and journal everything beside the system that trades the "
                       "account, send nothing")
    p.add_argument("--clock-start", default=None, metavar="ISO8601", type=values.clock_start,
                   help="a simulated clock from this instant, shared with `weekly-er-tui sim` "
                        "(a paper or simulated account only: refused on a live account)")
    p.add_argument("--clock-speed", type=values.clock_speed, default=1.0, metavar="X",
                   help="the simulated clock's speed, 0.01-100000 (default 1)")
    add_epoch_flag(p)


def cmd_run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    loaded = load_or_report(args.config, err)
    if loaded is None:
        return EXIT_BAD_INPUT
    config = config_of(loaded, args)
    clock: Clock = WallClock()
    connection = None
    if simulated_clock_asked(args):
        if config.live:
            print(f"weekly-er-tui run: {simulated_clock_refused(config)}", file=err)
            return EXIT_BAD_INPUT
        from weekly_er_tui.broker.connection import ConnectionConfig

        start = args.clock_start or args.clock_epoch or WallClock().now()
        clock = AcceleratedClock(start, args.clock_speed, args.clock_epoch)
        # The connect refuses a live account again (the account IB names decides).
        connection = replace(ConnectionConfig.from_config(config), simulated_clock=True)
    handlers = setup_logs(args, clock, args.headless, err)
    try:
        engine = build_engine(config, Path(args.data_dir), clock, err, connection=connection)
        if engine is None:
            return EXIT_BAD_INPUT
        if config.shadow:
            print("SHADOW mode: every order is decided, gated and journaled in "
                  f"{Path(args.data_dir) / 'logs' / 'shadow_orders.csv'}; NONE is sent to IB.",
                  file=err)
        return asyncio.run(host(engine, config, clock, headless=args.headless))
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
