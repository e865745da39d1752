"""The `weekly-er-tui` command and its subcommands.

Exit statuses: 0 success; 1 a runtime failure (connection, alert delivery); 2 a bad config,
scenario or calendar (nothing was started); 3 `check safety` found a CRITICAL violation.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO

from weekly_er_tui import __version__, cli_args
from weekly_er_tui.config import ConfigError, LoadedConfig, load_config

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2
EXIT_CRITICAL = 3

DEFAULT_CONFIG = "config.json"


def _common(p: argparse.ArgumentParser, config: bool = True) -> None:
    if config:
        p.add_argument(
            "--config",
            default=None,
            metavar="PATH",
            help=f"configuration file (default: {DEFAULT_CONFIG} if it exists, else built-in "
            "defaults)",
        )
    p.add_argument(
        "--data-dir", default=".", metavar="DIR",
        help="where logs/ and state/ live (default: the current directory)",
    )
    p.add_argument(
        "--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"],
        help="log detail; DEBUG is the documented debug mode",
    )


def _demo_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--scenario", default="demo", metavar="NAME|PATH",
                   help="built-in scenario name or a scenario JSON file (default: demo)")
    p.add_argument("--clock-start", default=None, metavar="ISO8601", type=cli_args.clock_start,
                   help="simulated start instant (default: a moment in a trading session)")
    p.add_argument("--clock-speed", type=cli_args.clock_speed, default=1.0, metavar="X",
                   help="simulated seconds per real second, 0.01-100000 (default 1)")
    p.add_argument("--run-for", default=None, metavar="DURATION", type=cli_args.duration,
                   help="stop after this much simulated time, e.g. 90m, 2h, 5d (at most 366d)")


def _epoch_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--clock-epoch", default=None, metavar="INSTANT", type=cli_args.clock_epoch,
                   help="the real instant (Unix seconds or ISO 8601) at which the simulated "
                        "clock reads --clock-start (default: when this process starts); give "
                        "`run` and `sim` the same start, speed and epoch to share one clock")


def build_parser() -> argparse.ArgumentParser:
    parser = cli_args.OneLineParser(
        prog="weekly-er-tui",
        description="Weekly ER trading cockpit for Interactive Brokers.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command")

    p = sub.add_parser("run", help="run on the configured IB connection (the default command)")
    _common(p)
    p.add_argument("--headless", action="store_true", help="no screen: log to console and files")
    p.add_argument("--clock-start", default=None, metavar="ISO8601", type=cli_args.clock_start,
                   help="a simulated clock from this instant, shared with `weekly-er-tui sim` "
                        "(a paper or simulated account only: refused on a live account)")
    p.add_argument("--clock-speed", type=cli_args.clock_speed, default=1.0, metavar="X",
                   help="the simulated clock's speed, 0.01-100000 (default 1)")
    _epoch_flag(p)

    p = sub.add_parser("demo", help="run on the embedded simulated gateway (no IB account)")
    _common(p)
    _demo_flags(p)
    p.add_argument("--headless", action="store_true", help="no screen: log to console and files")

    p = sub.add_parser("sim", help="run the simulated IB Gateway standalone until Ctrl+C")
    p.add_argument("--host", default="127.0.0.1", type=cli_args.host)
    p.add_argument("--port", type=cli_args.port, default=7497, help="1-65535 (default 7497)")
    p.add_argument("--scenario", default="demo", metavar="NAME|PATH")
    p.add_argument("--clock-start", default=None, metavar="ISO8601", type=cli_args.clock_start)
    p.add_argument("--clock-speed", type=cli_args.clock_speed, default=1.0, metavar="X",
                   help="simulated seconds per real second, 0.01-100000 (default 1)")
    _epoch_flag(p)
    p.add_argument("--seed", type=cli_args.client_id, default=1, metavar="N",
                   help="the price seed (default 1, or the scenario's own)")
    p.add_argument("--record", default=None, metavar="PATH",
                   help="at the stop, write every order and execution of the run here (JSON)")
    p.add_argument("--log-level", default="INFO",
                   choices=["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"])

    p = sub.add_parser("check-config", help="validate a config file and print it, secrets masked")
    p.add_argument("path", nargs="?", default=DEFAULT_CONFIG)
    p.add_argument("--log-level", default="INFO",
                   choices=["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"])

    p = sub.add_parser("check", help="test the connection monitoring or the safety check")
    p.add_argument("what", choices=["connection", "safety"])
    _common(p)

    p = sub.add_parser("test-alert", help="send one test alert on every enabled channel")
    _common(p)

    p = sub.add_parser("flatten", help="emergency: cancel all orders and close every position")
    _common(p)
    p.add_argument("--yes", action="store_true", help="required: confirms the flatten")
    p.add_argument("--client-id", type=cli_args.client_id, default=None,
                   help="clientId for this session (default: ib_client_id + 50)")

    for name, what in (("pause", "pause trading (no new entries) in the running engine"),
                       ("resume", "resume trading in the running engine")):
        p = sub.add_parser(name, help=what + "; with none running, in the state database")
        _common(p)

    p = sub.add_parser("status", help="the running engine's state, connection, risk, positions")
    _common(p)
    p.add_argument("--json", action="store_true", help="the get_system_status() dict as JSON")

    p = sub.add_parser("attach", help="the cockpit on an engine already running (headless or "
                                      "detached)")
    _common(p)
    p.add_argument("--read-only", action="store_true",
                   help="show everything, refuse every key that acts")
    return parser


def _subcommands(parser: argparse.ArgumentParser) -> list[str]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return list(action.choices)
    return []


def load_or_report(path: str | None, err: TextIO) -> LoadedConfig | None:
    """Load the config (None: config.json if present, else defaults); print problems to `err`."""
    if path is None and Path(DEFAULT_CONFIG).exists():
        path = DEFAULT_CONFIG
    try:
        loaded = load_config(path)
    except ConfigError as exc:
        print(f"Configuration error in {exc.source}; nothing was started:", file=err)
        for problem in exc.problems:
            print(f"  - {problem}", file=err)
        return None
    for warning in loaded.warnings:
        print(f"warning: {warning}", file=err)
    return loaded


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


def _not_yet(name: str, err: TextIO) -> int:
    print(
        f"weekly-er-tui {name}: this part is not built yet in this version. "
        "`weekly-er-tui check-config` works; see the README for what is available.",
        file=err,
    )
    return EXIT_FAILURE


def cmd_sim(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from weekly_er_tui.journal import setup_logging

    try:
        from weekly_er_tui.sim.standalone import run_standalone
    except ImportError:
        return _not_yet("sim", err)
    # The gateway prints its own line per connect and order; the log adds only problems
    # (or everything, with --log-level DEBUG).
    setup_logging(None, "DEBUG" if args.log_level == "DEBUG" else "WARNING", console=err)
    start = args.clock_start  # checked by cli_args.clock_start
    try:
        return asyncio.run(
            run_standalone(args.host, args.port, args.scenario, start, args.clock_speed, out,
                           seed=args.seed, epoch=args.clock_epoch, record=args.record)
        )
    except KeyboardInterrupt:
        return EXIT_OK


def cmd_test_alert(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    loaded = load_or_report(args.config, err)
    if loaded is None:
        return EXIT_BAD_INPUT
    try:
        from weekly_er_tui.alerts.testalert import send_test_alert
    except ImportError:
        return _not_yet("test-alert", err)
    return asyncio.run(send_test_alert(loaded.config, out))


Handler = Callable[[argparse.Namespace, TextIO, TextIO], int]


def _handlers() -> dict[str, Handler]:
    handlers: dict[str, Handler] = {
        "check-config": cmd_check_config,
        "sim": cmd_sim,
        "test-alert": cmd_test_alert,
    }
    try:
        from weekly_er_tui import runner
    except ImportError:
        return handlers
    handlers.update(runner.HANDLERS)
    return handlers


EXIT_BROKEN_PIPE = 141  # what a shell reports for a command ended by SIGPIPE


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
    handler = _handlers().get(args.command)
    if handler is None:
        return _not_yet(args.command, err)
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


if __name__ == "__main__":
    raise SystemExit(main())
