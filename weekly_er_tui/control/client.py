"""The other end of the control socket: one-shot requests for the CLI, and RemoteEngine, the
EngineHandle that `attach` gives the same Textual app the engine's own process would host."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from weekly_er_tui.control.codec import CodecError, from_plain
from weekly_er_tui.control.delta import apply
from weekly_er_tui.control.protocol import LINE_LIMIT, decode, encode, short_address
from weekly_er_tui.listeners import notify
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


def _connect_blocking(path: Path) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        with short_address(path) as address:
            sock.connect(address)
    except (ConnectionRefusedError, FileNotFoundError) as exc:
        sock.close()
        raise NoEngine(f"no engine answers on {path} ({exc.strerror})") from None
    except BaseException:
        sock.close()
        raise
    return sock


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
        """Follow the engine's state until stop(), or until the engine goes away.

        The stream is read and decoded on a thread of its own: a state that arrives while the
        cockpit's loop is busy painting is ready at its next refresh tick, not read after it
        (under load a paint takes 50-100 ms, and a state waiting behind it missed the tick)."""
        loop = asyncio.get_running_loop()
        sock = await asyncio.to_thread(_connect_blocking, self.path)
        ended: asyncio.Future[BaseException | None] = loop.create_future()

        def finish(error: BaseException | None) -> None:
            if not ended.done():
                ended.set_result(error)

        reader = threading.Thread(target=self._follow, args=(sock, loop, finish), daemon=True,
                                  name=f"attach: {self.path}")
        reader.start()
        stop: asyncio.Future[Any] = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait({stop, ended}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)  # the reader's recv returns: it ends
            await asyncio.to_thread(reader.join, 5.0)
            sock.close()
        error = ended.result() if ended.done() else None
        if error is not None and not self._stopping.is_set():
            raise error
        if not self._stopping.is_set():
            # The engine is gone: show it as stopped rather than its last living state.
            self._take(replace(self._state, is_running=False, version=self._state.version + 1))

    def _follow(self, sock: socket.socket, loop: asyncio.AbstractEventLoop,
                finish: Callable[[BaseException | None], None]) -> None:
        """The reader thread: each line decoded into the newest state, which the loop's
        listeners then hear of."""
        error: BaseException | None = None
        try:
            sock.sendall(encode({"cmd": "subscribe"}))
            with sock.makefile("rb") as stream:
                while line := stream.readline(LINE_LIMIT):
                    if self._stopping.is_set():
                        break
                    state = self._read(decode(line))
                    self._state = state
                    self._received_at = time.monotonic()
                    self.states_received += 1
                    loop.call_soon_threadsafe(self._announce, state)
        except OSError:
            pass  # shut down by stop(), or the engine went away: both end the stream
        except Exception as exc:  # a line this side cannot read: the loop raises it
            error = exc
        with contextlib.suppress(RuntimeError):  # the loop already closed
            loop.call_soon_threadsafe(finish, error)

    def _read(self, message: dict[str, Any]) -> EngineState:
        """The state a stream line carries: whole, or a change from the last one."""
        if "state" in message:
            return from_plain(EngineState, message["state"])
        if message.get("from") != self._state.version:
            raise CodecError(f"a change from state {message.get('from')} while this cockpit "
                             f"has state {self._state.version}: out of step with the engine")
        return apply(self._state, message["change"])

    def _take(self, state: EngineState) -> None:
        self._state = state
        self._received_at = time.monotonic()
        self.states_received += 1
        self._announce(state)

    def _announce(self, state: EngineState) -> None:
        notify(self._listeners, state, what="attached state")

    async def stop(self) -> None:
        self._stopping.set()

    async def _act(self, cmd: str, reason: str = "", **fields: Any) -> None:
        reply = await request(self.path, cmd, reason=reason, **fields)
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

    async def cancel_order(self, order_id: int, reason: str = "manual") -> None:
        await self._act("cancel_order", reason, order_id=order_id)

    async def close_position(self, symbol: str, reason: str = "manual") -> None:
        await self._act("close_position", reason, symbol=symbol)
