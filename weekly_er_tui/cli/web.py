"""`weekly-er-tui web`: the cockpit of the running engine on a web page (textual-serve), for a
trader away from the terminal.

Each browser session is its own `weekly-er-tui attach --read-only` on the engine; with
`--allow-control` (and the token) it may act, and flatten still asks its confirmation. Bound to
127.0.0.1 by default: from elsewhere, `ssh -L 8765:127.0.0.1:8765 host`. Any other --host needs
the token (--token-file, made owner-only when absent): the page carries the account's data.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import ipaddress
import logging
import re
import signal
import socket
from pathlib import Path
from typing import TextIO

from weekly_er_tui.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_OK,
    Subcommands,
    add_command,
    add_common,
    load_or_report,
)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
_HOST_NAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                        r"(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")


def add_commands(sub: Subcommands) -> None:
    p = add_command(sub, "web", cmd_web,
                    "the cockpit on a web page (read-only unless --allow-control)")
    add_common(p)
    p.add_argument("--host", default=DEFAULT_HOST, metavar="ADDRESS",
                   help=f"address to listen on (default {DEFAULT_HOST}: this machine only; "
                        "watch from elsewhere through `ssh -L`); any other needs the token")
    p.add_argument("--port", default=DEFAULT_PORT, type=listen_port, metavar="N",
                   help=f"TCP port, 1-65535, or 0 for any free one (default {DEFAULT_PORT})")
    p.add_argument("--token-file", default=None, metavar="PATH",
                   help="the page's token (made, mode 0600, if absent; default "
                        "DIR/state/web_token when a token is needed)")
    p.add_argument("--allow-control", action="store_true",
                   help="let the page act (pause, resume, flatten with its confirmation...); "
                        "needs the token even on 127.0.0.1")


def listen_port(text: str) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be a whole number from 0 to 65535 (got {text!r})") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be from 0 to 65535 (got {value})")
    return value


def check_host(host: str) -> str | None:
    """Why `host` cannot be listened on (None: it is an address, or a name that resolves)."""
    try:
        ipaddress.ip_address(host)
        return None
    except ValueError:
        pass
    if not _HOST_NAME.match(host):
        return (f"--host {host!r}: not an IP address or a host name; use {DEFAULT_HOST} (the "
                f"default; from elsewhere through `ssh -L`) or 0.0.0.0 (every interface, with "
                f"the token)")
    try:
        socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        why = exc.strerror if isinstance(exc, socket.gaierror) else str(exc)
        return (f"--host {host!r}: not an address or name this machine can resolve ({why}); "
                f"use {DEFAULT_HOST} (the default; from elsewhere through `ssh -L`) or 0.0.0.0 "
                f"(every interface, with the token)")
    return None


def bind_error(host: str, port: int, exc: OSError) -> str:
    if exc.errno == errno.EADDRINUSE:
        return (f"--port {port}: already in use on {host} (another `weekly-er-tui web`?); stop "
                f"it, or choose another port with --port N")
    if exc.errno == errno.EACCES:
        return (f"--port {port}: this user may not listen on it (ports below 1024 need root); "
                f"choose one above 1023 with --port N")
    if exc.errno == errno.EADDRNOTAVAIL:
        return (f"--host {host}: not an address of this machine; use {DEFAULT_HOST} (the "
                f"default) or 0.0.0.0 (every interface, with the token)")
    return f"--host {host} --port {port}: cannot listen there ({exc.strerror or exc})"


def cmd_web(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from weekly_er_tui.web.access import (
        Access,
        AccessError,
        default_token_file,
        is_loopback,
        load_or_make_token,
        needs_token,
    )

    loaded = load_or_report(args.config, err, say_defaults=False)
    if loaded is None:
        return EXIT_BAD_INPUT
    data_dir = Path(args.data_dir).absolute()
    problem = check_host(args.host)
    if problem:
        print(f"weekly-er-tui web: {problem}", file=err)
        return EXIT_BAD_INPUT
    token: str | None = None
    token_path: Path | None = None
    made = False
    if needs_token(args.host, args.allow_control, args.token_file):
        token_path = (Path(args.token_file).expanduser().absolute() if args.token_file
                      else default_token_file(data_dir))
        try:
            token, made = load_or_make_token(token_path)
        except AccessError as exc:
            print(f"weekly-er-tui web: {exc}", file=err)
            return EXIT_BAD_INPUT
    logging.basicConfig(level=args.log_level, stream=err,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from weekly_er_tui.web.server import CockpitServer, WebOptions

    options = WebOptions(data_dir=data_dir, account=loaded.config.account or "",
                         config=str(loaded.path.absolute()) if loaded.path else None,
                         allow_control=args.allow_control)
    access = Access(token=token, loopback_only=is_loopback(args.host), port=args.port)
    server = CockpitServer(options, access, args.host, args.port)

    async def serve() -> int:
        try:
            port = await server.start()
        except OSError as exc:
            print(f"weekly-er-tui web: {bind_error(args.host, args.port, exc)}", file=err)
            return EXIT_BAD_INPUT
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
        try:
            print(startup_text(args.host, port, data_dir, args.allow_control, token_path,
                               made), file=out, flush=True)
            await stop.wait()
        finally:
            await server.stop()
        print("weekly-er-tui web: stopped (the engine goes on).", file=out, flush=True)
        return EXIT_OK

    return asyncio.run(serve())


def startup_text(host: str, port: int, data_dir: Path, allow_control: bool,
                 token_path: Path | None, made: bool) -> str:
    from weekly_er_tui.web.access import is_loopback

    shown = socket.gethostname() if host in ("0.0.0.0", "::", "") else host
    if ":" in shown:
        shown = f"[{shown}]"
    mode = ("WITH CONTROL: the page can pause, resume and flatten (flatten asks its "
            "confirmation)" if allow_control else "read-only: every key that acts is refused")
    lines = [
        f"weekly-er-tui web: the cockpit of the engine of {data_dir} on http://{shown}:{port}/ "
        f"({mode}).",
        "WARNING: this page carries the account's data (positions, P&L, orders): anyone who "
        "can open it sees them.",
    ]
    if token_path is not None:
        lines.append(f"Every request needs the token in {token_path}"
                     + (" (made now, mode 0600)" if made else "")
                     + f": open http://{shown}:{port}/?token=<that token> once; the browser "
                       "keeps it in a cookie.")
    if is_loopback(host):
        lines.append(f"From another machine: ssh -L {port}:127.0.0.1:{port} <this host>, then "
                     f"open http://127.0.0.1:{port}/ there.")
    lines.append("Ctrl+C stops the page; the engine goes on.")
    return "\n".join(lines)


__all__ = ["add_commands", "cmd_web"]
