"""The control socket's address and framing: one JSON object per line, each way.

A request is `{"cmd": NAME, ...}`; every reply is `{"ok": bool, "engine": {pid, data_dir}, ...}`
with `"error"` (a sentence for a person) when not ok. `subscribe` turns the connection into a
stream: one `{"state": ...}` line (the whole EngineState), then `{"from": VERSION, "change":
...}` lines, each what moved since the state of that version, the last one sent (delta.py).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

SOCKET_NAME = "engine.sock"
# The commands the socket takes; `check` and `reconnect` are the app's s and c keys.
ACTING = ("pause", "resume", "flatten", "check", "reconnect", "cancel_order", "close_position")
# `web_session`: the web server's word that a browser session started or ended (journaled).
COMMANDS = ("status", "subscribe", "web_session", *ACTING)
# A state with hundreds of positions is a few hundred kB on one line.
LINE_LIMIT = 64 * 1024 * 1024
# sun_path holds 108 bytes on Linux; longer paths are reached through the directory's fd.
_SUN_PATH_MAX = 100


def socket_path(data_dir: Path | str) -> Path:
    """Where the engine of `data_dir` serves its control socket."""
    return Path(data_dir).absolute() / "state" / SOCKET_NAME


@contextlib.contextmanager
def short_address(path: Path) -> Iterator[str]:
    """An address for bind() and connect() that fits sun_path, however deep `path` is."""
    text = str(path)
    if len(os.fsencode(text)) <= _SUN_PATH_MAX:
        yield text
        return
    fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        yield f"/proc/self/fd/{fd}/{path.name}"
    finally:
        os.close(fd)


def encode(message: dict[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":")).encode() + b"\n"


def decode(line: bytes) -> dict[str, Any]:
    message = json.loads(line)
    if not isinstance(message, dict):
        raise ValueError(f"a control message is a JSON object (got {type(message).__name__})")
    return message
