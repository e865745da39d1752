"""What every command shares: the exit statuses, the common flags, loading the config."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TextIO, TypeAlias

from weekly_er_tui.cli import values
from weekly_er_tui.config import AppConfig, ConfigError, LoadedConfig, load_config

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2
EXIT_CRITICAL = 3
EXIT_BROKEN_PIPE = 141  # what a shell reports for a command ended by SIGPIPE

DEFAULT_CONFIG = "config.json"
LOG_LEVELS = ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]

Handler = Callable[[argparse.Namespace, TextIO, TextIO], int]
"""A command: (its parsed arguments, stdout, stderr) -> the exit status."""

# What `add_commands(sub)` adds its parsers to.
Subcommands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def add_command(sub: Subcommands, name: str, handler: Handler, help: str,
                ) -> argparse.ArgumentParser:
    """A subcommand's parser, run by `handler`."""
    p: argparse.ArgumentParser = sub.add_parser(name, help=help)
    p.set_defaults(handler=handler)
    return p


def add_common(p: argparse.ArgumentParser, config: bool = True) -> None:
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
        "--log-level", default="INFO", choices=LOG_LEVELS,
        help="log detail; DEBUG is the documented debug mode",
    )


def add_epoch_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--clock-epoch", default=None, metavar="INSTANT", type=values.clock_epoch,
                   help="the real instant (Unix seconds or ISO 8601) at which the simulated "
                        "clock reads --clock-start (default: when this process starts); give "
                        "`run` and `sim` the same start, speed and epoch to share one clock")


def add_shadow_flag(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--shadow", action="store_true",
                   help=f"shadow mode ({what}); the same as \"mode\": \"shadow\" in the config")


def config_of(loaded: LoadedConfig, args: argparse.Namespace) -> AppConfig:
    """The loaded config, in shadow mode when `--shadow` was given."""
    if getattr(args, "shadow", False) and not loaded.config.shadow:
        return loaded.config.model_copy(update={"mode": "shadow"})
    return loaded.config


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
