"""What a key found or will do, in a sentence: the safety check's report (`s`), the
reconnect's (`c`), and what closing one position or cancelling one order sends (`x`)."""

from __future__ import annotations

from weekly_er_tui.model import (
    ConnectionState,
    ConnectionStats,
    EngineState,
    Position,
    Severity,
    WorkingOrder,
)
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
    attempt = f" (attempt {fmt.attempt_text(after)})" if after.attempt else ""
    return f"Reconnecting now{attempt}: the link was {before.state.value}."


def close_text(p: Position, working: int) -> str:
    """Exactly what closing one position sends."""
    side = "SELL" if p.quantity > 0 else "BUY"
    cancels = (f" {working} working order(s) of ours in {p.symbol} are cancelled first."
               if working else "")
    return (f"Close {p.symbol}: {side} {fmt.quantity(abs(p.quantity))} shares at market "
            f"(about {fmt.money(abs(p.market_value))} at {fmt.price(p.market_price)}; a "
            f"marketable limit outside regular hours), through the pre-trade gate and the "
            f"closer.{cancels} Every other position stays as it is.")


def cancel_text(order: WorkingOrder) -> str:
    """Exactly what cancelling one order does."""
    kept = f" The {fmt.quantity(order.filled)} filled stay filled." if order.filled else ""
    return (f"Cancel order {order.describe()}: the {fmt.quantity(order.remaining)} shares left "
            f"are cancelled at IB.{kept} No other order is touched.")
