"""One engine per account on this machine: an flock on a file per account in a per-user runtime
directory, holding the pid and data directory of the engine that trades it.

The kernel drops an flock when its process dies, so a crashed engine never leaves a stale lock;
the file's text only names the holder for the message a second engine shows.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import socket
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

RUNTIME_ENV = "WEEKLY_ER_TUI_RUNTIME_DIR"


def runtime_dir() -> Path:
    """$WEEKLY_ER_TUI_RUNTIME_DIR, else ~/.local/state/weekly-er-tui/locks; created owner-only.

    Not $XDG_RUNTIME_DIR nor /tmp: the first differs between a systemd service and an SSH shell
    and is emptied at logout, the second is swept by tmp cleaners; a lock file removed under a
    running engine would let a second engine take the account."""
    if os.environ.get(RUNTIME_ENV):
        path = Path(os.environ[RUNTIME_ENV])
    else:
        path = Path.home() / ".local" / "state" / "weekly-er-tui" / "locks"
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = path.stat()
    # In a shared place another user could have made the directory first, to read or spoof
    # the locks; one of ours that is too open is closed.
    if info.st_uid != os.getuid():
        raise AccountLocked(
            f"the lock directory {path} belongs to another user (uid {info.st_uid}); set "
            f"{RUNTIME_ENV} to a directory only you can write", {})
    if stat.S_IMODE(info.st_mode) & 0o077:
        path.chmod(0o700)
    return path


def lock_key(account: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", account) or "_"


@dataclass(frozen=True)
class Holder:
    pid: int
    data_dir: str
    account: str
    host: str = ""

    def describe(self) -> str:
        return f"pid {self.pid} with data directory {self.data_dir}"


class AccountLocked(Exception):
    """Another engine on this machine trades the account."""

    def __init__(self, message: str, holder: dict[str, Any]) -> None:
        super().__init__(message)
        self.holder = holder


class AccountLock:
    """The lock of one account (or, when no account is configured, one gateway's login)."""

    def __init__(self, account: str, data_dir: Path | str, directory: Path | None = None) -> None:
        self.account = account
        self.data_dir = str(Path(data_dir).absolute())
        self.path = (directory or runtime_dir()) / f"{lock_key(account)}.lock"
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        """Take the lock, or raise AccountLocked naming the engine that holds it."""
        if self._fd is not None:
            return
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            who = read_holder(self.path)
            name = who.describe() if who else "another process"
            raise AccountLocked(
                f"account {self.account} is already traded by another weekly-er-tui engine on "
                f"this machine ({name}); this engine does not trade. Watch or command that one "
                f"with `weekly-er-tui attach --data-dir "
                f"{who.data_dir if who else '<its data dir>'}`, or stop it first.",
                vars(who) if who else {},
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({"pid": os.getpid(), "data_dir": self.data_dir,
                                 "account": self.account, "host": socket.gethostname()}).encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
        os.close(fd)  # closing the descriptor drops the flock


def read_holder(path: Path) -> Holder | None:
    """Who holds the lock at `path`, or None when nobody does (or it cannot be read)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            pass  # held: read who
        else:
            fcntl.flock(fd, fcntl.LOCK_UN)
            return None
        data = json.loads(os.read(fd, 65536) or b"{}")
        return Holder(int(data["pid"]), str(data["data_dir"]), str(data.get("account", "")),
                      str(data.get("host", "")))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    finally:
        os.close(fd)


def holder_of(account: str) -> Holder | None:
    """The engine on this machine that trades `account`, if any."""
    try:
        return read_holder(runtime_dir() / f"{lock_key(account)}.lock")
    except AccountLocked:
        return None


def holders() -> list[Holder]:
    """Every engine on this machine holding an account lock (for `attach` and `status` run
    from elsewhere than the engine's data directory)."""
    try:
        directory = runtime_dir()
    except AccountLocked:
        return []
    found = (read_holder(path) for path in sorted(directory.glob("*.lock")))
    return [h for h in found if h is not None]
