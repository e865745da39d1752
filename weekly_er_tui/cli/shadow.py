"""`weekly-er-tui shadow-report`: a shadow engine's week, against the account's real executions
(weekly_er_tui/shadow/report.py), from its data directory alone."""

from __future__ import annotations

import argparse
from datetime import date, timedelta
from pathlib import Path
from typing import TextIO

from weekly_er_tui.cli.common import EXIT_BAD_INPUT, EXIT_OK, Subcommands, add_command


def _week(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--week must be a date YYYY-MM-DD, any day of the week (got {text!r})") from None


def _window(text: str) -> float:
    try:
        minutes = float(text)
    except ValueError:
        minutes = -1.0
    if not 0 < minutes <= 24 * 60:
        raise argparse.ArgumentTypeError(
            f"--window must be minutes, more than 0 and at most 1440 (got {text!r})")
    return minutes


def add_commands(sub: Subcommands) -> None:
    p = add_command(sub, "shadow-report", cmd_shadow_report,
                    "a shadow engine's would-be orders against the account's real executions")
    p.add_argument("--data-dir", default=".", metavar="DIR",
                   help="the shadow engine's data directory (default: the current directory)")
    p.add_argument("--week", type=_week, default=None, metavar="YYYY-MM-DD",
                   help="any day of the week to report (default: the last week journaled)")
    p.add_argument("--window", type=_window, default=30.0, metavar="MINUTES",
                   help="how far apart in time a would-be order and a real one may be to match "
                        "(default 30)")
    p.add_argument("--csv", action="store_true", help="CSV instead of text")


def cmd_shadow_report(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from weekly_er_tui.shadow import report
    from weekly_er_tui.shadow.journal import SHADOW_ORDERS

    data_dir = Path(args.data_dir)
    if not (data_dir / "logs" / SHADOW_ORDERS).exists():
        print(f"shadow-report: {data_dir / 'logs' / SHADOW_ORDERS} does not exist: "
              "give the --data-dir of an engine run with `run --shadow` (or \"mode\": "
              "\"shadow\")", file=err)
        return EXIT_BAD_INPUT
    rep = report.build(data_dir, args.week, timedelta(minutes=args.window))
    out.write(report.to_csv(rep) if args.csv else report.text(rep))
    return EXIT_OK
