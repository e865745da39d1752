"""The kinds of alert, their default priorities and the advice each one carries.

An alert's key is `<kind>` or `<kind>:<what>` (`limit_breach:daily_loss`, `order_rejected:AAPL`):
the part before the first `:` names the kind, which gives the default priority (overridable with
`alerts.priorities` in config.json), the category, what the system does about it and what the
trader should do next.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from weekly_er_tui.model import Severity

CRITICAL, HIGH, MEDIUM, LOW, INFO = (
    Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW, Severity.INFO,
)


@dataclass(frozen=True, slots=True)
class AlertKind:
    name: str
    category: str  # "connection", "safety", "trading" or "system"
    priority: Severity
    when: str
    action: str  # what the system does about it, unless the alert's facts say otherwise
    next_steps: str  # what the trader should do, unless the alert's facts say otherwise
    # Kinds of one topic are the states of one thing (the connection, the trading state): an
    # alert of a topic ends the folding of the others' repeats. An all-clear ends the topic's
    # alarm and is sent at that alarm's priority, so whoever heard the alarm hears it end.
    topic: str = ""
    all_clear: bool = False


KINDS: dict[str, AlertKind] = {
    k.name: k
    for k in (
        AlertKind(
            "connection_lost", "connection", HIGH,
            "the connection to TWS / IB Gateway dropped",
            "Reconnecting automatically; no new orders go out until the connection is back.",
            "Nothing yet if a 'reconnected' alert follows within minutes. Otherwise check that "
            "TWS or IB Gateway is running and logged in and that its API port is enabled.",
            topic="connection",
        ),
        AlertKind(
            "reconnected", "connection", LOW,
            "the connection is back after a loss (at the loss's priority)",
            "Resynchronised positions, orders and account values; trading continues.",
            "No action needed.",
            topic="connection", all_clear=True,
        ),
        AlertKind(
            "reconnect_failed", "connection", CRITICAL,
            "every reconnection attempt failed",
            "Automatic reconnection gave up; positions are NOT being watched.",
            "Manual intervention required: check TWS / IB Gateway (running, logged in, API "
            "enabled), then reconnect from the app or restart weekly-er-tui. Watch open "
            "positions in TWS meanwhile.",
            topic="connection",
        ),
        AlertKind(
            "relogin_needed", "connection", HIGH,
            "IB ended the session (the weekly re-login): a person must log in",
            "Retrying the connection slowly; it resumes by itself after the login.",
            "Log in to IB Gateway / TWS (with 2FA if asked).",
            topic="connection",
        ),
        AlertKind(
            "gateway_restart", "connection", INFO,
            "the gateway's scheduled daily restart began (gateway_restart_time)",
            "Reconnecting until the restart window ends.",
            "No action needed unless a 'failed' alert follows.",
            topic="connection",
        ),
        AlertKind(
            "degraded", "connection", HIGH,
            "connected, but IB reports a problem (1100, 2110; a data farm down: MEDIUM)",
            "Continuing; prices shown as stale in the app are not to be trusted.",
            "Check IB's system status page and the data farm indicators in TWS.",
            topic="connectivity",
        ),
        AlertKind(
            "connectivity_restored", "connection", LOW,
            "IB reports the problem gone (1101, 1102, a farm OK again; at the problem's "
            "priority)",
            "Continuing; market data was resubscribed where IB said it was lost.",
            "No action needed.",
            topic="connectivity", all_clear=True,
        ),
        AlertKind(
            "monitoring_stopped", "system", HIGH,
            "a monitor (heartbeat, safety check) stopped unexpectedly, or the engine stopped "
            "(LOW when asked for with no position open, HIGH with positions left open or when "
            "nobody asked)",
            "The rest of the system keeps running.",
            "Restart weekly-er-tui; until then positions are not fully watched.",
        ),
        AlertKind(
            "limit_breach", "safety", MEDIUM,
            "a safety limit is breached (priority: the violation's severity)",
            "Recorded; the safety monitor acts according to the breach's severity.",
            "Review the position named above and reduce it if needed; if the limit is too "
            "tight, adjust safety_limits in config.json.",
        ),
        AlertKind(
            "emergency_stop", "safety", CRITICAL,
            "the emergency stop-loss fired",
            "Closing ALL positions with market orders; trading is HALTED until you resume it.",
            "Check in the app or TWS that every closing order filled. Review what caused the "
            "loss before resuming trading.",
            topic="trading_state",
        ),
        AlertKind(
            "emergency_close", "safety", CRITICAL,
            "an emergency close of the whole account finished: FLAT (INCOMPLETE is "
            "`emergency_stop:incomplete`)",
            "Every position was closed and verified flat; trading stays HALTED.",
            "Review what caused it before resuming trading (r, with a confirmation).",
        ),
        AlertKind(
            "trading_paused", "safety", MEDIUM,
            "trading was paused",
            "No new entries; exits and safety actions still run.",
            "Review the reason; resume trading when it is safe.",
            topic="trading_state",
        ),
        AlertKind(
            "trading_halted", "safety", CRITICAL,
            "trading was halted",
            "Only closing orders and cancels are allowed; the halt survives restarts.",
            "Review positions and open orders, then resume trading explicitly when it is safe.",
            topic="trading_state",
        ),
        AlertKind(
            "trading_resumed", "safety", LOW,
            "trading was resumed (at the pause's or halt's priority)",
            "New entries are allowed again.",
            "No action needed.",
            topic="trading_state", all_clear=True,
        ),
        AlertKind(
            "orphaned_position", "safety", MEDIUM,
            "a position the strategy does not track",
            "Left as it is; no automatic action.",
            "Review it: close it, or add the symbol to safety_limits.orphan_ignore.",
        ),
        AlertKind(
            "position_entry", "trading", MEDIUM,
            "an entry order of the strategy filled (with its fill price), or ended after a "
            "part filled (what filled, of how many)",
            "Tracking the position until the Friday close.",
            "No action needed.",
        ),
        AlertKind(
            "position_exit", "trading", MEDIUM,
            "a closing order filled, with its fill price, or ended after a part filled (one "
            "alert per order; LOW inside a whole close: its verdict lists the fills)",
            "Recorded in logs/trade_journal.csv.",
            "No action needed.",
        ),
        AlertKind(
            "order_error", "trading", HIGH,
            "IB reported an error on an order",
            "The order is recorded with IB's error; it is not resent automatically.",
            "Check the order in TWS and in logs/events_log.csv.",
        ),
        AlertKind(
            "order_rejected", "trading", HIGH,
            "an order was rejected (by the pre-trade checks or by IB)",
            "The order was not sent (or IB refused it); nothing else changed.",
            "Check the reason above; adjust the plan or the limits if the order should go.",
        ),
        AlertKind(
            "friday_close", "trading", MEDIUM,
            "the Friday close's result at the bell: flat",
            "Every strategy position was closed before the weekend.",
            "No action needed.",
        ),
        AlertKind(
            "friday_close_incomplete", "trading", CRITICAL,
            "positions are still open after the Friday close and its backup",
            "The backup close ran and did not flatten everything.",
            "Close the remaining positions manually in TWS before the market closes.",
        ),
        AlertKind(
            "strategy", "trading", HIGH,
            "the strategy cannot run as planned (bad calendar, positions carried from an "
            "earlier week, disabled while holding)",
            "The rest of the app keeps running; the Friday close still runs when enabled.",
            "Read the alert's text: fix the calendar file, or review the positions named.",
        ),
        AlertKind(
            "market_data", "trading", MEDIUM,
            "the account cannot get live market data or historical bars (no subscription, a "
            "competing session)",
            "Falls back to delayed prices where allowed (market_data_type auto), marked DELAYED; "
            "sizing and correlation degrade as the alert says.",
            "Subscribe to market data in IBKR's Client Portal, or log out the competing session.",
        ),
        AlertKind(
            "account_sync", "safety", HIGH,
            "the account's values or portfolio rows from IB are still missing well after a "
            "connect",
            "Safety checks run on what has arrived; their figures may be wrong until IB sends "
            "the rest.",
            "Compare the cockpit with TWS; reconnect (c) to ask IB for the account again.",
        ),
        AlertKind(
            "test", "system", INFO,
            "`weekly-er-tui test-alert`",
            "Nothing: this is a test.",
            "No action needed: if you can read this, the channel works.",
        ),
    )
}

UNKNOWN = AlertKind(
    "unknown", "system", MEDIUM, "an alert of no known kind", "Not stated.", "Read the details."
)


def kind_name(key: str) -> str:
    """The kind named by an alert key: the part before the first ':'."""
    return key.split(":", 1)[0].strip()


def kind_of(key: str) -> AlertKind:
    return KINDS.get(kind_name(key), UNKNOWN)


def priority_for(
    kind: str, overrides: Mapping[str, Severity], given: Severity | None = None
) -> Severity:
    """The priority of an alert of `kind`: the config's override, else the priority the caller
    gave (a violation's severity), else the kind's default."""
    if kind in overrides:
        return overrides[kind]
    if given is not None:
        return given
    return KINDS.get(kind, UNKNOWN).priority


def unknown_overrides(overrides: Mapping[str, Severity]) -> list[str]:
    """Problems with `alerts.priorities`: names that are no alert kind."""
    return [
        f"alerts.priorities.{name}: unknown alert kind; known kinds: {', '.join(KINDS)}"
        for name in overrides
        if name not in KINDS
    ]


def markdown_table() -> str:
    """The kinds as the Markdown table in alerts/README.md (a test keeps the two equal)."""
    lines = [
        "| kind | category | default priority | when |",
        "|---|---|---|---|",
    ]
    lines += [f"| `{k.name}` | {k.category} | {k.priority.value} | {k.when} |" for k in
              KINDS.values()]
    return "\n".join(lines)
