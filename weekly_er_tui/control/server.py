"""The engine's control socket: state snapshots out, commands in, for its owner only.

It lives in the data directory (state/engine.sock), mode 0600, and every connection's peer
credentials are checked: a process of another user is closed before it reads a byte. The state
stream is read from the engine on a fixed tick (as the app does): a subscriber gets the whole
state once, then only what changed since the last state it was sent (control/delta.py), encoded
once per tick for all subscribers in step; a slow subscriber only ever misses intermediate
states, never blocks the engine.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import struct
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol

from weekly_er_tui.control.codec import to_plain
from weekly_er_tui.control.delta import diff
from weekly_er_tui.control.protocol import (
    COMMANDS,
    LINE_LIMIT,
    decode,
    encode,
    short_address,
)
from weekly_er_tui.control.web_sessions import web_session_event
from weekly_er_tui.engine_api import EngineHandle
from weekly_er_tui.model import EngineState

log = logging.getLogger("weekly_er_tui.control")

STREAM_HZ = 50.0  # states per second at most, per subscriber (each only what moved)


class ControlledEngine(EngineHandle, Protocol):
    async def get_system_status(self) -> dict[str, Any]: ...


class SocketInUse(Exception):
    """Another live engine already serves this data directory's socket."""


def peer_uid(sock: socket.socket) -> int:
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return int(uid)


def _answers(path: Path) -> bool:
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        with short_address(path) as address:
            probe.connect(address)
        return True
    except OSError:
        return False
    finally:
        probe.close()


class ControlServer:
    def __init__(self, engine: ControlledEngine, path: Path, data_dir: Path,
                  about: Callable[[], dict[str, Any]] = dict,
                  journal: Callable[[str, dict[str, Any]], object] | None = None) -> None:
        self.engine = engine
        # Where the web server's session starts and ends go (the engine's events log).
        self._journal = journal
        self.path = path
        # What an attached cockpit needs besides the state: the limits, the clock's speed.
        self._about = about
        self.identity = {"pid": os.getpid(), "data_dir": str(data_dir.absolute())}
        self._server: asyncio.AbstractServer | None = None
        self._subscribers: dict[asyncio.StreamWriter, _Subscriber] = {}
        self._broadcast: asyncio.Task[None] | None = None
        self._commands: set[asyncio.Task[Any]] = set()
        self._connections: set[asyncio.Task[Any]] = set()

    @property
    def serving(self) -> bool:
        return self._server is not None

    async def start(self) -> None:
        """Bind the socket owner-only; SocketInUse if a live engine already answers on it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists() or self.path.is_symlink():
            if _answers(self.path):
                raise SocketInUse(
                    f"another engine already serves {self.path}: one engine per data directory; "
                    f"attach to it with `weekly-er-tui attach --data-dir "
                    f"{self.identity['data_dir']}`")
            self.path.unlink()  # left by an engine that died
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            with short_address(self.path) as address:
                sock.bind(address)
            # Before listen(): nobody can connect while the node still has the umask's bits.
            os.chmod(self.path, 0o600)
            sock.listen(16)
            sock.setblocking(False)
            self._server = await asyncio.start_unix_server(self._serve, sock=sock,
                                                           limit=LINE_LIMIT)
        except BaseException:
            sock.close()
            with contextlib.suppress(OSError):
                self.path.unlink()
            raise

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        for task in (self._broadcast, *self._commands, *self._connections):
            if task is not None:
                task.cancel()
        for task in (self._broadcast, *self._commands, *self._connections):
            if task is not None:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        with contextlib.suppress(Exception):
            await asyncio.wait_for(server.wait_closed(), 2.0)
        with contextlib.suppress(OSError):
            self.path.unlink()

    # -- one connection --------------------------------------------------------------------
    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._connections.add(task)
        try:
            sock = writer.get_extra_info("socket")
            if sock is None or peer_uid(sock) != os.getuid():
                log.warning("control socket: refused a connection from another user")
                return
            while line := await reader.readline():
                try:
                    request = decode(line)
                except ValueError as exc:
                    writer.write(self._reply(False, error=f"not a control message: {exc}"))
                    await writer.drain()
                    continue
                if request.get("cmd") == "subscribe":
                    await self._stream(reader, writer)
                    return
                writer.write(await self._answer(request))
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("control socket: a connection failed")
        finally:
            if task is not None:
                self._connections.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    def _reply(self, ok: bool, **fields: Any) -> bytes:
        return encode({"ok": ok, "engine": self.identity, **fields})

    async def _answer(self, request: dict[str, Any]) -> bytes:
        cmd = request.get("cmd")
        reason = str(request.get("reason") or f"{cmd} from the command line")
        e = self.engine
        actions: dict[str, Callable[[], Awaitable[None]]] = {
            "pause": lambda: e.pause(reason),
            "resume": lambda: e.resume(reason),
            "flatten": lambda: e.flatten(reason),
            "check": e.check_now,
            "reconnect": e.reconnect,
            "cancel_order": lambda: e.cancel_order(int(request.get("order_id", 0)), reason),
            "close_position": lambda: e.close_position(str(request.get("symbol", "")), reason),
        }
        if cmd == "status":
            return self._reply(True, status=await e.get_system_status(),
                               state=to_plain(e.state), about=self._about())
        if cmd == "web_session":
            return self._web_session(request)
        if cmd not in actions:
            return self._reply(False, error=f"unknown command {cmd!r}; the socket takes "
                                            f"{', '.join(COMMANDS)}")
        # The command is the engine's own task: a client that hangs up mid-flatten does not
        # cancel it.
        task = asyncio.ensure_future(actions[cmd]())
        self._commands.add(task)
        task.add_done_callback(self._commands.discard)
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            raise
        except ValueError as exc:  # refused with a reason (an order gone, no position)
            return self._reply(False, error=str(exc))
        except Exception as exc:
            log.exception("control socket: %s failed", cmd)
            return self._reply(False, error=f"{cmd} failed in the engine: {exc!r}")
        return self._reply(True, status=await e.get_system_status())

    def _web_session(self, request: dict[str, Any]) -> bytes:
        if self._journal is None:
            return self._reply(False, error="this engine keeps no events log: web_session "
                                            "not journaled")
        try:
            message, details = web_session_event(request)
        except ValueError as exc:
            return self._reply(False, error=str(exc))
        self._journal(message, details)
        return self._reply(True)

    # -- the state stream ------------------------------------------------------------------
    async def _stream(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        subscriber = _Subscriber(self.engine.state)
        writer.write(encode({"state": to_plain(subscriber.sent)}))
        await writer.drain()
        self._subscribers[writer] = subscriber
        if self._broadcast is None or self._broadcast.done():
            self._broadcast = asyncio.create_task(self._broadcaster(), name="control stream")
        hangup = asyncio.ensure_future(reader.read())  # EOF: the client left
        try:
            while True:
                ready = asyncio.ensure_future(subscriber.ready.wait())
                done, _ = await asyncio.wait({ready, hangup}, return_when=asyncio.FIRST_COMPLETED)
                if hangup in done:
                    ready.cancel()
                    return
                writer.write(subscriber.take())
                await writer.drain()
        finally:
            hangup.cancel()
            self._subscribers.pop(writer, None)

    async def _broadcaster(self) -> None:
        """On each tick the engine's state moved: to every subscriber, the change from the last
        state it was sent (one encoding per distinct starting point: those in step share it).
        A subscriber still writing the last one has it replaced by a change from the same
        starting point to the newest state: it misses intermediate states, never one change."""
        sent = -1
        while self._subscribers:
            state = self.engine.state
            if state.version != sent:
                sent = state.version
                lines: dict[int, bytes] = {}
                for subscriber in self._subscribers.values():
                    since = subscriber.sent
                    if since.version == state.version:
                        continue
                    line = lines.get(since.version)
                    if line is None:
                        line = lines[since.version] = encode(
                            {"from": since.version, "change": diff(since, state)})
                    subscriber.offer(state, line)
            await asyncio.sleep(1 / STREAM_HZ)


class _Subscriber:
    """One attached cockpit's place in the stream: the last state it was sent, and the next
    line for it (the change from that state to a newer one)."""

    def __init__(self, first: EngineState) -> None:
        self.sent = first
        self._next: tuple[EngineState, bytes] | None = None
        self.ready = asyncio.Event()

    def offer(self, state: EngineState, line: bytes) -> None:
        self._next = (state, line)
        self.ready.set()

    def take(self) -> bytes:
        assert self._next is not None
        (self.sent, line), self._next = self._next, None
        self.ready.clear()
        return line
