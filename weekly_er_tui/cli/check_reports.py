"""What `check connection` and `check safety` print: figures a trader reads at a glance (times in
ET with the zone named, units, rounded), each limit with its usage, NEAR and OVER as the cockpit
marks them. Pure functions over the connection's stats and the safety report's dict."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from weekly_er_tui.clock import ET
from weekly_er_tui.model import ConnectionStats
from weekly_er_tui.ui.figures import NEAR_USE, Level, level_of, score_word

# How each rule's figures read (the rule names are the config keys of safety_limits).
_MONEY = {"max_daily_loss", "max_position_value", "max_portfolio_value", "min_cash_reserve"}
_SHARE = {"emergency_stop_loss", "max_position_concentration", "max_sector_concentration",
          "correlated_exposure"}
_COUNT = {"max_positions"}
# Counted, with no limit to use up: the violations below them say what is wrong.
_TALLY = {"orphaned_position": "orphaned positions", "stale_price": "stale prices"}
_WHAT = {"max_daily_loss": "day loss", "emergency_stop_loss": "drawdown",
         "max_portfolio_value": "gross", "max_positions": "open", "min_cash_reserve": "cash"}
_RULE_WIDTH = 27


def et_time(when: datetime) -> str:
    return f"{when.astimezone(ET):%a %Y-%m-%d %H:%M:%S} ET"


def seconds_text(s: float) -> str:
    """2.0 s, 12m 05s, 3h 02m: a duration as a person says it."""
    if s < 60:
        return f"{s:.1f} s"
    m, sec = divmod(round(s), 60)
    if m < 60:
        return f"{m}m {sec:02d}s"
    h, m = divmod(m, 60)
    return f"{h}h {m:02d}m"


def _ms(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.1f} ms"


def connection_lines(stats: ConnectionStats) -> list[str]:
    lat = stats.heartbeat_latency
    if stats.last_heartbeat is None:
        last = "none yet"
    else:
        last = et_time(stats.last_heartbeat)
        if stats.last_heartbeat_age_s is not None:
            last += f" ({seconds_text(stats.last_heartbeat_age_s)} ago)"
    return [
        "Connection statistics:",
        f"  state: {stats.state.value} ({stats.host}:{stats.port}, clientId {stats.client_id})",
        f"  connections: {stats.total_connections}, disconnects: {stats.total_disconnects}, "
        f"reconnect attempts: {stats.reconnect_attempts}",
        f"  uptime: {seconds_text(stats.current_uptime_s)} (this connection); "
        f"uptime since the first connect: {stats.uptime_pct:.1f}%",
        f"  last heartbeat: {last}",
        f"  heartbeat latency: last {_ms(lat.last_ms)}, median {_ms(lat.median_ms)}, "
        f"worst {_ms(lat.worst_ms)}",
        f"  last error: {stats.last_error or 'none'}",
        f"  degraded: {', '.join(stats.degraded_reasons) or 'no'}",
    ]


def _figure(rule: str, v: float) -> str:
    if rule in _MONEY:
        return f"${v:,.0f}"
    if rule in _SHARE:
        return f"{v * 100:.1f}%"
    return f"{v:g}"


def use_line(use: dict[str, Any]) -> str:
    """One limit's line: `  rule  what value / limit  use%  NEAR|OVER`."""
    rule, name = str(use["rule"]), str(use["name"])
    value, limit, share = float(use["value"]), float(use["limit"]), float(use["use"])
    head = f"  {rule:<{_RULE_WIDTH}} "
    if rule in _TALLY:
        return f"{head}{_TALLY[rule]}: {value:g}"
    if name == "unknown":
        return f"{head}n/a (no figure yet) / {_figure(rule, limit)}"
    what = _WHAT.get(rule, name)
    word = {Level.OK: "", Level.NEAR: "NEAR", Level.OVER: "OVER"}[level_of(share)]
    if rule == "min_cash_reserve":
        # A floor, not a ceiling: the share of it "used" is no figure a trader thinks in.
        text = f"{what} {_figure(rule, value)} / min {_figure(rule, limit)}"
        return f"{head}{text:<34} {'':>5}{'  ' + word if word else ''}".rstrip()
    text = f"{what} {_figure(rule, value)} / {_figure(rule, limit)}"
    return f"{head}{text:<34} {share * 100:4.0f}%{'  ' + word if word else ''}"


def safety_lines(report: dict[str, Any]) -> list[str]:
    score = float(report["overall_risk_score"])
    when = datetime.fromisoformat(str(report["timestamp"]))
    lines = [f"Risk score: {score:.1f}/100 ({score_word(score)}), checked {et_time(when)}",
             f"Limits (NEAR from {NEAR_USE:.0%} of a limit, OVER past it):"]
    order: dict[str, int] = {}
    for u in report["uses"]:
        order.setdefault(str(u["rule"]), len(order))
    for u in sorted(report["uses"], key=lambda u: (order[str(u["rule"])], -float(u["use"]))):
        lines.append(use_line(u))
    if report.get("initial_sync_missing"):
        lines.insert(0, "WARNING: the account from IB is incomplete (missing "
                     + " and ".join(report["initial_sync_missing"])
                     + "): the figures below may be wrong")
    lines.append(f"Violations: {len(report['violations'])}")
    lines += [f"  [{v['severity']}] {v['rule']}: {v['message']}" for v in report["violations"]]
    return lines
