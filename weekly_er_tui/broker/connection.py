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

The parts: `connection_config.py` (where the gateway is, and a failed connect explained),
`reconnect.py` (the reconnection policy), `connection_stats.py` (counters, uptime, latencies),
`connectivity.py` (IB's connectivity codes).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from ib_async import IB

from weekly_er_tui.broker.connection_config import (
    ConnectionConfig,
    ConnectionFailed,
    explain_failure,
)
from weekly_er_tui.broker.connection_stats import LinkCounters
from weekly_er_tui.broker.connectivity import (
    CLIENT_ID_IN_USE,
    CONNECTIVITY_CODES,
    CONNECTIVITY_LOST,
    RESTORED_DATA_KEPT,
    RESTORED_DATA_LOST,
    SERVER_BROKEN,
    note_connectivity,
)
from weekly_er_tui.broker.outages import ExpectedOutage
from weekly_er_tui.broker.reconnect import Reconnecting
from weekly_er_tui.clock import Clock, WallClock
from weekly_er_tui.config import AppConfig, account_is_live, live_account_refused, port_warning
from weekly_er_tui.journal import Journal
from weekly_er_tui.listeners import notify, tell
from weekly_er_tui.model import (
    Alert,
    ConnectionState,
    ConnectionStats,
    EventType,
    Severity,
)

__all__ = [
    "AlertSink",
    "ConnectionConfig",
    "ConnectionFailed",
    "ConnectionMonitor",
    "ResyncHook",
    "RobustIBConnection",
    "StateListener",
    "explain_failure",
]

log = logging.getLogger("weekly_er_tui.connection")

# Some TWS builds never answer a second reqCurrentTime within 1 s of the first; 1.2 s leaves room
# for the jitter between when we send and when TWS counts.
MIN_HEARTBEAT_SPACING = 1.2

AlertSink = Callable[[Alert], None]
ResyncHook = Callable[[IB], Awaitable[dict[str, Any]]]
StateListener = Callable[[ConnectionStats], None]


class ConnectionMonitor(Reconnecting):
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
        self.counters = LinkCounters()
        self._last_heartbeat_sent = 0.0
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
        return self.counters.snapshot(
            state=self._state, host=self.config.host, port=self.config.port,
            client_id=self._client_id, last_error=self._last_error,
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
        self.counters.start()
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
        self.counters.heartbeat_answered((now - t0) * 1000.0, now, self.clock.now())
        self._notify()
        return True

    # -- internals -------------------------------------------------------------------------
    @property
    def _link_up(self) -> bool:
        """The socket is up and the account accepted: resyncing or CONNECTED."""
        return self.counters.link_up

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
        self.counters.connected()
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
        self.counters.proven(self.clock.now())
        self._connected.set()
        # A farm reported down during the connect (2103/2105/2157) keeps the link DEGRADED.
        self._set_state(ConnectionState.DEGRADED if self._degraded else ConnectionState.CONNECTED)
        self._event(
            EventType.CONNECTED, Severity.INFO,
            f"Connected to IBKR at {self.config.address} as clientId {self._client_id}",
            {"client_id": self._client_id, "total_connections": self.counters.total_connections},
        )


    def _on_disconnected(self) -> None:
        if self._intentional_disconnect or self._stopping:
            return
        was_up = self.counters.link_up
        self._mark_down()
        self._down_at_once()
        if was_up:
            self._last_error = "the gateway closed the connection"
            self._event(EventType.DISCONNECTED, Severity.HIGH,
                        f"{self.config.address}: the gateway closed the socket",
                        {"total_disconnects": self.counters.total_disconnects})
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
        if not resyncing:
            self._down_at_once()
        self._event(EventType.DISCONNECTED, Severity.HIGH,
                    f"{self.config.address}: dropped by us ({reason})",
                    {"total_disconnects": self.counters.total_disconnects})
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

    def _down_at_once(self) -> None:
        """Say RECONNECTING now, not when the reconnect loop's task first runs: ib_async has
        already forgotten the account (cash, portfolio), and a safety check running in this turn
        of the event loop would judge the limits on an empty account ("Cash $0 under the
        reserve")."""
        if self._state in (ConnectionState.CONNECTED, ConnectionState.DEGRADED):
            self._set_state(ConnectionState.RECONNECTING)

    def _mark_down(self) -> None:
        self.counters.disconnected()
        self._connected.clear()
        self._degraded.clear()

    def _on_error(self, req_id: int, code: int, message: str, contract: Any) -> None:
        if code == CLIENT_ID_IN_USE:
            self._client_id_in_use = True
            return
        if req_id != -1 or code not in CONNECTIVITY_CODES:
            return
        before = dict(self._degraded)
        severity = note_connectivity(self._degraded, code, message)
        if code == RESTORED_DATA_LOST:
            self._spawn(self._run_data_lost_hooks())
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
        notify(self._listeners, self.stats(), what="connection", logger=log)

    def _event(self, kind: EventType, severity: Severity, message: str,
               details: dict[str, Any] | None = None) -> None:
        if self.journal is not None:
            self.journal.event(kind, severity, message, details)
        else:
            log.log(logging.WARNING if severity.at_least(Severity.MEDIUM) else logging.INFO,
                    "%s: %s", kind.value, message)

    def _send_alert(self, alert: Alert) -> None:
        if self._alert is not None:
            tell(self._alert, replace(alert, timestamp=self.clock.now()),
                 what=f"alert {alert.key}", logger=log)



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
