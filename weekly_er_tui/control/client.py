"""The other end of the control socket: one-shot requests for the CLI, and RemoteEngine, the
EngineHandle that `attach` gives the same Textual app the engine's own process would host."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from weekly_er_tui.control.codec import from_plain
from weekly_er_tui.control.protocol import LINE_LIMIT, decode, encode, short_address
from weekly_er_tui.model import EngineState


class EngineClock:
    """The engine's clock seen from here: its last state's instant, moved on by the real time
    since it arrived at the engine's speed (0 for a test's manual clock: it stands still)."""

    def __init__(self, remote: RemoteEngine, speed: float) -> None:
        self._remote = remote
        self._speed = speed

    def now(self) -> datetime:
        r = self._remote
        return r.state.timestamp + timedelta(
            seconds=(time.monotonic() - r._received_at) * self._speed)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds / self._speed if self._speed > 0 else seconds)

    async def sleep_until(self, when: datetime) -> None:
        await self.sleep(max(0.0, (when - self.now()).total_seconds()))

    @property
    def speed(self) -> float:
        return self._speed

# A command that acts waits for the engine to finish it (a flatten may work its way through
# partial fills); a status answers at once.
REQUEST_TIMEOUT_S = 120.0


class NoEngine(Exception):
    """No engine serves this socket (none runs, or it died and left the file)."""


class CommandRefused(Exception):
    """The engine answered, and said no (the sentence is for the trader)."""


async def _open(path: Path) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    try:
        with short_address(path) as address:
            return await asyncio.open_unix_connection(address, limit=LINE_LIMIT)
    except (ConnectionRefusedError, FileNotFoundError) as exc:
        raise NoEngine(f"no engine answers on {path} ({exc.strerror})") from None


async def request(path: Path, cmd: str, timeout: float = REQUEST_TIMEOUT_S,
                  **fields: Any) -> dict[str, Any]:
    """Send one command and return the engine's reply; NoEngine when none answers."""
    reader, writer = await _open(path)
    try:
        writer.write(encode({"cmd": cmd, **fields}))
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), timeout)
        if not line:
            raise NoEngine(f"the engine on {path} hung up before answering")
        return decode(line)
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


class RemoteEngine:
    """An EngineHandle over the socket: `state` is the newest snapshot the engine streamed,
    commands go back as requests. `run()` follows the stream; `stop()` detaches (the engine
    goes on)."""

    def __init__(self, path: Path, first: EngineState, identity: dict[str, Any],
                 about: dict[str, Any] | None = None) -> None:
        self.path = path
        self.identity = identity
        self.about = about or {}
        self._state = first
        self._received_at = time.monotonic()
        self._listeners: list[Callable[[EngineState], None]] = []
        self._stopping = asyncio.Event()
        self.states_received = 0

    @classmethod
    async def connect(cls, path: Path) -> RemoteEngine:
        reply = await request(path, "status", timeout=10.0)
        return cls(path, from_plain(EngineState, reply["state"]), reply["engine"],
                   reply.get("about"))

    @property
    def clock(self) -> EngineClock:
        """The engine's market time, as it runs there (a demo's may be accelerated)."""
        return EngineClock(self, float(self.about.get("clock_speed", 1.0)))

    @property
    def state(self) -> EngineState:
        return self._state

    def subscribe(self, fn: Callable[[EngineState], None]) -> Callable[[], None]:
        self._listeners.append(fn)
        return lambda: self._listeners.remove(fn) if fn in self._listeners else None

    async def run(self) -> None:
        """Follow the engine's state until stop(), or until the engine goes away."""
        reader, writer = await _open(self.path)
        try:
            writer.write(encode({"cmd": "subscribe"}))
            await writer.drain()
            stop = asyncio.ensure_future(self._stopping.wait())
            try:
                while not self._stopping.is_set():
                    read = asyncio.ensure_future(reader.readline())
                    await asyncio.wait({read, stop}, return_when=asyncio.FIRST_COMPLETED)
                    if not read.done():
                        read.cancel()
                        return
                    line = read.result()
                    if not line:
                        break  # the engine stopped
                    self._take(from_plain(EngineState, decode(line)["state"]))
            finally:
                stop.cancel()
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
        if not self._stopping.is_set():
            # The engine is gone: show it as stopped rather than its last living state.
            self._take(replace(self._state, is_running=False, version=self._state.version + 1))

    def _take(self, state: EngineState) -> None:
        self._state = state
        self._received_at = time.monotonic()
        self.states_received += 1
        for fn in list(self._listeners):
            fn(state)

    async def stop(self) -> None:
        self._stopping.set()

    async def _act(self, cmd: str, reason: str = "") -> None:
        reply = await request(self.path, cmd, reason=reason)
        if not reply.get("ok"):
            raise CommandRefused(str(reply.get("error", "refused")))

    async def pause(self, reason: str = "manual") -> None:
        await self._act("pause", reason)

    async def resume(self, reason: str = "manual") -> None:
        await self._act("resume", reason)

    async def flatten(self, reason: str = "manual") -> None:
        await self._act("flatten", reason)

    async def reconnect(self) -> None:
        await self._act("reconnect")

    async def check_now(self) -> None:
        await self._act("check")
