"""How to reach the gateway (the config file's `ib_*` and `connection_monitoring` keys as one
object), and a failed connect explained so a person can act on it."""

from __future__ import annotations

from dataclasses import dataclass

from weekly_er_tui.config import AppConfig

# The defaults are the config file's, declared once in config/: a ConnectionConfig() built by
# hand (tests, bench) reaches the gateway the way an empty config.json does.
_FILE = AppConfig()
_MONITORING = _FILE.connection_monitoring


@dataclass(frozen=True, slots=True)
class ConnectionConfig:
    """The config file's `ib_*` and `connection_monitoring` keys, as one object."""

    host: str = _FILE.ib_host
    port: int = _FILE.ib_port
    client_id: int = _FILE.ib_client_id
    account: str = _FILE.account or ""
    heartbeat_interval: float = _MONITORING.heartbeat_interval
    heartbeat_timeout: float = _MONITORING.heartbeat_timeout
    connect_timeout: float = _MONITORING.connect_timeout
    max_reconnect_attempts: int = _MONITORING.max_reconnect_attempts
    reconnect_delay: float = _MONITORING.reconnect_delay
    slow_retry_interval: float = _MONITORING.slow_retry_interval
    client_id_fallback: int = _MONITORING.client_id_fallback
    allow_live: bool = _FILE.allow_live
    # "HH:MM" ET: the gateway's daily auto-restart
    gateway_restart_time: str | None = _MONITORING.gateway_restart_time
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
