"""SimulatedGateway: an asyncio TCP server that speaks the TWS API socket protocol.

It does the handshake and version negotiation (server version 178, or the client's maximum when
that is lower, down to 157), serves several clients at once, each with its own clientId, and
answers the requests an ib_async client (or any TWS API client) makes: account and positions,
market data, contract details, history, orders, executions, P&L and the current time. The
answers live in sim/handlers/ (one module per topic) and sim/account_stream.py; this module is
the gateway itself: its lifecycle, its connections, its faults and the state the handlers share.

Faults are methods on the gateway (see each docstring) and entries on a scenario's timeline.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any

from weekly_er_tui.clock import Clock
from weekly_er_tui.listeners import notify
from weekly_er_tui.sim import messages as msg
from weekly_er_tui.sim.account import SimAccount
from weekly_er_tui.sim.account_stream import AccountStream
from weekly_er_tui.sim.faults import Timeline
from weekly_er_tui.sim.handlers import Handler, route_table
from weekly_er_tui.sim.handlers.connection import ConnectionHandlers
from weekly_er_tui.sim.handlers.contract_details import ContractDetailsHandlers
from weekly_er_tui.sim.handlers.executions import ExecutionHandlers
from weekly_er_tui.sim.handlers.market_data import MarketDataHandlers
from weekly_er_tui.sim.handlers.orders import OrderEvents, OrderHandlers
from weekly_er_tui.sim.market import Market, Quote
from weekly_er_tui.sim.nyse import nyse_sessions
from weekly_er_tui.sim.order_reports import OrderReports
from weekly_er_tui.sim.orders import (
    OrderBook,
    OrderRequest,
    RejectRule,
    SimExecution,
    SimOrder,
    first_perm_id,
)
from weekly_er_tui.sim.protocol import SERVER_VERSION
from weekly_er_tui.sim.realism import Realism
from weekly_er_tui.sim.scenario import Scenario
from weekly_er_tui.sim.session import ClientSession, Cursor

log = logging.getLogger("weekly_er_tui.sim")

FARM_BROKEN_CODES = {2103: 2104, 2105: 2106, 2157: 2158}


@dataclass(frozen=True, slots=True)
class GatewayEvent:
    """Something the standalone gateway prints: a connect, a disconnect, an order, a fault."""

    kind: str  # connect, disconnect, order, fill, cancel, reject, fault, refused
    text: str
    client_id: int | None = None



class SimulatedGateway:
    """A simulated IB Gateway on `host:port` (port 0 picks a free port; read `gw.port`).

    Time comes from `clock` (prices, sessions, fills, reqCurrentTime); socket behaviour (the tick
    rate, delays) runs in real seconds. `seed` fixes the price paths: the same scenario, seed and
    clock start give the same prices and fills at any clock speed.

    Use `await gw.start()` / `await gw.stop()`, or `async with SimulatedGateway(...) as gw:`.
    A scenario's own `seed` is used when `seed` is left at its default.

    `run_id` sets this run's permIds (and so its execIds, which carry the permId): IB never
    reuses either, across sessions too, and a journal kept from an earlier run drops a fill whose
    execId it already holds. The default 0 gives the same ids on every run (what a test compares);
    a gateway that a person starts (`demo`, `sim`) takes `fresh_run_id()`.
    """

    def __init__(
        self,
        scenario: Scenario,
        clock: Clock,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int = 1,
        *,
        tick_interval: float = 0.25,
        engine_interval: float = 0.05,
        account_interval: float = 1.0,
        server_version: int = SERVER_VERSION,
        run_timeline: bool = True,
        realism: Realism | None = None,
        run_id: int = 0,
    ) -> None:
        self.scenario = scenario
        self.run_id = run_id
        self.clock = clock
        self.host = host
        self.port = port
        self.seed = scenario.seed if scenario.seed is not None and seed == 1 else seed
        self.tick_interval = tick_interval
        self.engine_interval = engine_interval
        self.account_interval = account_interval
        self.server_version = server_version
        self.run_timeline = run_timeline
        self.account_id = scenario.account.id
        # The real world's behaviours (sim/realism.py): the argument, else the scenario's own.
        self.realism: Realism = realism if realism is not None else scenario.realism_profile()
        sessions = nyse_sessions()
        self.market = Market(scenario.instruments(), self.seed, clock.now(), sessions)
        self.account = SimAccount(scenario.account.id, scenario.account.cash, self.market, self._t)
        for p in scenario.positions:
            self.account.seed_position(p.symbol, p.quantity, p.avg_cost)
        self.reports = OrderReports(self)
        self.book = OrderBook(self.market, self.account, self._t, OrderEvents(self),
                              first_perm_id=first_perm_id(run_id),
                              realism=lambda: self.realism)
        self.stream = AccountStream(self)
        self.delay = 0.0
        self.stalled = False
        self.refusing = False
        self.ib_link_up = True
        self.market_data_farm_ok = True
        self.farms_down: set[int] = set()  # broken-farm codes (2103, 2105, 2157) in force
        # Row 9: what a fill sends while 1100 holds the reports back, sent on 1101/1102.
        self._held_reports: list[Callable[[], None]] = []
        # Row 17: another TWS session holds the market data (10197, no ticks) while set.
        self.competing_session = False
        self._competing_told = False
        self.contract_details_asked: list[str] = []  # symbols, in the order reqContractDetails came
        self.tick_rounds = 0  # rounds of the tick loop, so a test can wait for "ticks had a chance"
        self._unstalled = asyncio.Event()
        self._unstalled.set()
        self._changed = asyncio.Event()
        self._sessions: list[ClientSession] = []
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._handlers_running: set[asyncio.Task[Any]] = set()
        self._listeners: list[Callable[[GatewayEvent], None]] = []
        self._started_at: datetime | None = None
        self._running = False
        # The request handlers, by topic (sim/handlers/): message id -> handler.
        self.ticks = MarketDataHandlers(self)  # the market-data topic runs the tick loop
        self._handlers: dict[int, Handler] = route_table([
            ConnectionHandlers(self), self.ticks, ContractDetailsHandlers(self),
            OrderHandlers(self), ExecutionHandlers(self), self.stream,
        ])
        self.timeline = Timeline(self)

    # lifecycle

    async def start(self) -> SimulatedGateway:
        """Listen, and start the market, order engine and timeline."""
        if self._running:
            return self
        self._running = True
        self._started_at = self.clock.now()
        await self._listen()
        self._spawn(self._engine_loop(), "sim-engine")
        self._spawn(self.ticks.tick_loop(), "sim-ticks")
        self._spawn(self._account_loop(), "sim-account")
        if self.run_timeline and self.scenario.timeline:
            self._spawn(self.timeline.run(self.scenario.timeline, self._started_at), "sim-timeline")
        log.info("simulated gateway listening on %s:%s", self.host, self.port)
        return self

    async def stop(self) -> None:
        """Close every connection and the listener; cancel all background tasks."""
        if not self._running:
            return
        self._running = False
        self._unstalled.set()
        self._close_listener()
        for s in list(self._sessions):
            s.close()
        # Connection handlers end on their own once their socket is closed: cancelling them
        # would make asyncio's stream callback log the CancelledError.
        handlers = list(self._handlers_running)
        if handlers:
            await asyncio.wait(handlers, timeout=2.0)
        current = asyncio.current_task()
        tasks = [t for t in self._tasks if t is not current]
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
        await asyncio.sleep(0)
        log.info("simulated gateway stopped")

    async def __aenter__(self) -> SimulatedGateway:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def _listen(self) -> None:
        sock = self._bind()
        self._server = await asyncio.start_server(self._on_connect, sock=sock)

    def _bind(self) -> socket.socket:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        # proto must be IPPROTO_TCP, or asyncio leaves Nagle on for accepted sockets and every
        # answer of several small messages waits for the peer's delayed ACK (about 40 ms)
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        sock.listen(128)
        sock.setblocking(False)
        self.port = sock.getsockname()[1]
        return sock

    def _close_listener(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None

    def _spawn(self, coro: Awaitable[Any], name: str) -> asyncio.Task[Any]:
        task: asyncio.Task[Any] = asyncio.ensure_future(coro)
        task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("simulator task %s failed", task.get_name(), exc_info=task.exception())

    def _t(self) -> float:
        return self.clock.now().timestamp()

    # inspection

    @property
    def clients(self) -> list[int]:
        """clientIds of the connected, API-started clients."""
        return sorted(s.client_id for s in self._sessions if s.started and s.client_id is not None)

    @property
    def executions(self) -> list[SimExecution]:
        """Every fill of the run, in order (API orders and external ones)."""
        return self.book.executions

    @property
    def order_refs_received(self) -> list[str]:
        """The orderRef of every placeOrder received, in order (modifications included)."""
        return self.book.order_refs_received

    def open_orders(self) -> list[SimOrder]:
        """Working orders of every client."""
        return self.book.working()

    def price(self, symbol: str) -> float:
        """The last price of `symbol` at the clock's now."""
        return self.market.price(symbol, self._t())

    def quote(self, symbol: str) -> Quote:
        return self.market.quote(symbol, self._t())

    def add_listener(self, callback: Callable[[GatewayEvent], None]) -> None:
        """Call `callback` for every connect, disconnect, order event and fault."""
        self._listeners.append(callback)

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        """Wait (real seconds) until `predicate()` is true; raises TimeoutError."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"condition not met within {timeout:.1f}s")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(remaining, 0.05))

    def process(self) -> None:
        """Run the order engine up to the clock's now (the engine loop also does this)."""
        self.book.advance()
        self._notify()

    def _notify(self) -> None:
        self._changed.set()

    def _event(self, kind: str, text: str, client_id: int | None = None) -> None:
        log.info("%s", text)
        ev = GatewayEvent(kind, text, client_id)
        notify(self._listeners, ev, what="gateway", logger=log)
        self._notify()

    # faults

    def drop_all(self) -> None:
        """Close every client socket at once (the gateway process died); the listener stays."""
        n = len(self._sessions)
        for s in list(self._sessions):
            s.close()
        self._event("fault", f"fault: dropped {n} connection(s)")

    def refuse_connections(self) -> None:
        """Gateway down: stop listening, so new TCP connects are refused. Existing ones stay."""
        self.refusing = True
        self._close_listener()
        self._event("fault", "fault: refusing new connections")

    def accept_connections(self) -> None:
        """Listen again on the same port after `refuse_connections`."""
        if not self.refusing or not self._running:
            return
        self.refusing = False
        sock = self._bind()
        self._spawn(self._serve_on(sock), "sim-relisten")
        self._event("fault", "fault: accepting connections again")

    async def _serve_on(self, sock: socket.socket) -> None:
        server = await asyncio.start_server(self._on_connect, sock=sock)
        if self.refusing or not self._running:
            server.close()
        else:
            self._server = server

    def stall(self) -> None:
        """Keep sockets open but answer nothing; requests wait and are answered on `unstall`."""
        self.stalled = True
        self._unstalled.clear()
        self._event("fault", "fault: stalled (answering nothing)")

    def unstall(self) -> None:
        self.stalled = False
        self._unstalled.set()
        self._event("fault", "fault: unstalled")

    def set_delay(self, seconds: float) -> None:
        """Delay every message the gateway sends by `seconds` real seconds (0 turns it off)."""
        self.delay = max(0.0, float(seconds))
        self._event("fault", f"fault: answer delay {self.delay:g}s")

    def reject_next_orders(self, n: int = 1, reason: str = "Simulated rejection",
                           symbol: str | None = None) -> None:  # fmt: skip
        """Reject the next `n` orders (for `symbol` only, if given) with error 201 alone."""
        self.book.reject_rules.append(RejectRule(reason=reason, remaining=n, symbol=symbol))
        self._event(
            "fault",
            f"fault: rejecting the next {n} order(s)" + (f" for {symbol}" if symbol else ""),
        )

    def reject_orders(
        self, predicate: Callable[[str], bool], reason: str = "Simulated rejection"
    ) -> None:
        """Reject every order whose symbol matches `predicate` until `clear_rejections`."""
        self.book.reject_rules.append(RejectRule(reason=reason, predicate=predicate))
        self._event("fault", "fault: rejecting orders by rule")

    def clear_rejections(self) -> None:
        self.book.reject_rules.clear()

    def partial_fills(self, n_parts: int, interval: float = 0.0) -> None:
        """Fill later orders in `n_parts` executions, `interval` clock seconds apart (1: off)."""
        self.book.partial_parts = max(1, int(n_parts))
        self.book.partial_interval = max(0.0, float(interval))
        self._event("fault", f"fault: partial fills in {self.book.partial_parts} part(s)")

    def emit_connectivity(self, code: int) -> None:
        """Send a TWS connectivity or farm message (reqId -1) to every client, and act on it.

        1100 and 2110 stop market data; 1101 restores the link but drops every market data
        subscription (clients must resubscribe); 1102 restores it, subscriptions kept. 2103 stops
        market data until 2104. The other farm codes are only messages.
        """
        text = msg.CONNECTIVITY_MESSAGES.get(code)
        if text is None:
            raise ValueError(
                f"{code} is not a connectivity code ({sorted(msg.CONNECTIVITY_MESSAGES)})"
            )
        if code in (1100, 2110):
            self.ib_link_up = False
        elif code == 1101:
            self.ib_link_up = True
            for s in self._sessions:
                s.subs.market_data.clear()
        elif code == 1102:
            self.ib_link_up = True
        elif code == 2103:
            self.market_data_farm_ok = False
        elif code == 2104:
            self.market_data_farm_ok = True
        if code in FARM_BROKEN_CODES:
            self.farms_down.add(code)
        for broken, ok in FARM_BROKEN_CODES.items():
            if code == ok:
                self.farms_down.discard(broken)
        for s in self._started():
            s.send(msg.error(s.version, -1, code, text))
        self._event("fault", f"fault: connectivity {code} {text}")
        if code in (1101, 1102):
            held, self._held_reports = self._held_reports, []
            for send in held:
                send()

    def _holding_reports(self) -> bool:
        return not self.ib_link_up and self.realism.hold_reports_during_1100

    def price_shock(
        self, pct: float, symbol: str | None = None, sector: str | None = None
    ) -> list[str]:
        """Move a symbol, a sector, or (neither given) every symbol by `pct` percent now."""
        if symbol is not None:
            inst = self.market.resolve(symbol)
            if inst is None:
                raise ValueError(f"unknown symbol {symbol!r}")
            symbols = [inst.symbol]
        elif sector is not None:
            symbols = self.market.symbols_in_sector(sector)
            if not symbols:
                raise ValueError(f"no symbol in sector {sector!r}")
        else:
            symbols = list(self.market.instruments)
        self.market.shock(symbols, pct, self._t())
        self.book.shocked(symbols, self._t())
        self._event("fault", f"fault: price shock {pct:+g}% on {', '.join(symbols)}")
        self.process()
        return symbols

    def fill_externally(
        self, symbol: str, quantity: float, price: float | None = None
    ) -> SimExecution:
        """A fill made outside the API (a TWS user's order): it reaches the account, positions
        and reqExecutions, but no connected client sees it as its own order."""
        order = self.book.fill_externally(symbol, quantity, price)
        self.stream.position_changed(order.symbol)
        return self.book.executions[-1]

    def place_in_tws(self, symbol: str, quantity: float, order_type: str = "LMT",
                     lmt_price: float | None = None, tif: str = "DAY") -> SimOrder:
        """An order the trader entered in TWS by hand (`quantity` signed: + buys): it works
        at IB under clientId 0; no API client owns it, reqAllOpenOrders shows it and a global
        cancel cancels it (row 15)."""
        req = OrderRequest(symbol, "BUY" if quantity > 0 else "SELL", abs(quantity),
                           order_type.upper(), lmt_price=lmt_price, tif=tif.upper())
        order = self.book.place_in_tws(req)
        self._event("fault", f"fault: {order.action} {order.quantity:g} {order.symbol} "
                             f"{order.order_type} placed in TWS by hand (perm {order.perm_id})")
        return order

    # order events (sim/handlers/orders.py) find their owner here

    def _owner(self, client_id: int) -> ClientSession | None:
        for s in self._sessions:
            if s.started and s.client_id == client_id and not s.closed:
                return s
        return None

    def correct_execution(self, exec_id: str, new_shares: float | None = None,
                          new_price: float | None = None) -> SimExecution:
        """IB corrects an execution (row 5): a later execDetails whose execId differs only
        after the last period (`.01` -> `.02`) replaces `exec_id`, with new shares or price."""
        order, corrected = self.book.correct(exec_id, new_shares, new_price)
        s = self._owner(corrected.client_id) if corrected.order_id else None
        if s is not None:
            self.reports.corrected(s, order, corrected)
        self._event("fault", f"fault: execution {exec_id} corrected to {corrected.exec_id}: "
                             f"{corrected.qty:g} @ {corrected.price:.2f}", corrected.client_id)
        self.stream.position_changed(corrected.symbol)
        return corrected

    # connections

    async def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._handlers_running.add(task)
        sock = writer.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        session = ClientSession(self, reader, writer)
        try:
            if not self._running or self.refusing:
                session.close()
                return
            self._sessions.append(session)
            await session.run()
        finally:
            if task is not None:
                self._handlers_running.discard(task)

    def _session_closed(self, session: ClientSession) -> None:
        if session in self._sessions:
            self._sessions.remove(session)
            if session.started:
                self._event(
                    "disconnect",
                    f"client {session.client_id} disconnected ({session.peer})",
                    session.client_id,
                )
        if session._flusher is not None and not session._flusher.done():
            session._flusher.cancel()

    def _started(self) -> list[ClientSession]:
        return [s for s in self._sessions if s.started and not s.closed]

    def _dispatch(self, session: ClientSession, fields: list[str]) -> None:
        try:
            msg_id = int(fields[0])
        except ValueError:
            log.warning("client %s sent a message with id %r", session.peer, fields[0])
            return
        if not session.started and msg_id != msg.IN_START_API:
            log.debug("client %s: message %s before startApi ignored", session.peer, msg_id)
            return
        handler = self._handlers.get(msg_id)
        if handler is None:
            log.debug("client %s: message %s not simulated", session.peer, msg_id)
            return
        try:
            handler(session, Cursor(fields))
        except Exception:
            log.exception(
                "client %s: failed to handle message %s: %s", session.peer, msg_id, fields
            )

    async def _engine_loop(self) -> None:
        while True:
            await asyncio.sleep(self.engine_interval)
            if self.stalled:
                continue
            try:
                self.book.advance()
            except Exception:
                log.exception("order engine failed")

    async def _account_loop(self) -> None:
        while True:
            await asyncio.sleep(self.account_interval)
            if self.stalled:
                continue
            try:
                self.stream.refresh()
            except Exception:
                log.exception("account update failed")

