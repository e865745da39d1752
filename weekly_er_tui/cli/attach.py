"""`weekly-er-tui attach`: the cockpit on an engine that runs elsewhere (headless under systemd,
or left running when its terminal went away), over the engine's control socket.

Run from anywhere, it finds the engine of `--data-dir`, else the one holding the config's
account, else the only engine running on this machine (so the "screen lost" alert's `attach`
works as it says). The same Textual app as `run`, over a RemoteEngine: the same panes and
keys; the engine's states arrive over the socket and the keys go back as commands. Quitting
detaches; the engine goes on.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from weekly_er_tui.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_FAILURE,
    EXIT_OK,
    Subcommands,
    add_command,
    add_common,
    load_or_report,
)
from weekly_er_tui.config import SafetyLimits
from weekly_er_tui.control.client import NoEngine, RemoteEngine
from weekly_er_tui.control.commands import candidate_sockets
from weekly_er_tui.journal import remove_handlers, setup_logging

if TYPE_CHECKING:  # the app (textual) is loaded only when a cockpit is made
    from weekly_er_tui.ui.app import WeeklyERApp


def add_commands(sub: Subcommands) -> None:
    p = add_command(sub, "attach", cmd_attach,
                    "the cockpit on an engine already running (headless or detached)")
    add_common(p)
    p.add_argument("--read-only", action="store_true",
                   help="show everything, refuse every key that acts")
    # Set by `weekly-er-tui web` for the cockpit it serves a browser: the refusals say how to
    # act from the web page, not from a terminal.
    p.add_argument("--web", action="store_true", help=argparse.SUPPRESS)


async def find_engine(data_dir: Path, account: str = "") -> RemoteEngine | None:
    for path in candidate_sockets(data_dir, account, any_engine=True):
        try:
            return await RemoteEngine.connect(path)
        except NoEngine:
            continue
    return None


WEB_READ_ONLY = ("This web page is read-only: start `weekly-er-tui web --allow-control` (it "
                 "needs the token) to act from a browser, or act from a terminal with "
                 "`weekly-er-tui attach`.")


def attached_app(remote: RemoteEngine, limits: SafetyLimits,
                 read_only: bool = False, web: bool = False) -> WeeklyERApp:
    """The cockpit over `remote` (the engine's own limits when it sent them)."""
    from weekly_er_tui.ui.app import WeeklyERApp

    if "limits" in remote.about:
        limits = SafetyLimits.model_validate(remote.about["limits"])
    who = remote.identity
    title = (f"Weekly ER — attached to pid {who.get('pid')}"
             + (" — READ-ONLY" if read_only else "") + (" — web page" if web else ""))
    return WeeklyERApp(remote, clock=remote.clock, limits=limits, title=title, attached=True,
                       read_only=read_only, read_only_why=WEB_READ_ONLY if web else "")


def cmd_attach(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    loaded = load_or_report(args.config, err, say_defaults=False)
    if loaded is None:
        return EXIT_BAD_INPUT
    data_dir = Path(args.data_dir).absolute()
    # The screen is the cockpit's: log problems to nowhere but the engine's own journal.
    handlers = setup_logging(None, "WARNING")
    try:
        async def attach() -> int:
            remote = await find_engine(data_dir, loaded.config.account or "")
            if remote is None:
                print(f"No engine is running for {data_dir}: nothing to attach to. "
                      f"Start one with `weekly-er-tui run --headless --data-dir {data_dir}` "
                      f"(or under systemd, see the README).", file=err)
                return EXIT_FAILURE
            app = attached_app(remote, loaded.config.safety_limits, args.read_only, args.web)
            await app.run_async()
            return EXIT_OK

        return asyncio.run(attach())
    finally:
        remove_handlers(handlers)
