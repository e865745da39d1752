"""What a key found, in a sentence: the safety check's report (`s`), the reconnect's (`c`)."""

from __future__ import annotations

from weekly_er_tui.model import ConnectionState, ConnectionStats, EngineState, Severity
from weekly_er_tui.ui import formatting as fmt

_UP = frozenset({ConnectionState.CONNECTED, ConnectionState.DEGRADED})


def check_report(state: EngineState) -> str:
    """'Safety check at 10:30:05 ET: risk score 23/100; no limit breached' or the breaches."""
    report = state.safety
    if report is None:
        return "Safety check asked for: no report yet (no account data to check)."
    head = (f"Safety check at {fmt.et_time(report.timestamp)} ET: risk score "
            f"{report.overall_risk_score:.0f}/100")
    serious = [v for v in report.violations if v.severity.at_least(Severity.MEDIUM)]
    if not serious:
        near = [u.name for u in report.uses if u.limit and 0.8 <= u.use < 1.0]
        tail = f"; near: {', '.join(near)}" if near else ""
        return f"{head}; no limit breached{tail}."
    shown = "; ".join(v.message for v in serious[:2])
    more = f" (and {len(serious) - 2} more in the alert log)" if len(serious) > 2 else ""
    return f"{head}; {len(serious)} breached: {shown}{more}."


def reconnect_report(before: ConnectionStats, after: ConnectionStats) -> str:
    """Whether the link was proven and left alone, or a reconnect started."""
    if (before.state in _UP and after.state in _UP
            and after.total_connections == before.total_connections):
        latency = after.heartbeat_latency.last_ms
        took = f" ({latency:.0f} ms)" if latency is not None else ""
        return f"The link answers its heartbeat{took}: left as it is."
    if after.state in _UP:
        return f"Reconnected: {after.state.value} to {after.host}:{after.port}."
    attempt = f" (attempt {after.reconnect_attempts})" if after.reconnect_attempts else ""
    return f"Reconnecting now{attempt}: the link was {before.state.value}."
