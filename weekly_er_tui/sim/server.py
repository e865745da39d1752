"""SimulatedGateway: an asyncio TCP server that speaks the TWS API socket protocol.

It does the handshake and version negotiation (server version 178, or the client's maximum when
that is lower, down to 157), serves several clients at once, each with its own clientId, and
answers the requests an ib_async client (or any TWS API client) makes: account and positions,
market data, contract details, history, orders, executions, P&L and the current time.

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

from weekly_er_tui.clock import ET, Clock
from weekly_er_tui.sim import messages as msg
from weekly_er_tui.sim.account import SimAccount
from weekly_er_tui.sim.account_stream import AccountStream
from weekly_er_tui.sim.faults import Timeline
from weekly_er_tui.sim.market import (
    Instrument,
    Market,
    Quote,
    aggregate_bars,
    bar_size_seconds,
    duration_seconds,
    parse_ib_datetime,
)
from weekly_er_tui.sim.nyse import nyse_sessions
from weekly_er_tui.sim.order_reports import OrderReports
from weekly_er_tui.sim.orders import (
    OrderBook,
    OrderRequest,
    RejectRule,
    SimExecution,
    SimOrder,
)
from weekly_er_tui.sim.permissions import (
    COMPETING_SESSION,
    DELAYED_TICK,
    LIVE_TICK,
    history_refusal,
    market_data_grant,
)
from weekly_er_tui.sim.protocol import (
    SERVER_VERSION,
)
from weekly_er_tui.sim.realism import Realism
from weekly_er_tui.sim.scenario import Scenario
from weekly_er_tui.sim.session import ClientSession, Cursor, TickState

log = logging.getLogger("weekly_er_tui.sim")

WRITE_BUFFER_LIMIT = 4 * 1024 * 1024
# A real connect's farm messages (row 7): (OK code, broken code, farm), as captured.
FARMS_AT_CONNECT = ((2104, 2103, "usfarm.nj"), (2104, 2103, "usfarm"), (2104, 2103, "usopt"),
                    (2106, 2105, "ushmds"), (2158, 2157, "secdefnj"))  # fmt: skip
KIND_FARMS_AT_CONNECT = ((2104, 2103, "usfarm"), (2106, 2105, "ushmds"), (2158, 2157, "secdefnj"))
FARM_BROKEN_CODES = {2103: 2104, 2105: 2106, 2157: 2158}
MAX_INTRADAY_BARS = 100_000


@dataclass(frozen=True, slots=True)
class GatewayEvent:
    """Something the standalone gateway prints: a connect, a disconnect, an order, a fault."""

    kind: str  # connect, disconnect, order, fill, cancel, reject, fault, refused
    text: str
    client_id: int | None = None


Handler = Callable[[ClientSession, Cursor], None]


class SimulatedGateway:
    """A simulated IB Gateway on `host:port` (port 0 picks a free port; read `gw.port`).

    Time comes from `clock` (prices, sessions, fills, reqCurrentTime); socket behaviour (the tick
    rate, delays) runs in real seconds. `seed` fixes the price paths: the same scenario, seed and
    clock start give the same prices and fills at any clock speed.

    Use `await gw.start()` / `await gw.stop()`, or `async with SimulatedGateway(...) as gw:`.
    A scenario's own `seed` is used when `seed` is left at its default.
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
    ) -> None:
        self.scenario = scenario
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
        self.book = OrderBook(self.market, self.account, self._t, self)
        self.stream = AccountStream(self)
        self.reports = OrderReports(self)
        self._executions_answered = 0
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
        self._handlers: dict[int, Handler] = self._handler_table()
        self._highlow: dict[str, tuple[int, float, float, float]] = {}
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
        self._spawn(self._tick_loop(), "sim-ticks")
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
        for cb in list(self._listeners):
            try:
                cb(ev)
            except Exception:
                log.exception("gateway listener failed")
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

    # order listener (called by the book)

    def _owner(self, client_id: int) -> ClientSession | None:
        for s in self._sessions:
            if s.started and s.client_id == client_id and not s.closed:
                return s
        return None

    def order_accepted(self, order: SimOrder) -> None:
        s = self._owner(order.client_id)
        if s is not None:
            self.reports.accepted(s, order)
        self._event(
            "order",
            f"order {order.client_id}/{order.order_id}: {order.action} {order.quantity:g} "
            f"{order.symbol} {order.order_type}"
            + (f" {order.lmt_price:g}" if order.lmt_price is not None else "")
            + (f" ref={order.order_ref}" if order.order_ref else "")
            + f" perm {order.perm_id}",
            order.client_id,
        )

    def order_activated(self, order: SimOrder) -> None:
        s = self._owner(order.client_id)
        if s is not None:
            self.reports.activated(s, order)
        self._notify()

    def order_modified(self, order: SimOrder) -> None:
        s = self._owner(order.client_id)
        if s is not None:
            self.reports.modified(s, order)
        self._notify()

    def order_filled(self, order: SimOrder, execution: SimExecution) -> None:
        held = self._holding_reports()
        if held:  # row 9: the fill happened at IB; its reports wait for the link
            self._held_reports.append(lambda: self._report_fill(order, execution))
        else:
            s = self._owner(order.client_id) if order.order_id else None
            if s is not None:
                self.reports.filled(s, order, execution)
        self._event(
            "fill",
            f"fill {order.client_id}/{order.order_id}: {execution.side} {execution.qty:g} "
            f"{order.symbol} @ {execution.price:.2f} (commission {execution.commission:.2f})",
            order.client_id,
        )
        if not held:  # after the event: a listener may move the market at the fill's instant
            self.stream.position_changed(order.symbol)

    def _report_fill(self, order: SimOrder, execution: SimExecution) -> None:
        s = self._owner(order.client_id) if order.order_id else None
        if s is not None:
            self.reports.filled(s, order, execution)
        self.stream.position_changed(order.symbol)

    def order_cancelled(self, order: SimOrder, requested: bool, reason: str = "") -> None:
        s = self._owner(order.client_id)
        if s is not None:
            self.reports.cancelled(s, order, requested, reason)
        why = "cancelled" if requested else (f"cancelled by IB: {reason}" if reason
                                             else "expired/cancelled by the system")
        self._event("cancel", f"order {order.client_id}/{order.order_id}: {why}", order.client_id)

    def order_rejected(self, client_id: int, order_id: int, code: int, message: str,
                       order: SimOrder | None = None) -> None:
        s = self._owner(client_id)
        if s is not None:
            self.reports.rejected(s, order_id, code, message, order)
        self._event("reject", f"order {client_id}/{order_id}: error {code} {message}", client_id)

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

    def _handler_table(self) -> dict[int, Handler]:
        return {
            msg.IN_START_API: self._start_api,
            msg.IN_REQ_IDS: self._req_ids,
            msg.IN_REQ_MANAGED_ACCTS: lambda s, c: s.send(msg.managed_accounts(self.account_id)),
            msg.IN_REQ_CURRENT_TIME: self._req_current_time,
            msg.IN_REQ_MKT_DATA: self._req_mkt_data,
            msg.IN_CANCEL_MKT_DATA: self._cancel_mkt_data,
            msg.IN_REQ_MARKET_DATA_TYPE: self._req_market_data_type,
            msg.IN_REQ_CONTRACT_DETAILS: self._req_contract_details,
            msg.IN_REQ_HISTORICAL_DATA: self._req_historical_data,
            msg.IN_CANCEL_HISTORICAL_DATA: lambda s, c: None,
            msg.IN_REQ_HEAD_TIMESTAMP: self._req_head_timestamp,
            msg.IN_REQ_POSITIONS: self.stream.req_positions,
            msg.IN_CANCEL_POSITIONS: self.stream.cancel_positions,
            msg.IN_REQ_ACCOUNT_UPDATES: self.stream.req_account_updates,
            msg.IN_REQ_ACCOUNT_UPDATES_MULTI: self.stream.req_account_updates_multi,
            msg.IN_CANCEL_ACCOUNT_UPDATES_MULTI: self.stream.cancel_account_updates_multi,
            msg.IN_REQ_POSITIONS_MULTI: self.stream.req_positions_multi,
            msg.IN_CANCEL_POSITIONS_MULTI: self.stream.cancel_positions_multi,
            msg.IN_REQ_ACCOUNT_SUMMARY: self.stream.req_account_summary,
            msg.IN_CANCEL_ACCOUNT_SUMMARY: lambda s, c: None,
            msg.IN_REQ_PNL: self.stream.req_pnl,
            msg.IN_CANCEL_PNL: self.stream.cancel_pnl,
            msg.IN_REQ_PNL_SINGLE: self.stream.req_pnl_single,
            msg.IN_CANCEL_PNL_SINGLE: self.stream.cancel_pnl_single,
            msg.IN_PLACE_ORDER: self._place_order,
            msg.IN_CANCEL_ORDER: self._cancel_order,
            msg.IN_REQ_GLOBAL_CANCEL: self._global_cancel,
            msg.IN_REQ_OPEN_ORDERS: self._req_open_orders,
            msg.IN_REQ_ALL_OPEN_ORDERS: self._req_all_open_orders,
            msg.IN_REQ_AUTO_OPEN_ORDERS: lambda s, c: None,
            msg.IN_REQ_COMPLETED_ORDERS: self._req_completed_orders,
            msg.IN_REQ_EXECUTIONS: self._req_executions,
        }

    # handlers: connection

    def _start_api(self, s: ClientSession, c: Cursor) -> None:
        if s.started:
            return
        c.skip()  # version
        client_id = c.next_int()
        if any(o.client_id == client_id for o in self._started()):
            s.send(msg.error(s.version, -1, 326,
                             "Unable to connect as the client id is already in use. "
                             "Retry with a unique client id."))  # fmt: skip
            self._event(
                "refused", f"client {client_id} refused: client id already in use ({s.peer})"
            )
            asyncio.get_running_loop().call_later(0.05, s.close)
            return
        s.client_id = client_id
        s.started = True
        s.send(msg.managed_accounts(self.account_id))
        s.send(msg.next_valid_id(self.book.next_order_id(client_id)))
        real = self.realism.farm_codes_at_connect
        for ok, broken, farm in FARMS_AT_CONNECT if real else KIND_FARMS_AT_CONNECT:
            code = broken if broken in self.farms_down else ok
            text = msg.CONNECTIVITY_MESSAGES[code].split(":")[0] + ":" + farm
            s.send(msg.error(s.version, -1, code, text))
        if real:
            s.send(msg.error(s.version, -1, 2107, msg.CONNECTIVITY_MESSAGES[2107]))
        self._event(
            "connect",
            f"client {client_id} connected from {s.peer} (server version {s.version})",
            client_id,
        )

    def _req_ids(self, s: ClientSession, c: Cursor) -> None:
        assert s.client_id is not None
        s.send(msg.next_valid_id(self.book.next_order_id(s.client_id)))

    def _req_current_time(self, s: ClientSession, c: Cursor) -> None:
        now = asyncio.get_running_loop().time()
        if now - s.subs.current_time_at < self.realism.current_time_spacing_seconds:
            return  # a real TWS leaves it unanswered
        s.subs.current_time_at = now
        s.send(msg.current_time(int(self._t())))

    # handlers: market data

    def _instrument(self, contract: dict[str, Any]) -> Instrument | None:
        if contract["sec_type"] not in ("STK", ""):
            return None
        return self.market.resolve(contract["symbol"], contract["con_id"])

    def _req_mkt_data(self, s: ClientSession, c: Cursor) -> None:
        c.skip()  # version
        req_id = c.next_int()
        contract = c.contract()
        if contract["sec_type"] == "BAG":
            c.skip(4 * c.next_int())
        if c.next_bool():
            c.skip(3)
        c.next_str()  # genericTickList
        snapshot = c.next_bool()
        inst = self._instrument(contract)
        if inst is None:
            s.send(msg.error(s.version, req_id, 200,
                             "No security definition has been found for the request"))  # fmt: skip
            return
        grant = market_data_grant(self.realism, inst, s.market_data_type)
        if grant.error is not None:
            s.send(msg.error(s.version, req_id, *grant.error))
        if not grant.data_type:
            return  # refused: TWS keeps no subscription
        state = TickState(inst.symbol, delayed=grant.delayed)
        if self.competing_session:
            s.send(msg.error(s.version, req_id, *COMPETING_SESSION))
            s.subs.market_data[req_id] = state  # streams once the other session lets go
            return
        s.send(msg.market_data_type(req_id, grant.data_type))
        self._send_ticks(s, req_id, state, self._t(), force=True)
        if snapshot:
            s.send(msg.tick_snapshot_end(req_id))
        else:
            s.subs.market_data[req_id] = state

    def _req_market_data_type(self, s: ClientSession, c: Cursor) -> None:
        c.skip()  # version
        s.market_data_type = c.next_int() or 1

    def _seen_at(self, state: TickState, t: float) -> float:
        """The instant a subscription shows: now, or the delayed feed's lag ago."""
        return t - self.realism.delayed_data_minutes * 60 if state.delayed else t

    def _cancel_mkt_data(self, s: ClientSession, c: Cursor) -> None:
        c.skip()
        s.subs.market_data.pop(c.next_int(), None)

    def _session_range(self, symbol: str, t: float, last: float,
                       key: str = "") -> tuple[float, float, float]:  # fmt: skip
        """(open, high, low) of the trading day so far, tracked as ticks go out (under `key`:
        the delayed feed keeps its own)."""
        key = key or symbol
        sessions = self.market.sessions
        i = sessions.trading_day(t)
        cached = self._highlow.get(key)
        if not sessions.is_open(t):
            i = sessions.last_closed(t) if t < sessions.opens[i] else i
        if cached is None or cached[0] != i:
            bars = self.market.daily_bars(symbol, sessions.opens[i] - 1, t)
            if bars and bars[-1].session == i:
                b = bars[-1]
                cached = (i, b.open, b.high, b.low)
            else:
                cached = (i, last, last, last)
        else:
            cached = (i, cached[1], max(cached[2], last), min(cached[3], last))
        self._highlow[key] = cached
        return cached[1], cached[2], cached[3]

    def _tick_frames(self, req_id: int, state: TickState, q: Quote, t: float,
                     force: bool) -> list[bytes]:  # fmt: skip
        """The ticks that changed since the last round (all of them when forced), framed. A
        delayed subscription gets the delayed tick types; `q` and `t` are then the delayed ones."""
        key = f"{state.symbol} delayed" if state.delayed else state.symbol
        op, hi, lo = self._session_range(state.symbol, t, q.last, key)
        close = self.market.prev_close(state.symbol, t)
        now = (q.bid, q.bid_size, q.ask, q.ask_size, q.last, q.last_size, q.volume, hi, lo, op,
               close)  # fmt: skip
        old = state.last
        fresh = force or not old
        out: list[bytes] = []
        price = msg.tick_price_frame
        kind = DELAYED_TICK if state.delayed else LIVE_TICK
        if fresh or old[0:2] != now[0:2]:
            out.append(price(req_id, kind[msg.TICK_BID], q.bid, q.bid_size))
        if fresh or old[2:4] != now[2:4]:
            out.append(price(req_id, kind[msg.TICK_ASK], q.ask, q.ask_size))
        if fresh or old[4:6] != now[4:6]:
            out.append(price(req_id, kind[msg.TICK_LAST], q.last, q.last_size))
        if fresh or old[6] != now[6]:
            out.append(msg.tick_size_frame(req_id, kind[msg.TICK_VOLUME], q.volume))
        if fresh or old[7] != now[7]:
            out.append(price(req_id, kind[msg.TICK_HIGH], hi, 0.0))
        if fresh or old[8] != now[8]:
            out.append(price(req_id, kind[msg.TICK_LOW], lo, 0.0))
        if fresh or old[9] != now[9]:
            out.append(price(req_id, kind[msg.TICK_OPEN], op, 0.0))
        if fresh or old[10] != now[10]:
            out.append(price(req_id, kind[msg.TICK_CLOSE], close, 0.0))
        state.last = now
        return out

    def _send_ticks(self, s: ClientSession, req_id: int, state: TickState, t: float,
                    force: bool = False) -> int:  # fmt: skip
        t = self._seen_at(state, t)
        q = self.market.quote(state.symbol, t)
        out = self._tick_frames(req_id, state, q, t, force)
        s.send_frames(out)
        return len(out)

    async def _tick_loop(self) -> None:
        """Stream ticks to reqMktData subscribers every `tick_interval` real seconds.

        With `tick_interval` 0 every subscription gets a full set of ticks each round, as fast as
        the sockets drain (the benchmark's mode).
        """
        while True:
            if self.tick_interval > 0:
                await asyncio.sleep(self.tick_interval)
            self.tick_rounds += 1
            self._tell_competing_session()
            if (self.stalled or not self.ib_link_up or not self.market_data_farm_ok
                    or self.competing_session):
                if self.tick_interval <= 0:
                    await asyncio.sleep(0.01)
                continue
            t = self._t()
            busy = False
            for s in self._started():
                if not s.subs.market_data or s.buffered > WRITE_BUFFER_LIMIT:
                    continue
                busy = True
                force = self.tick_interval <= 0
                batch: list[bytes] = []
                quotes: dict[tuple[str, bool], Quote] = {}
                for req_id, state in list(s.subs.market_data.items()):
                    seen = self._seen_at(state, t)
                    q = quotes.get((state.symbol, state.delayed))
                    if q is None:
                        q = quotes[state.symbol, state.delayed] = self.market.quote(
                            state.symbol, seen)
                    batch += self._tick_frames(req_id, state, q, seen, force)
                s.send_frames(batch)
            if self.tick_interval <= 0:
                sessions = [s for s in self._started() if s.subs.market_data]
                if busy:
                    await asyncio.gather(*(_drain(s) for s in sessions))
                else:
                    await asyncio.sleep(0.01)

    def _tell_competing_session(self) -> None:
        """Row 17: once per competing session, 10197 on every market-data subscription."""
        if not self.competing_session:
            self._competing_told = False
            return
        if self._competing_told:
            return
        self._competing_told = True
        for s in self._started():
            for req_id in s.subs.market_data:
                s.send(msg.error(s.version, req_id, *COMPETING_SESSION))

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

    # handlers: reference data and history

    def _trading_hours(self, t: float) -> tuple[str, str]:
        sessions = self.market.sessions
        i = sessions.trading_day(t)
        parts = []
        for k in range(i, min(i + 5, len(sessions))):
            o = datetime.fromtimestamp(sessions.opens[k], ET)
            cl = datetime.fromtimestamp(sessions.closes[k], ET)
            parts.append(f"{o:%Y%m%d}:{o:%H%M}-{cl:%Y%m%d}:{cl:%H%M}")
        liquid = ";".join(parts)
        return liquid, liquid

    def _req_contract_details(self, s: ClientSession, c: Cursor) -> None:
        c.skip()  # version
        req_id = c.next_int()
        contract = c.contract()
        self.contract_details_asked.append(contract["symbol"])
        inst = self._instrument(contract)
        if inst is None:
            s.send(msg.error(s.version, req_id, 200,
                             "No security definition has been found for the request"))  # fmt: skip
            return
        trading, liquid = self._trading_hours(self._t())
        s.send(msg.contract_details(s.version, req_id, inst, trading, liquid))
        s.send(msg.contract_details_end(req_id))

    def _req_head_timestamp(self, s: ClientSession, c: Cursor) -> None:
        req_id = c.next_int()
        first = self.market.sessions.opens[0]
        s.send(
            msg.head_timestamp(
                req_id, datetime.fromtimestamp(first, ET).strftime("%Y%m%d-%H:%M:%S")
            )
        )

    def _req_historical_data(self, s: ClientSession, c: Cursor) -> None:
        req_id = c.next_int()
        contract = c.contract()
        c.next_bool()  # includeExpired
        end_text = c.next_str()
        bar_size = c.next_str()
        duration = c.next_str()
        c.next_bool()  # useRTH
        what = c.next_str()
        date_format = c.next_int() or 1
        inst = self._instrument(contract)
        if inst is None:
            s.send(msg.error(s.version, req_id, 200,
                             "No security definition has been found for the request"))  # fmt: skip
            return
        now = self._t()

        def fail(why: str) -> None:
            s.send(
                msg.error(
                    s.version, req_id, 162, f"Historical Market Data Service error message:{why}"
                )
            )

        if what.upper() == "SCHEDULE":
            fail("the simulator has no SCHEDULE data")
            return
        refusal = history_refusal(self.realism, inst)
        if refusal is not None:
            fail(refusal)
            return
        try:
            end = parse_ib_datetime(end_text) if end_text else now
            span = duration_seconds(duration)
            size = bar_size_seconds(bar_size)
        except ValueError as exc:
            fail(str(exc))
            return
        end = min(end, now)
        start = end - span.total_seconds()
        if size < 5:
            fail(f"bar size {bar_size!r} is below the simulator's 5 second step")
            return
        daily = size >= 86400
        if not daily and span.total_seconds() / size > MAX_INTRADAY_BARS:
            fail(f"{duration} of {bar_size} bars is more than {MAX_INTRADAY_BARS} bars")
            return
        if daily:
            bars = self.market.daily_bars(inst.symbol, start, end)
            if size > 86400:
                bars = aggregate_bars(bars, size)
        else:
            bars = self.market.intraday_bars(inst.symbol, start, end, size)
        s.send(msg.historical_data(req_id, msg.tws_time(start), msg.tws_time(end), bars,
                                   date_format, daily))  # fmt: skip

    # handlers: orders

    def _place_order(self, s: ClientSession, c: Cursor) -> None:
        assert s.client_id is not None
        order_id = c.next_int()
        contract = c.contract()
        c.next_str()  # secIdType
        c.next_str()  # secId
        action = c.next_str().upper()
        quantity = c.next_float() or 0.0
        order_type = c.next_str().upper()
        lmt = c.next_float()
        aux = c.next_float()
        tif = c.next_str().upper() or "DAY"
        c.next_str()  # ocaGroup
        account = c.next_str()
        c.next_str()  # openClose
        c.next_str()  # origin
        order_ref = c.next_str()
        c.skip(6)  # transmit, parentId, blockOrder, sweepToFill, displaySize, triggerMethod
        outside_rth = c.next_bool()
        if self.realism.read_only:
            # "Read-Only API" checked: the order never reaches the book (row 3).
            self.book.order_refs_received.append(order_ref)
            self.book.reserve_ids(s.client_id, order_id)
            self.reports.read_only(s, order_id)
            self._event("reject", f"order {s.client_id}/{order_id}: error 321 read-only API",
                        s.client_id)
            return
        self.book.advance()
        self.book.price_check_pct = self.realism.price_check_pct
        self.book.size_check_value = self.realism.size_check_value
        self.book.place(
            s.client_id,
            order_id,
            OrderRequest(
                symbol=contract["symbol"],
                con_id=contract["con_id"],
                sec_type=contract["sec_type"],
                action=action,
                quantity=quantity,
                order_type=order_type,
                lmt_price=lmt,
                aux_price=aux,
                tif=tif,
                outside_rth=outside_rth,
                order_ref=order_ref,
                account=account,
            ),
        )

    def _cancel_order(self, s: ClientSession, c: Cursor) -> None:
        assert s.client_id is not None
        c.skip()
        order_id = c.next_int()
        self.book.advance()
        if not self.book.cancel(s.client_id, order_id):
            text = f"OrderId {order_id} that needs to be cancelled is not found."
            s.send(msg.error(s.version, order_id, 10147, text))

    def _global_cancel(self, s: ClientSession, c: Cursor) -> None:
        self.book.advance()
        n = self.book.global_cancel()
        self._event("cancel", f"client {s.client_id}: global cancel ({n} order(s))", s.client_id)

    def _send_open_orders(self, s: ClientSession, orders: list[SimOrder]) -> None:
        for o in orders:
            inst = self.market.instruments[o.symbol]
            s.send(msg.open_order(s.version, o, inst))
            s.send(msg.order_status(o))
        s.send(msg.open_order_end())

    def _req_open_orders(self, s: ClientSession, c: Cursor) -> None:
        self.book.advance()
        self._send_open_orders(s, [o for o in self.book.working() if o.client_id == s.client_id])

    def _req_all_open_orders(self, s: ClientSession, c: Cursor) -> None:
        self.book.advance()
        self._send_open_orders(s, self.book.working())

    def _req_completed_orders(self, s: ClientSession, c: Cursor) -> None:
        api_only = c.next_bool()
        today = datetime.fromtimestamp(self._t(), ET).date()
        for o in self.book.completed():
            if api_only and o.order_id == 0:
                continue
            if o.completed_at is None or datetime.fromtimestamp(o.completed_at, ET).date() != today:
                continue
            s.send(msg.completed_order(s.version, o, self.market.instruments[o.symbol]))
        s.send(msg.completed_orders_end())

    def _req_executions(self, s: ClientSession, c: Cursor) -> None:
        c.skip()
        req_id = c.next_int()
        client_id = c.next_int()
        acct = c.next_str()
        since = c.next_str()
        symbol = c.next_str().upper()
        sec_type = c.next_str().upper()
        c.next_str()  # exchange
        side = c.next_str().upper()
        self.book.advance()
        today = datetime.fromtimestamp(self._t(), ET).date()
        after: float | None = None
        if since:
            with contextlib.suppress(ValueError):
                after = parse_ib_datetime(since)
        for ex in self.book.executions:
            if ex.time.astimezone(ET).date() != today:
                continue
            if client_id and ex.client_id != client_id:
                continue
            if acct and acct != ex.account:
                continue
            if symbol and symbol != ex.symbol:
                continue
            if sec_type and sec_type != "STK":
                continue
            if side and {"BUY": "BOT", "SELL": "SLD"}.get(side, side) != ex.side:
                continue
            if after is not None and ex.time.timestamp() < after:
                continue
            inst = self.market.instruments[ex.symbol]
            s.send(msg.exec_details(s.version, req_id, ex, inst))
            s.send(msg.commission_report(ex))
        self._executions_answered += 1
        every = self.realism.drop_exec_details_end_every
        if every and self._executions_answered % every == 0:
            log.info("reqExecutions %s: execDetailsEnd left out (realism, row 14)", req_id)
            return
        s.send(msg.exec_details_end(req_id))


async def _drain(s: ClientSession) -> None:
    try:
        await s.writer.drain()
    except (ConnectionError, OSError):
        s.close()
