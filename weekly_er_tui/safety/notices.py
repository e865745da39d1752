"""What the safety monitor tells a person: the alert for a violation, and the words, event and
alert of a trading-state change. Pure: the manager decides when; this says what."""

from __future__ import annotations

from weekly_er_tui.model import Alert, EventType, SafetyReport, Severity, TradingState, Violation
from weekly_er_tui.risk.rules import (
    EMERGENCY_STOP_LOSS,
    MAX_DAILY_LOSS,
    MAX_PORTFOLIO_VALUE,
    MAX_POSITIONS,
    MIN_CASH_RESERVE,
    ORPHANED_POSITION,
)

# Rules about the whole account: one breach however the positions involved change (closing the
# losers one by one must not raise a new CRITICAL alert at each step).
PORTFOLIO_RULES = frozenset({EMERGENCY_STOP_LOSS, MAX_DAILY_LOSS, MAX_PORTFOLIO_VALUE,
                             MAX_POSITIONS, MIN_CASH_RESERVE})

STATE_EVENTS = {
    TradingState.ACTIVE: EventType.TRADING_RESUMED,
    TradingState.PAUSED: EventType.TRADING_PAUSED,
    TradingState.REDUCING: EventType.TRADING_REDUCING,
    TradingState.HALTED: EventType.TRADING_HALTED,
}
STATE_PRIORITY = {
    TradingState.ACTIVE: Severity.LOW,
    TradingState.PAUSED: Severity.MEDIUM,
    TradingState.REDUCING: Severity.HIGH,
    TradingState.HALTED: Severity.CRITICAL,
}
_STATE_ALERT_KEYS = {
    TradingState.ACTIVE: "trading_resumed",
    TradingState.PAUSED: "trading_paused",
    TradingState.REDUCING: "trading_paused:reducing",
    TradingState.HALTED: "trading_halted",
}
_STATE_WORDS = {
    TradingState.ACTIVE: "Trading resumed",
    TradingState.PAUSED: "Trading paused",
    TradingState.REDUCING: "Trading REDUCING (only orders that reduce positions)",
    TradingState.HALTED: "Trading HALTED (only closing orders until a person resumes)",
}


def state_message(state: TradingState, reason: str) -> str:
    """The journal's and the alert's line for a change to `state`."""
    return f"{_STATE_WORDS[state]}: {reason}"


def state_alert(old: TradingState, state: TradingState, reason: str) -> Alert:
    return Alert(
        key=_STATE_ALERT_KEYS[state], priority=STATE_PRIORITY[state], kind="safety",
        title=state_message(state, reason),
        body=f"Trading state changed from {old.value} to {state.value}.",
        facts={"reason": reason},
    )


def violation_alert(v: Violation, report: SafetyReport, halt_margin: float) -> Alert:
    """The alert for a new violation: what broke, by how much, and what the system did
    (`halt_margin`: the limits' daily_loss_halt_margin, which the daily-loss action names)."""
    if v.rule == EMERGENCY_STOP_LOSS:
        title = (f"Emergency stop: portfolio -{v.value:.1%} (limit "
                 f"-{v.limit:.0%})")
        kind_key = "emergency_stop"
    elif v.rule == MAX_DAILY_LOSS:
        title = f"Daily loss limit breached: -${v.value:,.0f} (limit ${v.limit:,.0f})"
        kind_key = "limit_breach"
    elif v.rule == ORPHANED_POSITION:
        title = f"Orphaned position(s): {', '.join(v.symbols) or v.message}"
        kind_key = ORPHANED_POSITION
    else:
        title = f"{v.rule}: {v.message}"
        kind_key = "limit_breach"
    action = {
        EMERGENCY_STOP_LOSS: "Trading HALTED; closing ALL positions with market orders.",
        MAX_DAILY_LOSS: "Trading REDUCING for the rest of the session (no new entries); closing "
                        "the positions losing today, the largest day loss first; the rest are "
                        "kept unless the day's loss grows past the breach by "
                        f"{halt_margin:g} x the limit (then everything "
                        "is closed and trading HALTED).",
    }.get(v.rule, "No automatic action: review and reduce the exposure.")
    what = v.rule if v.rule in PORTFOLIO_RULES else f"{v.rule}:{','.join(v.symbols)}"
    return Alert(
        key=f"{kind_key}:{what}", priority=v.severity, kind="safety",
        title=title, body=f"{v.message}\n\nWhat the system did: {action}",
        facts={"rule": v.rule, "value": v.value, "limit": v.limit,
               "symbols": list(v.symbols), "risk_score": report.overall_risk_score,
               "kind": kind_key},
    )
