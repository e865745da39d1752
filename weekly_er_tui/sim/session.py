"""One client connection: the handshake, requests in, messages out (through stall and delay).

The session reads frames and hands each request to the gateway; what it sends goes straight to
the socket, or through a queue while the gateway is stalled or delaying its answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from weekly_er_tui.sim import messages as msg
from weekly_er_tui.sim.protocol import (
    API_PREFIX,
    SERVER_VERSION,
    UNSET_DOUBLE,
    UNSET_INTEGER,
    Field,
    ProtocolError,
    encode_fields,
    parse_version_request,
)

if TYPE_CHECKING:
    from weekly_er_tui.sim.server import SimulatedGateway

log = logging.getLogger("weekly_er_tui.sim")


class Cursor:
    """Reads the fields of one incoming message in order."""

    def __init__(self, fields: list[str], start: int = 1) -> None:
        self.fields = fields
        self.i = start

    def next_str(self) -> str:
        if self.i >= len(self.fields):
            self.i += 1
            return ""
        v = self.fields[self.i]
        self.i += 1
        return v

    def next_int(self) -> int:
        v = self.next_str()
        if not v:
            return 0
        n = int(float(v))
        return 0 if n == UNSET_INTEGER else n

    def next_float(self) -> float | None:
        v = self.next_str()
        if not v:
            return None
        if v == "Infinite":
            return float("inf")
        x = float(v)
        return None if x >= UNSET_DOUBLE else x

    def next_bool(self) -> bool:
        v = self.next_str()
        return v not in ("", "0", "false", "False")

    def skip(self, n: int = 1) -> None:
        self.i += n

    def contract(self) -> dict[str, Any]:
        """The 12 contract fields a request carries (conId .. tradingClass)."""
        return {
            "con_id": self.next_int(),
            "symbol": self.next_str(),
            "sec_type": self.next_str(),
            "last_trade": self.next_str(),
            "strike": self.next_str(),
            "right": self.next_str(),
            "multiplier": self.next_str(),
            "exchange": self.next_str(),
            "primary_exchange": self.next_str(),
            "currency": self.next_str(),
            "local_symbol": self.next_str(),
            "trading_class": self.next_str(),
        }


@dataclass(slots=True)
class TickState:
    symbol: str
    last: tuple[float, ...] = ()
    delayed: bool = False  # delayed data (tick types 66-76, the market `delayed_data_minutes` ago)


@dataclass(slots=True)
class Subscriptions:
    market_data: dict[int, TickState] = field(default_factory=dict)
    account_updates: bool = False
    positions: bool = False
    account_multi: set[int] = field(default_factory=set)
    positions_multi: set[int] = field(default_factory=set)
    pnl: dict[int, tuple[float, ...]] = field(default_factory=dict)
    pnl_single: dict[int, tuple[int, tuple[float, ...]]] = field(default_factory=dict)
    portfolio_sent: dict[str, tuple[float, ...]] = field(default_factory=dict)
    values_sent: dict[str, str] = field(default_factory=dict)
    current_time_at: float = -1e9  # loop time of the last reqCurrentTime answered
    account_sent_at: float = 0.0  # clock epoch of the last account update (accountTime)


class ClientSession:
    """One TCP connection: handshake, requests in, messages out (through stall and delay)."""

    def __init__(
        self, gw: SimulatedGateway, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.gw = gw
        self.reader = reader
        self.writer = writer
        peer = writer.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        self.version = SERVER_VERSION
        self.client_id: int | None = None
        self.started = False
        self.closed = False
        self.subs = Subscriptions()
        self.market_data_type = 1  # reqMarketDataType: 1 live, 2 frozen, 3 delayed, 4 both
        self._queue: deque[tuple[float, bytes]] = deque()
        self._wake = asyncio.Event()
        self._flusher: asyncio.Task[None] | None = None

    # output

    def send(self, fields: list[Field]) -> None:
        if self.closed:
            return
        data = encode_fields(fields)
        gw = self.gw
        if not self._queue and gw.delay <= 0 and not gw.stalled:
            self.writer.write(data)
            return
        self._queue.append((asyncio.get_running_loop().time(), data))
        if self._flusher is None:
            self._flusher = gw._spawn(self._flush(), f"sim-flush-{self.peer}")
        self._wake.set()

    def send_frames(self, frames: list[bytes]) -> None:
        """Already framed messages, in one socket write when nothing holds output back."""
        if self.closed or not frames:
            return
        gw = self.gw
        if self._queue or gw.delay > 0 or gw.stalled:
            now = asyncio.get_running_loop().time()
            self._queue.extend((now, f) for f in frames)
            if self._flusher is None:
                self._flusher = gw._spawn(self._flush(), f"sim-flush-{self.peer}")
            self._wake.set()
            return
        self.writer.write(b"".join(frames))

    @property
    def buffered(self) -> int:
        transport = self.writer.transport
        return transport.get_write_buffer_size() if transport else 0

    async def _flush(self) -> None:
        loop = asyncio.get_running_loop()
        while not self.closed:
            await self._wake.wait()
            self._wake.clear()
            while self._queue and not self.closed:
                await self.gw._unstalled.wait()
                enqueued, data = self._queue[0]
                wait = enqueued + self.gw.delay - loop.time()
                if wait > 0:
                    await asyncio.sleep(min(wait, 0.05))
                    continue
                self._queue.popleft()
                self.writer.write(data)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._wake.set()
        with contextlib.suppress(Exception):
            self.writer.transport.abort()
        # the reader may be parked on a stall: the gateway forgets this client now, not later
        self.gw._session_closed(self)

    # input

    async def run(self) -> None:
        gw = self.gw
        try:
            prefix = await self.reader.readexactly(4)
            if prefix != API_PREFIX:
                raise ProtocolError(f"expected the API\\0 prefix, got {prefix!r}")
            size = int.from_bytes(await self.reader.readexactly(4), "big")
            request = parse_version_request(await self.reader.readexactly(size))
            await gw._unstalled.wait()
            version = request.negotiate(gw.server_version)
            if version is None:
                log.warning(
                    "client %s asked for versions %s..%s; this gateway speaks 157..%s",
                    self.peer,
                    request.min_version,
                    request.max_version,
                    gw.server_version,
                )
                return
            self.version = version
            now = gw.clock.now().timestamp()
            self.send([version, msg.handshake_time(now)])
            while not self.closed:
                size = int.from_bytes(await self.reader.readexactly(4), "big")
                fields = (
                    (await self.reader.readexactly(size))
                    .decode(errors="backslashreplace")
                    .split("\0")
                )
                if fields and fields[-1] == "":
                    fields.pop()
                if not fields:
                    continue
                if gw.stalled:
                    await gw._unstalled.wait()
                if self.closed:
                    break
                gw._dispatch(self, fields)
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            pass
        except ProtocolError as exc:
            log.warning("client %s: %s", self.peer, exc)
        finally:
            gw._session_closed(self)
            self.close()
