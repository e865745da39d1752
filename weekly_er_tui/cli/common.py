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


def add_common(p: argparse.ArgumentParser, config: bool = True, data_dir: str = ".") -> None:
    if config:
        p.add_argument(
            "--config",
            default=None,
            metavar="PATH",
            help=f"configuration file (default: {DEFAULT_CONFIG} if it exists, else built-in "
            "defaults)",
        )
    where = "the current directory" if data_dir == "." else f"{data_dir}/"
    p.add_argument(
        "--data-dir", default=data_dir, metavar="DIR",
        help=f"where logs/ and state/ live (default: {where})",
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


def config_template() -> Path:
    """The config template: shipped inside the package, or at the root of a source checkout."""
    package = Path(__file__).resolve().parent.parent
    shipped = package / "config_template.json"
    return shipped if shipped.is_file() else package.parent / "config_template.json"


def copy_template_hint(target: str | Path) -> str:
    return f"cp {config_template()} {target}"


def load_or_report(path: str | None, err: TextIO, *, say_defaults: bool = True
                   ) -> LoadedConfig | None:
    """Load the config (None: config.json if present, else defaults); print problems to `err`,
    and, unless `say_defaults` is off (the demo's own gateway, commands that only watch), that
    no config file was found."""
    if path is None and Path(DEFAULT_CONFIG).exists():
        path = DEFAULT_CONFIG
    if path is not None and not Path(path).exists():
        # The hint must work from wherever the command runs: the template's absolute path.
        print(f"Configuration error in {path}; nothing was started:\n  - no such file. Create "
              f"it with: {copy_template_hint(path)}", file=err)
        return None
    try:
        loaded = load_config(path)
    except ConfigError as exc:
        print(f"Configuration error in {exc.source}; nothing was started:", file=err)
        for problem in exc.problems:
            print(f"  - {problem}", file=err)
        return None
    if loaded.path is None and say_defaults:
        print(f"warning: {no_config_note(loaded.config)}", file=err)
    for warning in loaded.warnings:
        print(f"warning: {warning}", file=err)
    return loaded


def no_config_note(config: AppConfig) -> str:
    """Said when no config file was found: the built-in defaults are nobody's settings."""
    alerts = config.alerts.email_enabled or bool(config.alerts.notify)
    return (f"no config.json in {Path.cwd()} and no --config: running on built-in defaults "
            f"(IBKR {config.ib_host}:{config.ib_port}, clientId {config.ib_client_id}, "
            f"{'account ' + config.account if config.account else 'any account'}, "
            f"{'alerts on' if alerts else 'alerts in the log only'}). "
            f"Create one with: {copy_template_hint(DEFAULT_CONFIG)}")
