"""The link's statistics: connections, disconnects, reconnect attempts, uptime and heartbeat
latencies, measured in real seconds (time.monotonic), and folded into one ConnectionStats."""

from __future__ import annotations

import statistics
import time
from collections import deque
from collections.abc import Callable
from datetime import datetime

from weekly_er_tui.model import ConnectionState, ConnectionStats, LatencyStats

LATENCY_WINDOW = 20


class LinkCounters:
    """What ConnectionMonitor counts about its link."""

    def __init__(self, now: Callable[[], float] = time.monotonic) -> None:
        self._now = now
        self.latencies: deque[float] = deque(maxlen=LATENCY_WINDOW)
        self.last_heartbeat_ok: float | None = None
        self.last_heartbeat_at: datetime | None = None
        self.started_at: float | None = None
        self.first_connected_at: float | None = None  # uptime is counted from here
        self.connected_since: float | None = None
        self.connected_total = 0.0
        self.total_connections = 0
        self.total_disconnects = 0
        self.reconnect_attempts = 0
        self.attempt = 0  # the reconnect under way, as announced in the log (0: none)
        self.max_attempts = 0

    def announce(self, attempt: int, max_attempts: int = 0) -> None:
        """An attempt, counted when its log line announces it: the screen says what the log
        says ("attempt 1/5"), and the session's total grows by one."""
        self.reconnect_attempts += 1
        self.attempt, self.max_attempts = attempt, max_attempts

    @property
    def link_up(self) -> bool:
        """The socket is up and the account accepted: resyncing or CONNECTED."""
        return self.connected_since is not None

    def start(self) -> None:
        if self.started_at is None:
            self.started_at = self._now()

    def connected(self) -> None:
        self.total_connections += 1
        self.attempt = self.max_attempts = 0
        self.connected_since = self._now()
        if self.first_connected_at is None:
            self.first_connected_at = self.connected_since

    def disconnected(self) -> None:
        if self.connected_since is not None:
            self.connected_total += self._now() - self.connected_since
            self.connected_since = None
            self.total_disconnects += 1

    def heartbeat_answered(self, latency_ms: float, now: float, at: datetime) -> None:
        self.latencies.append(latency_ms)
        self.last_heartbeat_ok = now
        self.last_heartbeat_at = at

    def proven(self, at: datetime) -> None:
        """The link just proved itself (a resync answered): as good as a heartbeat."""
        self.last_heartbeat_ok = self._now()
        self.last_heartbeat_at = at

    def snapshot(self, *, state: ConnectionState, host: str, port: int, client_id: int,
                 last_error: str, degraded_reasons: tuple[str, ...]) -> ConnectionStats:
        now = self._now()
        uptime = now - self.connected_since if self.connected_since is not None else 0.0
        # From the first connect: the time before it is no outage (48% "uptime" right after
        # starting said the link had been down half the time).
        first = self.first_connected_at
        total = now - first if first is not None else 0.0
        connected = self.connected_total + uptime
        lat = list(self.latencies)
        return ConnectionStats(
            state=state,
            host=host,
            port=port,
            client_id=client_id,
            total_connections=self.total_connections,
            total_disconnects=self.total_disconnects,
            reconnect_attempts=self.reconnect_attempts,
            attempt=self.attempt,
            max_attempts=self.max_attempts,
            current_uptime_s=uptime,
            uptime_pct=100.0 * connected / total if total > 0 else 0.0,
            last_heartbeat=self.last_heartbeat_at,
            last_heartbeat_age_s=(
                now - self.last_heartbeat_ok if self.last_heartbeat_ok is not None else None
            ),
            heartbeat_latency=LatencyStats(
                last_ms=lat[-1] if lat else None,
                median_ms=statistics.median(lat) if lat else None,
                worst_ms=max(lat) if lat else None,
            ),
            last_error=last_error,
            degraded_reasons=degraded_reasons,
        )
