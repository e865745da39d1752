"""Connection monitoring with auto-reconnection: ConnectionMonitor and RobustIBConnection.

The TWS API has no heartbeat message and a stalled gateway leaves the socket open, so the link's
health is proven by a cheap request with its own timeout (reqCurrentTime) every
`heartbeat_interval` seconds, from the moment the socket is up: also while the resync runs,
which with hundreds of positions takes tens of seconds. A closed socket is noticed at once
through ib_async's disconnectedEvent. Exactly one reconnect loop runs at a time, whatever fires
it. Every (re)connect is followed by a resync (the registered hooks) before the state says
CONNECTED.

Network guards (connect and heartbeat timeouts, reconnect delays) are real seconds; only event
timestamps come from the engine's Clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import statistics
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from ib_async import IB

from weekly_er_tui.broker.outages import ExpectedOutage, expected_outage
from weekly_er_tui.clock import ET, Clock, WallClock
from weekly_er_tui.config import AppConfig, account_is_live, live_account_refused, port_warning
from weekly_er_tui.journal import Journal
from weekly_er_tui.model import (
    Alert,
    ConnectionState,
    ConnectionStats,
    EventType,
    LatencyStats,
    Severity,
)

log = logging.getLogger("weekly_er_tui.connection")

# IB's connectivity codes (error messages with reqId -1).
CONNECTIVITY_LOST = 1100
RESTORED_DATA_LOST = 1101
RESTORED_DATA_KEPT = 1102
SERVER_BROKEN = 2110
FARM_BROKEN = {2103: "market data farm", 2105: "historical data farm", 2157: "sec-def farm"}
FARM_OK = {2104: 2103, 2106: 2105, 2158: 2157}
CLIENT_ID_IN_USE = 326
CONNECTIVITY_CODES = (
    {CONNECTIVITY_LOST, RESTORED_DATA_LOST, RESTORED_DATA_KEPT, SERVER_BROKEN}
    | set(FARM_BROKEN) | set(FARM_OK)
)

# Some TWS builds never answer a second reqCurrentTime within 1 s of the first; 1.2 s leaves room
# for the jitter between when we send and when TWS counts.
MIN_HEARTBEAT_SPACING = 1.2
LATENCY_WINDOW = 20

AlertSink = Callable[[Alert], None]
ResyncHook = Callable[[IB], Awaitable[dict[str, Any]]]
StateListener = Callable[[ConnectionStats], None]


@dataclass(frozen=True, slots=True)
class ConnectionConfig:
    """The config file's `ib_*` and `connection_monitoring` keys, as one object."""

    host: str = "127.0.0.1"
    port: int = 7497
    client_id: int = 7
    account: str = ""
    heartbeat_interval: float = 30.0
    heartbeat_timeout: float = 10.0
    connect_timeout: float = 10.0
    max_reconnect_attempts: int = 5
    reconnect_delay: float = 10.0
    slow_retry_interval: float = 60.0
    client_id_fallback: int = 0
    allow_live: bool = False
    gateway_restart_time: str | None = None  # "HH:MM" ET: the gateway's daily auto-restart
    # `run --clock-start/--clock-speed`: a simulated clock, never for a live account.
    simulated_clock: bool = False

    @classmethod
    def from_config(cls, cfg: AppConfig) -> ConnectionConfig:
        cm = cfg.connection_monitoring
        return cls(
            host=cfg.ib_host, port=cfg.ib_port, client_id=cfg.ib_client_id,
            account=cfg.account or "", heartbeat_interval=cm.heartbeat_interval,
            heartbeat_timeout=cm.heartbeat_timeout, connect_timeout=cm.connect_timeout,
            max_reconnect_attempts=cm.max_reconnect_attempts, reconnect_delay=cm.reconnect_delay,
            slow_retry_interval=cm.slow_retry_interval, client_id_fallback=cm.client_id_fallback,
            allow_live=cfg.allow_live, gateway_restart_time=cm.gateway_restart_time,
        )

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


class ConnectionFailed(ConnectionError):
    """A connect that did not succeed, with a message a person can act on."""


def explain_failure(cfg: ConnectionConfig, exc: BaseException | None, client_id: int,
                    client_id_in_use: bool = False) -> str:
    where = f"Failed to connect to IBKR at {cfg.address}"
    if client_id_in_use:
        return (
            f"{where}: clientId {client_id} is already in use (error 326). Close the other API "
            f"session using it, choose another ib_client_id, or set "
            f"connection_monitoring.client_id_fallback to try the next ids"
        )
    if isinstance(exc, ConnectionRefusedError):
        return (
            f"{where}: connection refused. Check that TWS or IB Gateway is running and that "
            f"API port {cfg.port} is enabled (TWS: Edit > Global Configuration > API > Settings)"
        )
    if isinstance(exc, TimeoutError):
        return (
            f"{where}: no answer within {cfg.connect_timeout:g} s. TWS or IB Gateway may be "
            f"starting, stalled, or showing a dialog that waits for a click; check it, and that "
            f"127.0.0.1 is a trusted API client"
        )
    if isinstance(exc, OSError):
        return f"{where}: {exc.strerror or exc}. Check ib_host and ib_port and the network"
    return f"{where}: {exc!r}"


class ConnectionMonitor:
    """Owns one ib_async.IB: connects, proves the link with heartbeats, reconnects, resyncs."""

    def __init__(
        self,
        config: ConnectionConfig | None = None,
        *,
        ib: IB | None = None,
        journal: Journal | None = None,
        alert: AlertSink | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.config = config or ConnectionConfig()
        self.ib = ib or IB()
        self.journal = journal
        self._alert = alert
        self.clock: Clock = clock or WallClock()
        self._state = ConnectionState.STOPPED
        self._client_id = self.config.client_id
        self._resync_hooks: list[ResyncHook] = []
        self._data_lost_hooks: list[ResyncHook] = []
        self._listeners: list[StateListener] = []
        self._degraded: dict[int, str] = {}
        self._latencies: deque[float] = deque(maxlen=LATENCY_WINDOW)
        self._last_heartbeat_sent = 0.0
        self._last_heartbeat_ok: float | None = None
        self._last_heartbeat_at: datetime | None = None
        self._started_at: float | None = None
        self._connected_since: float | None = None
        self._connected_total = 0.0
        self._total_connections = 0
        self._total_disconnects = 0
        self._reconnect_attempts = 0
        self._last_error = ""
        self._client_id_in_use = False
        self._intentional_disconnect = False
        self._stopping = False
        self._reconnect_task: asyncio.Task[None] | None = None
        self._heartbeat_task: asyncio.Task[None] | None = None
        self._hb_inflight: asyncio.Future[bool] | None = None
        self._side_tasks: set[asyncio.Task[Any]] = set()
        self._connected = asyncio.Event()
        # The account IB names at the connect decides PAPER or LIVE (None: not connected yet);
        # a live account without allow_live is refused, and `refusal` says why.
        self.account = self.config.account
        self.account_live: bool | None = None
        self.refusal = ""
        self._outage: ExpectedOutage | None = None  # the expected outage the link is down for
        self.ib.disconnectedEvent += self._on_disconnected
        self.ib.errorEvent += self._on_error

    # -- public API ------------------------------------------------------------------------
    @property
    def state(self) -> ConnectionState:
        return self._state

    @property
    def is_connected(self) -> bool:
        return self._state in (ConnectionState.CONNECTED, ConnectionState.DEGRADED)

    @property
    def reconnecting(self) -> bool:
        return self._reconnect_task is not None and not self._reconnect_task.done()

    def add_resync_hook(self, hook: ResyncHook) -> None:
        """Run `hook(ib)` after every (re)connect, before the state says CONNECTED. It returns
        a summary dict that goes into the one RESYNC event."""
        self._resync_hooks.append(hook)

    def add_data_lost_hook(self, hook: ResyncHook) -> None:
        """Run `hook(ib)` on code 1101 (connectivity restored, market data lost)."""
        self._data_lost_hooks.append(hook)

    def add_listener(self, fn: StateListener) -> Callable[[], None]:
        self._listeners.append(fn)
        return lambda: self._listeners.remove(fn) if fn in self._listeners else None

    async def wait_connected(self) -> None:
        """Return once the link is up and resynced (wrap in asyncio.timeout to bound it)."""
        await self._connected.wait()

    def stats(self) -> ConnectionStats:
        now = time.monotonic()
        uptime = now - self._connected_since if self._connected_since is not None else 0.0
        total = now - self._started_at if self._started_at is not None else 0.0
        connected = self._connected_total + uptime
        lat = list(self._latencies)
        return ConnectionStats(
            state=self._state,
            host=self.config.host,
            port=self.config.port,
            client_id=self._client_id,
            total_connections=self._total_connections,
            total_disconnects=self._total_disconnects,
            reconnect_attempts=self._reconnect_attempts,
            current_uptime_s=uptime,
            uptime_pct=100.0 * connected / total if total > 0 else 0.0,
            last_heartbeat=self._last_heartbeat_at,
            last_heartbeat_age_s=(
                now - self._last_heartbeat_ok if self._last_heartbeat_ok is not None else None
            ),
            heartbeat_latency=LatencyStats(
                last_ms=lat[-1] if lat else None,
                median_ms=statistics.median(lat) if lat else None,
                worst_ms=max(lat) if lat else None,
            ),
            last_error=self._last_error,
            degraded_reasons=tuple(self._degraded.values()),
        )

    def get_connection_stats(self) -> dict[str, Any]:
        """The documented stats dict: total_connections, total_disconnects, reconnect_attempts,
        current_uptime, last_heartbeat, heartbeat_latency_ms {last, median, worst}, uptime_pct,
        state, and more."""
        return self.stats().to_dict()

    async def start(self, *, wait: bool = False) -> None:
        """Connect and supervise. With `wait`, the first connect must succeed within the attempt
        series or ConnectionFailed is raised; without it, failures go to the reconnect loop."""
        self._stopping = False
        if self._started_at is None:
            self._started_at = time.monotonic()
        self._set_state(ConnectionState.CONNECTING)
        ok = await self._connect_once()
        if self.refusal:
            if wait:
                raise ConnectionFailed(self.refusal)
            return
        if not ok:
            if wait:
                for attempt in range(1, self.config.max_reconnect_attempts):
                    log.info("Connect attempt %d failed; retrying in %gs", attempt,
                             self.config.reconnect_delay)
                    await asyncio.sleep(self.config.reconnect_delay)
                    if await self._connect_once():
                        break
                    if self.refusal:
                        raise ConnectionFailed(self.refusal)
                else:
                    self._set_state(ConnectionState.FAILED)
                    if self._heartbeat_task is not None:  # begun by a connect that then failed
                        self._heartbeat_task.cancel()
                    raise ConnectionFailed(self._last_error)
            else:
                self._outage_began()  # started during the daily restart: expected, not failed
                self.request_reconnect("initial connect failed")

    async def stop(self) -> None:
        """Disconnect and cancel every task; leaves orders at the broker as they are."""
        self._stopping = True
        tasks: list[asyncio.Future[Any]] = [
            t for t in (self._heartbeat_task, self._reconnect_task, self._hb_inflight)
            if t is not None
        ]
        tasks += list(self._side_tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._heartbeat_task = self._reconnect_task = None
        self._disconnect_quietly()
        self._mark_down()
        self._set_state(ConnectionState.STOPPED)
        self.ib.disconnectedEvent -= self._on_disconnected
        self.ib.errorEvent -= self._on_error

    def request_reconnect(self, reason: str) -> bool:
        """Start the reconnect loop unless one is running. Returns True if this call started it."""
        if self._stopping:
            return False
        if self.reconnecting:
            log.info("Reconnect already in progress; ignoring another request (%s)", reason)
            return False
        self._reconnect_task = asyncio.create_task(self._reconnect_loop(reason), name="reconnect")
        return True

    async def reconnect_now(self) -> None:
        """The trader's `reconnect` command: a fresh series of attempts, starting at once.
        When the link is up, it is proven with a heartbeat first and left alone if it answers."""
        if self.is_connected and not self.reconnecting:
            if await self.heartbeat():
                log.info("Reconnect asked for, but the link answers its heartbeat: left as is")
                return
            return  # heartbeat() already dropped the link and started the loop
        if self._reconnect_task is not None and not self._reconnect_task.done():
            self._reconnect_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reconnect_task
        self._reconnect_task = asyncio.create_task(
            self._reconnect_loop("reconnect requested by the trader", first_delay=0.0),
            name="reconnect",
        )

    async def heartbeat(self) -> bool:
        """One heartbeat now (spaced at least 1 s from the last). False means the link was
        declared dead, dropped, and a reconnect started.

        Heartbeats never overlap: ib_async keys reqCurrentTime by name, so a second request in
        flight would orphan the first one's answer. A caller that arrives while one is running
        shares its result."""
        if self._hb_inflight is None or self._hb_inflight.done():
            self._hb_inflight = asyncio.ensure_future(self._heartbeat())
        return await asyncio.shield(self._hb_inflight)

    async def _heartbeat(self) -> bool:
        if not self.ib.isConnected():
            return False
        spacing = MIN_HEARTBEAT_SPACING - (time.monotonic() - self._last_heartbeat_sent)
        if spacing > 0:
            await asyncio.sleep(spacing)
        self._last_heartbeat_sent = t0 = time.monotonic()
        try:
            await asyncio.wait_for(self.ib.reqCurrentTimeAsync(), self.config.heartbeat_timeout)
        except (TimeoutError, ConnectionError) as exc:
            if self._stopping or not self._link_up:
                return False
            waited = time.monotonic() - t0
            self._last_error = (
                f"heartbeat unanswered for {waited:.1f} s: the gateway is stalled or the link "
                f"is dead although the socket is open"
            )
            self._event(EventType.HEARTBEAT_FAILED, Severity.HIGH, self._last_error,
                        {"timeout_s": self.config.heartbeat_timeout, "error": repr(exc)})
            self._drop_and_reconnect("heartbeat failed")
            return False
        now = time.monotonic()
        self._latencies.append((now - t0) * 1000.0)
        self._last_heartbeat_ok = now
        self._last_heartbeat_at = self.clock.now()
        self._notify()
        return True

    # -- internals -------------------------------------------------------------------------
    @property
    def _link_up(self) -> bool:
        """The socket is up and the account accepted: resyncing or CONNECTED."""
        return self._connected_since is not None

    async def _heartbeat_loop(self) -> None:
        # The first beat right away, so the latency is known from the start.
        while not self._stopping:
            if self._link_up:
                await self.heartbeat()
            await asyncio.sleep(self.config.heartbeat_interval)

    async def _connect_once(self) -> bool:
        cfg = self.config
        ids = [cfg.client_id + i for i in range(cfg.client_id_fallback + 1)]
        for client_id in ids:
            self._client_id = client_id
            self._client_id_in_use = False
            self._intentional_disconnect = False
            self._degraded.clear()  # what this connect says (a farm down at it) stands
            try:
                await self.ib.connectAsync(
                    cfg.host, cfg.port, clientId=client_id, timeout=cfg.connect_timeout,
                    account=cfg.account,
                )
            except (OSError, TimeoutError, ConnectionError) as exc:
                self._last_error = explain_failure(cfg, exc, client_id, self._client_id_in_use)
                log.warning("%s", self._last_error)
                if self._client_id_in_use and client_id != ids[-1]:
                    log.warning("clientId %d is in use; trying %d", client_id, client_id + 1)
                    continue
                return False
            if client_id != cfg.client_id:
                self._event(
                    EventType.SYSTEM, Severity.MEDIUM,
                    f"clientId {cfg.client_id} was in use; connected as clientId {client_id}",
                    {"configured": cfg.client_id, "used": client_id},
                )
            await self._after_connect()
            return self.is_connected
        return False

    def _refuse_live(self) -> bool:
        """PAPER or LIVE from the account IB names (managedAccounts), never from the port: a
        live account needs allow_live on every port. True when the connect is refused."""
        cfg = self.config
        accounts = [a for a in self.ib.managedAccounts() if a]
        self.account = cfg.account or (accounts[0] if accounts else "")
        watched = [cfg.account] if cfg.account else accounts
        live = [a for a in watched if account_is_live(a)]
        self.account_live = bool(live)
        if self.account:
            warning = port_warning(self.account, cfg.port)
            if warning:
                self._event(EventType.SYSTEM, Severity.MEDIUM if live else Severity.INFO,
                            warning, {"account": self.account, "port": cfg.port})
        if not live or (cfg.allow_live and not cfg.simulated_clock):
            return False
        self.refusal = self._last_error = (
            f"account {live[0]} is a LIVE account (real money) and this engine runs on a "
            "simulated clock (--clock-start/--clock-speed/--clock-epoch): drop those flags, "
            "or connect to a paper account or `weekly-er-tui sim`"
            if cfg.simulated_clock else live_account_refused(live[0]))
        self._event(EventType.CONNECTION_FAILED, Severity.CRITICAL,
                    f"Refusing to trade: {self.refusal}",
                    {"account": live[0], "port": cfg.port, "allow_live": cfg.allow_live,
                     "simulated_clock": cfg.simulated_clock})
        why = "a simulated clock" if cfg.simulated_clock else "allow_live is not set"
        self._send_alert(Alert(
            key="live_account_refused", priority=Severity.CRITICAL, kind="connection",
            title=f"Refusing to trade LIVE account {live[0]}: {why}",
            body=self.refusal, facts={"account": live[0], "port": cfg.port},
        ))
        self._stopping = True  # no reconnect: this answer will not change by retrying
        self._disconnect_quietly()
        self._set_state(ConnectionState.FAILED)
        return True

    async def _after_connect(self) -> None:
        if self._refuse_live():
            return
        self._total_connections += 1
        self._connected_since = time.monotonic()
        self._last_error = ""
        # Heartbeat from now on, while the hooks run: a gateway that stalls during a long resync
        # is noticed within heartbeat_interval + heartbeat_timeout, not after the resync.
        if self._heartbeat_task is None or self._heartbeat_task.done():
            self._heartbeat_task = asyncio.create_task(self._heartbeat_loop(), name="heartbeat")
        summary: dict[str, Any] = {
            "positions": len(self.ib.positions()),
            "open_orders": len(self.ib.openTrades()),
            "executions": len(self.ib.fills()),
        }
        failed: list[str] = []
        for hook in self._resync_hooks:
            if not self.ib.isConnected():
                break  # a hook dropped the link (an engine refusing to trade) or it fell
            try:
                summary.update(await hook(self.ib))
            except Exception as exc:
                log.exception("resync step %r failed", hook)
                failed.append(f"{getattr(hook, '__qualname__', hook)}: {exc!r}")
        if not self.ib.isConnected():
            return  # dropped during the resync: the disconnect handler took over
        ok = not failed
        summary["failed"] = failed
        self._event(
            EventType.RESYNC, Severity.INFO if ok else Severity.HIGH,
            "Resync complete: "
            f"{summary['positions']} positions, {summary['open_orders']} open orders, "
            f"{summary['executions']} executions today"
            + ("" if ok else f"; {len(failed)} step(s) FAILED: {'; '.join(failed)}"),
            summary,
        )
        self._last_heartbeat_ok = time.monotonic()
        self._last_heartbeat_at = self.clock.now()
        self._connected.set()
        # A farm reported down during the connect (2103/2105/2157) keeps the link DEGRADED.
        self._set_state(ConnectionState.DEGRADED if self._degraded else ConnectionState.CONNECTED)
        self._event(
            EventType.CONNECTED, Severity.INFO,
            f"Connected to IBKR at {self.config.address} as clientId {self._client_id}",
            {"client_id": self._client_id, "total_connections": self._total_connections},
        )

    async def _reconnect_loop(self, reason: str, first_delay: float | None = None) -> None:
        cfg = self.config
        self._set_state(ConnectionState.RECONNECTING)
        delay = cfg.reconnect_delay if first_delay is None else first_delay
        for attempt in range(1, cfg.max_reconnect_attempts + 1):
            self._event(
                EventType.RECONNECTING, Severity.MEDIUM,
                f"Reconnect attempt {attempt}/{cfg.max_reconnect_attempts} in {delay:g} s "
                f"({reason})",
                {"attempt": attempt, "max_attempts": cfg.max_reconnect_attempts},
            )
            await asyncio.sleep(delay)
            delay = cfg.reconnect_delay
            self._reconnect_attempts += 1
            self._set_state(ConnectionState.RECONNECTING)
            if await self._connect_once():
                self._reconnected(attempt)
                return
            if self.refusal:
                return
        tries = await self._wait_out_expected_outage(cfg.max_reconnect_attempts)
        if tries is None:
            return
        self._set_state(ConnectionState.FAILED)
        past = (f" It lasted past {self._outage.words}, which was expected to end by "
                f"{self._outage.ends.astimezone(ET):%H:%M} ET." if self._outage else "")
        message = (
            f"Reconnection FAILED after {tries} attempts: "
            f"{self._last_error}.{past} Manual intervention required. Retrying every "
            f"{cfg.slow_retry_interval:g} s; press c (or restart) to retry now"
        )
        self._event(EventType.CONNECTION_FAILED, Severity.CRITICAL, message,
                    {"attempts": cfg.max_reconnect_attempts, "error": self._last_error})
        self._send_alert(Alert(
            key="reconnect_failed", priority=Severity.CRITICAL, kind="connection",
            title="IB connection failed: manual intervention required",
            body=message, facts={"error": self._last_error, "address": cfg.address},
        ))
        slow = 0
        while not self._stopping:
            await asyncio.sleep(cfg.slow_retry_interval)
            slow += 1
            self._reconnect_attempts += 1
            log.info("Slow reconnect attempt %d to %s", slow, cfg.address)
            if await self._connect_once():
                self._reconnected(tries + slow)
                return
            self._set_state(ConnectionState.FAILED)

    async def _wait_out_expected_outage(self, tries: int) -> int | None:
        """After the attempts ran out: while the outage is an expected one (the daily restart's
        window, the Sunday re-login), keep trying without a CRITICAL. Returns the attempts made
        when the outage outlasted its window (or was not expected), None when reconnected."""
        outage, cfg = self._outage, self.config
        if outage is None:
            return tries
        if outage.kind == "relogin":
            message = (
                f"IB Gateway / TWS needs a login: {outage.words} ended the session and "
                f"{cfg.address} refuses connections. Log in (with 2FA if asked); the link is "
                f"retried every {cfg.slow_retry_interval:g} s and resumes by itself"
            )
            self._event(EventType.CONNECTION_FAILED, Severity.HIGH, message,
                        {"outage": outage.kind, "error": self._last_error})
            self._send_alert(Alert(key="relogin_needed", priority=Severity.HIGH,
                                   kind="connection", title="IB needs a login (weekly re-login)",
                                   body=message, facts={"address": cfg.address}))
        pace = cfg.slow_retry_interval if outage.kind == "relogin" else cfg.reconnect_delay
        while not self._stopping and self.clock.now() < outage.ends:
            await asyncio.sleep(max(pace, 0.05))
            tries += 1
            self._reconnect_attempts += 1
            if await self._connect_once():
                self._reconnected(tries)
                return None
            self._set_state(ConnectionState.RECONNECTING)
        return None if self._stopping else tries

    def _outage_began(self) -> ExpectedOutage | None:
        self._outage = expected_outage(self.clock.now(), self.config.gateway_restart_time)
        return self._outage

    def _link_lost_alert(self, body: str) -> None:
        """The HIGH "connection lost" alert, or for an expected outage what it is instead."""
        outage = self._outage_began()
        if outage is None:
            self._send_alert(Alert(key="connection_lost", priority=Severity.HIGH,
                                   kind="connection", title="Connection lost to IBKR",
                                   body=body))
            return
        if outage.kind == "restart":
            message = (f"Gateway restarting (scheduled): {outage.words}. Reconnecting until it "
                       f"is back (expected by {outage.ends.astimezone(ET):%H:%M} ET)")
            self._event(EventType.CONNECTIVITY, Severity.INFO, message, {"outage": outage.kind})
            self._send_alert(Alert(key="gateway_restart", priority=Severity.INFO,
                                   kind="connection", title="Gateway restarting (scheduled)",
                                   body=message))
        # The re-login: one HIGH alert, once the attempts show a login is needed.

    def _reconnected(self, attempts: int) -> None:
        self._outage = None
        self._event(
            EventType.RECONNECTED, Severity.INFO,
            f"Reconnected to IBKR at {self.config.address} after {attempts} attempt(s)",
            {"attempts": attempts},
        )
        self._send_alert(Alert(
            key="reconnected", priority=Severity.LOW, kind="connection",
            title=f"Reconnected to IBKR after {attempts} attempt(s)",
            body="The connection is back; positions, orders and executions were resynced.",
        ))

    def _on_disconnected(self) -> None:
        if self._intentional_disconnect or self._stopping:
            return
        was_up = self._connected_since is not None
        self._mark_down()
        if was_up:
            self._last_error = "the gateway closed the connection"
            self._event(EventType.DISCONNECTED, Severity.HIGH,
                        f"{self.config.address}: the gateway closed the socket",
                        {"total_disconnects": self._total_disconnects})
            self._link_lost_alert(
                f"The socket to {self.config.address} closed; reconnecting automatically.")
        self.request_reconnect("connection lost")

    def _drop_and_reconnect(self, reason: str) -> None:
        # Dropped during a resync: the connect under way fails and its caller (start's attempts
        # or the reconnect loop) tries again; a second loop started here would race it.
        resyncing = not self._connected.is_set()
        self._intentional_disconnect = True
        self._disconnect_quietly()
        self._intentional_disconnect = False
        self._mark_down()
        self._event(EventType.DISCONNECTED, Severity.HIGH,
                    f"{self.config.address}: dropped by us ({reason})",
                    {"total_disconnects": self._total_disconnects})
        self._link_lost_alert(
            f"{reason}: the link to {self.config.address} was dropped; reconnecting.")
        if not resyncing:
            self.request_reconnect(reason)

    def _disconnect_quietly(self) -> None:
        self._intentional_disconnect = True
        try:
            self.ib.disconnect()
        finally:
            self._intentional_disconnect = False

    def _mark_down(self) -> None:
        if self._connected_since is not None:
            self._connected_total += time.monotonic() - self._connected_since
            self._connected_since = None
            self._total_disconnects += 1
        self._connected.clear()
        self._degraded.clear()

    def _on_error(self, req_id: int, code: int, message: str, contract: Any) -> None:
        if code == CLIENT_ID_IN_USE:
            self._client_id_in_use = True
            return
        if req_id != -1 or code not in CONNECTIVITY_CODES:
            return
        before = dict(self._degraded)
        if code == CONNECTIVITY_LOST:
            self._degraded[CONNECTIVITY_LOST] = "TWS lost its connection to IB's servers (1100)"
        elif code in (RESTORED_DATA_LOST, RESTORED_DATA_KEPT):
            self._degraded.pop(CONNECTIVITY_LOST, None)
            self._degraded.pop(SERVER_BROKEN, None)
            if code == RESTORED_DATA_LOST:
                self._spawn(self._run_data_lost_hooks())
        elif code == SERVER_BROKEN:
            self._degraded[SERVER_BROKEN] = "TWS-to-server connectivity broken (2110)"
        elif code in FARM_BROKEN:
            self._degraded[code] = f"{FARM_BROKEN[code]} broken ({code}): {message}"
        elif code in FARM_OK:
            self._degraded.pop(FARM_OK[code], None)
        severity = Severity.HIGH if code in (CONNECTIVITY_LOST, SERVER_BROKEN) else Severity.INFO
        if code in FARM_BROKEN:
            severity = Severity.MEDIUM
        if before != self._degraded or code in (RESTORED_DATA_LOST, RESTORED_DATA_KEPT):
            self._event(EventType.CONNECTIVITY, severity, f"IB code {code}: {message}",
                        {"code": code, "degraded": list(self._degraded.values())})
        if code in (CONNECTIVITY_LOST, SERVER_BROKEN):
            self._send_alert(Alert(
                key=f"degraded:{code}", priority=Severity.HIGH, kind="connection",
                title=f"IB connectivity degraded ({code})",
                body=f"{message}. The socket to TWS is up, but orders or data may not flow.",
            ))
        if self.is_connected:
            self._set_state(
                ConnectionState.DEGRADED if self._degraded else ConnectionState.CONNECTED
            )

    async def _run_data_lost_hooks(self) -> None:
        results: dict[str, Any] = {}
        for hook in self._data_lost_hooks:
            try:
                results.update(await hook(self.ib))
            except Exception:
                log.exception("resubscription step %r failed", hook)
        self._event(EventType.RESYNC, Severity.INFO,
                    "Market data resubscribed after 1101 (connectivity restored, data lost)",
                    results)

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task: asyncio.Task[Any] = asyncio.ensure_future(coro)
        self._side_tasks.add(task)
        task.add_done_callback(self._side_tasks.discard)

    def _set_state(self, state: ConnectionState) -> None:
        if state is self._state:
            return
        old, self._state = self._state, state
        log.info("Connection state %s -> %s", old.value, state.value)
        if state is ConnectionState.DEGRADED:
            self._event(EventType.CONNECTION_STATE, Severity.HIGH,
                        "Connection DEGRADED: " + "; ".join(self._degraded.values()),
                        {"from": old.value, "to": state.value})
        elif old is ConnectionState.DEGRADED and state is ConnectionState.CONNECTED:
            self._event(EventType.CONNECTION_STATE, Severity.INFO,
                        "Connectivity restored", {"from": old.value, "to": state.value})
        self._notify()

    def _notify(self) -> None:
        stats = self.stats()
        for fn in list(self._listeners):
            try:
                fn(stats)
            except Exception:
                log.exception("connection listener %r failed", fn)

    def _event(self, kind: EventType, severity: Severity, message: str,
               details: dict[str, Any] | None = None) -> None:
        if self.journal is not None:
            self.journal.event(kind, severity, message, details)
        else:
            log.log(logging.WARNING if severity.at_least(Severity.MEDIUM) else logging.INFO,
                    "%s: %s", kind.value, message)

    def _send_alert(self, alert: Alert) -> None:
        if self._alert is not None:
            try:
                self._alert(replace(alert, timestamp=self.clock.now()))
            except Exception:
                log.exception("alert sink failed for %s", alert.key)


class RobustIBConnection:
    """The documented wrapper: `async with RobustIBConnection(config) as ib: ...`.

    `config` may be a ConnectionConfig, the whole AppConfig, or None (defaults). Entering connects
    (retrying per the config) and starts the heartbeat; leaving disconnects cleanly.
    """

    def __init__(
        self,
        config: ConnectionConfig | AppConfig | None = None,
        *,
        journal: Journal | None = None,
        alert: AlertSink | None = None,
        clock: Clock | None = None,
    ) -> None:
        if isinstance(config, AppConfig):
            config = ConnectionConfig.from_config(config)
        self.monitor = ConnectionMonitor(config, journal=journal, alert=alert, clock=clock)

    @property
    def ib(self) -> IB:
        return self.monitor.ib

    async def __aenter__(self) -> IB:
        await self.monitor.start(wait=True)
        return self.monitor.ib

    async def __aexit__(self, *exc: object) -> None:
        await self.monitor.stop()

    def get_connection_stats(self) -> dict[str, Any]:
        return self.monitor.get_connection_stats()
