"""Who may open the web cockpit: the token, and which hosts need one.

Bound to the loopback (the default), the page is for this machine's browsers and SSH tunnels
(`ssh -L 8765:127.0.0.1:8765 host`): no token unless the trader gives one or allows control.
Bound to any other address, every request needs the token: the page carries the account's
positions and P&L. Pure decisions and the token file; no sockets, no aiohttp.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

TOKEN_BYTES = 32
COOKIE_PREFIX = "wer_web_"
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


class AccessError(Exception):
    """A flag the web server cannot start with; the sentence names the flag, value and fix."""


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and the names that mean them."""
    name = host.strip("[]").lower()
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def host_of(header: str) -> str:
    """The host part of a Host or Origin header value ("[::1]:8765" -> "::1")."""
    text = header.split("://", 1)[-1].split("/", 1)[0]
    if text.startswith("["):
        return text[1:].split("]", 1)[0]
    return text.rsplit(":", 1)[0] if text.count(":") == 1 else text


@dataclass(frozen=True)
class Access:
    """What every request must show: the token (None: none needed), and for a loopback
    server, a loopback Host header (a page of another site that a browser resolved to
    127.0.0.1 by DNS rebinding names its own host there)."""

    token: str | None
    loopback_only: bool
    port: int

    @property
    def cookie(self) -> str:
        # One cookie per port: two web servers on one machine do not overwrite each other's.
        return f"{COOKIE_PREFIX}{self.port}"

    def token_ok(self, given: str | None) -> bool:
        if self.token is None:
            return True
        if not given:
            return False
        return hmac.compare_digest(given.encode(), self.token.encode())

    def host_ok(self, host_header: str | None) -> bool:
        if not self.loopback_only:
            return True
        return bool(host_header) and is_loopback(host_of(host_header or ""))


def needs_token(host: str, allow_control: bool, token_file: str | None) -> bool:
    """A token for any host but the loopback, for control from the web, or when one is given."""
    return not is_loopback(host) or allow_control or token_file is not None


def default_token_file(data_dir: Path) -> Path:
    return data_dir / "state" / "web_token"


def load_or_make_token(path: Path) -> tuple[str, bool]:
    """The token in `path`, made (owner-only) when the file does not exist; (token, made).

    AccessError, naming the file and the fix, when it cannot be read, is open to other users
    (anyone who reads it can read the account), or holds no token."""
    flag = "--token-file"
    if not path.exists():
        token = secrets.token_urlsafe(TOKEN_BYTES)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError as exc:
            raise AccessError(f"{flag} {path}: cannot be created ({exc.strerror}); give a path "
                              f"in a directory you can write") from None
        with os.fdopen(fd, "w") as f:
            f.write(token + "\n")
        return token, True
    if path.is_dir():
        raise AccessError(f"{flag} {path}: is a directory; give the path of a file (made with "
                          f"a new token if it does not exist)")
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) else "not text"
        raise AccessError(f"{flag} {path}: cannot be read ({why}); fix its permissions "
                          f"(chmod 600 {path}) or give another path (a missing file is made "
                          f"with a new token)") from None
    if mode & 0o077:
        raise AccessError(f"{flag} {path}: other users can read it (mode {mode:04o}), and the "
                          f"token opens the account's page; run `chmod 600 {path}`")
    token = text.strip()
    if len(token) < 16 or any(c.isspace() for c in token):
        raise AccessError(f"{flag} {path}: holds no usable token (it needs one line of at least "
                          f"16 characters, no spaces); delete the file and a new token is made")
    return token, False
