"""`weekly-er-tui sim`: the simulated IB Gateway standalone, until Ctrl+C."""

from __future__ import annotations

import argparse
import asyncio
from typing import TextIO

from weekly_er_tui.cli import values
from weekly_er_tui.cli.common import (
    EXIT_OK,
    LOG_LEVELS,
    Subcommands,
    add_command,
    add_epoch_flag,
)


def add_commands(sub: Subcommands) -> None:
    p = add_command(sub, "sim", cmd_sim,
                    "run the simulated IB Gateway standalone until Ctrl+C")
    p.add_argument("--host", default="127.0.0.1", type=values.host)
    p.add_argument("--port", type=values.port, default=7497, help="1-65535 (default 7497)")
    p.add_argument("--scenario", default="demo", metavar="NAME|PATH")
    p.add_argument("--clock-start", default=None, metavar="ISO8601", type=values.clock_start)
    p.add_argument("--clock-speed", type=values.clock_speed, default=1.0, metavar="X",
                   help="simulated seconds per real second, 0.01-100000 (default 1)")
    add_epoch_flag(p)
    p.add_argument("--seed", type=values.client_id, default=1, metavar="N",
                   help="the price seed (default 1, or the scenario's own)")
    p.add_argument("--record", default=None, metavar="PATH",
                   help="at the stop, write every order and execution of the run here (JSON)")
    p.add_argument("--log-level", default="INFO", choices=LOG_LEVELS)


def cmd_sim(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from weekly_er_tui.journal import setup_logging
    from weekly_er_tui.sim.standalone import run_standalone

    # The gateway prints its own line per connect and order; the log adds only problems
    # (or everything, with --log-level DEBUG).
    setup_logging(None, "DEBUG" if args.log_level == "DEBUG" else "WARNING", console=err)
    start = args.clock_start  # checked by values.clock_start
    try:
        return asyncio.run(
            run_standalone(args.host, args.port, args.scenario, start, args.clock_speed, out,
                           seed=args.seed, epoch=args.clock_epoch, record=args.record)
        )
    except KeyboardInterrupt:
        return EXIT_OK
