"""The connection's heartbeat: state as a colored, pulsing mark, beat age, latency, reconnects."""

from __future__ import annotations

from datetime import datetime

from textual.content import Content
from textual.reactive import reactive
from textual.widget import Widget

from weekly_er_tui.model import ConnectionState, ConnectionStats
from weekly_er_tui.ui import formatting as fmt

STATE_STYLE = {
    ConnectionState.CONNECTED: "bold $success",
    ConnectionState.CONNECTING: "bold $warning",
    ConnectionState.DEGRADED: "bold reverse $warning",
    ConnectionState.RECONNECTING: "bold reverse $warning",
    ConnectionState.FAILED: "bold reverse $error",
    ConnectionState.STOPPED: "dim",
}

# States in which the trader must look: the whole panel turns, not only the mark.
TROUBLE = frozenset(
    {ConnectionState.DEGRADED, ConnectionState.RECONNECTING, ConnectionState.FAILED}
)


def first_connect(stats: ConnectionStats) -> bool:
    """Still trying the first connect: nothing was ever known, so nothing is lost or stale."""
    return stats.total_connections == 0 and stats.state in (ConnectionState.CONNECTING,
                                                            ConnectionState.RECONNECTING)


def shown_state(stats: ConnectionStats) -> ConnectionState:
    """The state as the screen says it: the first connect's retries are CONNECTING."""
    return ConnectionState.CONNECTING if first_connect(stats) else stats.state


def uptime_text(stats: ConnectionStats) -> str:
    """'99.5%', or n/a before the first connect (uptime counts from it)."""
    return "n/a" if stats.total_connections == 0 else f"{stats.uptime_pct:.1f}%"


def mark(pulse: bool) -> str:
    """The heartbeat mark: it alternates on the refresh tick, driven by the clock."""
    return "●" if pulse else "○"


def state_label(stats: ConnectionStats, pulse: bool) -> Content:
    state = shown_state(stats)
    word = f"{state.value}…" if state is ConnectionState.CONNECTING else state.value
    return Content.assemble(
        (mark(pulse), STATE_STYLE[state].replace("reverse ", "")),
        " ",
        (f" {word} " if state in TROUBLE else word, STATE_STYLE[state]),
    )


def beat_age(stats: ConnectionStats, now: datetime) -> str:
    if stats.last_heartbeat is None:
        return "never"
    return fmt.duration((now - stats.last_heartbeat).total_seconds()) + " ago"


def latency_ms(ms: float | None) -> str:
    return "n/a" if ms is None else f"{ms:.0f} ms"


def _ms(ms: float | None) -> str:
    return "n/a" if ms is None else f"{ms:.0f}"


class HeartbeatPanel(Widget):
    """Everything about the link to IB that the trader needs at a glance."""

    stats: reactive[ConnectionStats] = reactive(ConnectionStats, layout=True)
    now: reactive[datetime | None] = reactive(None)
    pulse: reactive[bool] = reactive(False)

    def watch_stats(self, stats: ConnectionStats) -> None:
        shown = shown_state(stats)
        for state in ConnectionState:
            self.set_class(state is shown, f"-{state.value.lower()}")
        self.set_class(shown in TROUBLE, "-trouble")

    def watch_pulse(self, pulse: bool) -> None:
        self.set_class(pulse, "-pulse")

    def render(self) -> Content:
        s = self.stats
        now = self.now or datetime.now().astimezone()
        where = f"{s.host}:{s.port} client {s.client_id}" if s.host else "no gateway configured"
        head = Content.assemble(state_label(s, self.pulse), "  ", (where, "dim"))
        if s.state in (ConnectionState.RECONNECTING, ConnectionState.FAILED) and (
                attempt := fmt.attempt_text(s)):
            head = head + Content.styled(f"  attempt {attempt}", "bold")
        lat = s.heartbeat_latency
        lines = [
            head,
            Content.assemble(
                ("heartbeat ", "dim"),
                (beat_age(s, now), "bold"),
                ("  latency ", "dim"),
                latency_ms(lat.last_ms),
                (f" (med {_ms(lat.median_ms)}, max {_ms(lat.worst_ms)})", "dim"),
            ),
            Content.assemble(
                ("reconnect attempts ", "dim"),
                (str(s.reconnect_attempts), "bold" if s.reconnect_attempts else ""),
                ("  disconnects ", "dim"),
                str(s.total_disconnects),
                ("  uptime ", "dim"),
                uptime_text(s),
            ),
        ]

        problem = s.last_error or ", ".join(s.degraded_reasons)
        if problem and s.state is not ConnectionState.CONNECTED:
            lines.append(Content.styled(problem, "italic"))
        return Content("\n").join(lines)
