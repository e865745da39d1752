"""TWS socket protocol framing: the handshake, length-prefixed frames and NUL-terminated fields.

Every message after the handshake, in both directions, is a 4-byte big-endian length followed by
fields, each terminated by NUL. Field 0 is the message id. The field layouts themselves live in
`messages.py` (what the gateway sends) and `server.py` (how requests are read).
"""

from __future__ import annotations

import math
import re
import struct
from collections.abc import Iterable
from dataclasses import dataclass

SERVER_VERSION = 178
"""The version a current TWS negotiates with ib_async 2.1.0."""

MIN_SERVER_VERSION = 157
"""The oldest client protocol version whose message layouts this gateway can speak."""

API_PREFIX = b"API\0"
UNSET_DOUBLE = 1.7976931348623157e308
UNSET_INTEGER = 2**31 - 1
MAX_FRAME = 16 * 1024 * 1024

_LEN = struct.Struct(">I")

Field = str | int | float | bool | None


class ProtocolError(Exception):
    """The peer sent bytes that are not the TWS API protocol."""


def format_field(value: Field) -> str:
    """One field as TWS writes it: bools as 1/0, None and unset doubles as empty, no float noise."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value == UNSET_DOUBLE or math.isnan(value):
            return ""
        if math.isinf(value):
            return "Infinite"
        return repr(value)
    return value


def encode_fields(fields: Iterable[Field]) -> bytes:
    """A complete frame (length prefix included) for these fields."""
    parts: list[str] = []
    append = parts.append
    for f in fields:
        t = type(f)
        if t is str:
            append(f)  # type: ignore[arg-type]
        elif t is int:
            append(str(f))
        elif t is float and f == f and f != UNSET_DOUBLE and not math.isinf(f):  # type: ignore[arg-type]
            append(repr(f))
        else:
            append(format_field(f))
    append("")
    body = "\0".join(parts).encode()
    return _LEN.pack(len(body)) + body


def frame(payload: bytes) -> bytes:
    return _LEN.pack(len(payload)) + payload


class FrameReader:
    """Splits a byte stream into frames; `feed` returns the complete ones as field lists."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[list[str]]:
        self._buf += data
        out: list[list[str]] = []
        while len(self._buf) >= 4:
            (size,) = _LEN.unpack_from(self._buf)
            if size > MAX_FRAME:
                raise ProtocolError(f"frame of {size} bytes is larger than {MAX_FRAME}")
            if len(self._buf) < 4 + size:
                break
            payload = bytes(self._buf[4 : 4 + size])
            del self._buf[: 4 + size]
            out.append(split_fields(payload))
        return out

    def take_raw(self, n: int) -> bytes | None:
        """Take `n` raw bytes (the unframed `API\\0` prefix), or None if not yet arrived."""
        if len(self._buf) < n:
            return None
        raw = bytes(self._buf[:n])
        del self._buf[:n]
        return raw

    def take_frame(self) -> bytes | None:
        """Take one raw frame payload (the handshake's version string), or None."""
        if len(self._buf) < 4:
            return None
        (size,) = _LEN.unpack_from(self._buf)
        if size > MAX_FRAME:
            raise ProtocolError(f"frame of {size} bytes is larger than {MAX_FRAME}")
        if len(self._buf) < 4 + size:
            return None
        payload = bytes(self._buf[4 : 4 + size])
        del self._buf[: 4 + size]
        return payload


def split_fields(payload: bytes) -> list[str]:
    fields = payload.decode(errors="backslashreplace").split("\0")
    if fields and fields[-1] == "":
        fields.pop()
    return fields


@dataclass(frozen=True, slots=True)
class VersionRange:
    """What the client asked for in its handshake: `v<min>..<max>` and optional connect options."""

    min_version: int
    max_version: int
    options: str = ""

    def negotiate(self, server_max: int = SERVER_VERSION) -> int | None:
        """The version to speak, or None when the ranges do not meet (TWS then hangs up)."""
        chosen = min(self.max_version, server_max)
        if chosen < self.min_version or chosen < MIN_SERVER_VERSION:
            return None
        return chosen


_VERSION_RE = re.compile(r"^v(\d+)(?:\.\.(\d+))?(?:\s+(.*))?$", re.DOTALL)


def parse_version_request(payload: bytes) -> VersionRange:
    """Parse the handshake's version string, e.g. `v157..178` or `v100..187 +PACEAPI`."""
    text = payload.decode(errors="replace").rstrip("\0")
    m = _VERSION_RE.match(text)
    if not m:
        raise ProtocolError(f"bad handshake version string {text!r} (expected e.g. 'v157..178')")
    lo = int(m.group(1))
    hi = int(m.group(2)) if m.group(2) else lo
    return VersionRange(lo, hi, (m.group(3) or "").strip())


def handshake_request(min_version: int = 157, max_version: int = 178, options: str = "") -> bytes:
    """What a TWS API client sends first (used by tests and the benchmark)."""
    text = f"v{min_version}..{max_version}" + (f" {options}" if options else "")
    return API_PREFIX + frame(text.encode())
