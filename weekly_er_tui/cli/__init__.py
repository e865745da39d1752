"""The `weekly-er-tui` command and its subcommands, one module per command group.

Exit statuses: 0 success; 1 a runtime failure (connection, alert delivery); 2 a bad config,
scenario or calendar (nothing was started); 3 `check safety` found a CRITICAL violation.

The groups, in the order `--help` lists them: `run.py` (run), `demo.py` (demo), `sim.py` (sim),
`checks.py` (check-config, check, test-alert), `trading.py` (flatten, pause, resume, status),
`shadow.py` (shadow-report), `attach.py` (attach), `web.py` (web: the server is in
weekly_er_tui/web/). What they share is in `common.py` (exit
statuses, common flags, loading the config), `values.py` (checked flag values) and `hosting.py`
(the engine headless or in the app).

Adding a command
----------------
1. Write its module here (or add it to the group it belongs to) with
   `def add_commands(sub: Subcommands) -> None`, which makes each parser with
   `p = add_command(sub, "name", cmd_name, "one-line help")` and adds its flags
   (`add_common(p)` for --config/--data-dir/--log-level).
2. `cmd_name(args, out, err) -> int` does the work and returns an exit status above; import what
   is heavy (the engine, ib_async, textual) inside it, so other commands start fast.
3. Add the module to `GROUPS` below, where `--help` should list it.
A command module imports only `common`, `values` and `hosting` of this package, never this
module or another command (an import-linter contract in pyproject.toml checks it).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import TextIO

from weekly_er_tui import __version__
from weekly_er_tui.cli import attach, checks, demo, run, shadow, sim, trading, values, web
from weekly_er_tui.cli.common import EXIT_BAD_INPUT, EXIT_BROKEN_PIPE, Handler

GROUPS = (run, demo, sim, checks, trading, shadow, attach, web)


def build_parser() -> argparse.ArgumentParser:
    parser = values.OneLineParser(
        prog="weekly-er-tui",
        description="Weekly ER trading cockpit for Interactive Brokers.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command")
    for group in GROUPS:
        group.add_commands(sub)
    return parser


def _subcommands(parser: argparse.ArgumentParser) -> list[str]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return list(action.choices)
    return []


def main(argv: Sequence[str] | None = None, out: TextIO | None = None,
         err: TextIO | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    parser = build_parser()
    words = list(sys.argv[1:] if argv is None else argv)
    commands = set(_subcommands(parser))
    # `weekly-er-tui` alone, or with run's options, opens the app: `run` is the default command.
    if not any(w in commands for w in words) and not {"-h", "--help", "--version"} & set(words):
        words.insert(0, "run")
    args = parser.parse_args(words)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_usage(err)
        return EXIT_BAD_INPUT
    from weekly_er_tui.journal import LogsDirError

    try:
        return handler(args, out, err)
    except LogsDirError as exc:
        print(f"weekly-er-tui {args.command}: {exc}", file=err)
        return EXIT_BAD_INPUT
    except BrokenPipeError:
        # The reader went away (`weekly-er-tui status | head`): nothing more to say to it. Point
        # stdout at /dev/null so the interpreter's last flush does not raise again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE


__all__ = ["GROUPS", "build_parser", "main"]
