"""ConnectionMonitor's reconnection policy: exactly one reconnect loop at a time, whatever fires
it; `max_reconnect_attempts` tries `reconnect_delay` apart, then a CRITICAL and a slow retry every
`slow_retry_interval`; an expected outage (the gateway's daily restart, the Sunday re-login) is
waited out without the CRITICAL. Delays are real seconds; the outage windows follow the Clock."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from weekly_er_tui.broker.connection_config import ConnectionConfig
from weekly_er_tui.broker.connection_stats import LinkCounters
from weekly_er_tui.broker.outages import ExpectedOutage, expected_outage
from weekly_er_tui.clock import ET, Clock
from weekly_er_tui.model import Alert, ConnectionState, EventType, Severity
from weekly_er_tui.words import counted

log = logging.getLogger("weekly_er_tui.connection")


class Reconnecting:
    """The reconnect half of ConnectionMonitor (which provides the link it reconnects)."""

    config: ConnectionConfig
    clock: Clock
    counters: LinkCounters
    refusal: str
    _stopping: bool
    _last_error: str
    _outage: ExpectedOutage | None
    _reconnect_task: asyncio.Task[None] | None

    # -- provided by ConnectionMonitor ------------------------------------------------------
    @property
    def is_connected(self) -> bool:
        raise NotImplementedError

    async def heartbeat(self) -> bool:
        raise NotImplementedError

    async def _connect_once(self) -> bool:
        raise NotImplementedError

    def _set_state(self, state: ConnectionState) -> None:
        raise NotImplementedError

    def _notify(self) -> None:
        """Tell the listeners (the engine's published state) that the statistics changed."""
        raise NotImplementedError

    def _event(self, kind: EventType, severity: Severity, message: str,
               details: dict[str, Any] | None = None) -> None:
        raise NotImplementedError

    def _send_alert(self, alert: Alert) -> None:
        raise NotImplementedError

    # -- the policy -------------------------------------------------------------------------
    @property
    def reconnecting(self) -> bool:
        return self._reconnect_task is not None and not self._reconnect_task.done()

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

    async def _reconnect_loop(self, reason: str, first_delay: float | None = None) -> None:
        cfg = self.config
        self._set_state(ConnectionState.RECONNECTING)
        delay = cfg.reconnect_delay if first_delay is None else first_delay
        for attempt in range(1, cfg.max_reconnect_attempts + 1):
            # Counted when announced: the screen says the attempt the log says, during the delay.
            self.counters.announce(attempt, cfg.max_reconnect_attempts)
            self._notify()  # the state already says RECONNECTING: the attempt is news of its own
            self._event(
                EventType.RECONNECTING, Severity.MEDIUM,
                f"Reconnect attempt {attempt}/{cfg.max_reconnect_attempts} in {delay:g} s "
                f"({reason})",
                {"attempt": attempt, "max_attempts": cfg.max_reconnect_attempts},
            )
            await asyncio.sleep(delay)
            delay = cfg.reconnect_delay
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
            self.counters.announce(tries + slow)
            self._notify()
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
            self.counters.announce(tries)
            self._notify()
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
            f"Reconnected to IBKR at {self.config.address} after {counted(attempts, 'attempt')}",
            {"attempts": attempts},
        )
        self._send_alert(Alert(
            key="reconnected", priority=Severity.LOW, kind="connection",
            title=f"Reconnected to IBKR after {counted(attempts, 'attempt')}",
            body="The connection is back; positions, orders and executions were resynced.",
        ))
