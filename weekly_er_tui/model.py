"""Plain immutable data that the parts of the engine exchange.

No ib_async object and no Textual object ever appears here: `broker/` folds ib_async state into
these types, and `ui/` renders them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo


class Severity(StrEnum):
    """Priority of an alert and severity of a safety violation, most urgent first."""

    CRITICAL = "CRITICAL"
    HIGH = "HIGH"
    MEDIUM = "MEDIUM"
    LOW = "LOW"
    INFO = "INFO"

    @property
    def rank(self) -> int:
        """0 for CRITICAL up to 4 for INFO: lower is more urgent."""
        return _SEVERITY_ORDER.index(self)

    def at_least(self, other: Severity) -> bool:
        """True when this is as urgent as `other` or more."""
        return self.rank <= other.rank


_SEVERITY_ORDER = list(Severity)

# Alerts speak of priority, violations of severity: the same scale.
Priority = Severity


class EventType(StrEnum):
    """The one vocabulary of events in events_log.csv, on the engine's state and in the UI."""

    CONNECTED = "CONNECTED"
    DISCONNECTED = "DISCONNECTED"
    RECONNECTING = "RECONNECTING"
    RECONNECTED = "RECONNECTED"
    CONNECTION_FAILED = "CONNECTION_FAILED"
    CONNECTION_STATE = "CONNECTION_STATE"
    HEARTBEAT_FAILED = "HEARTBEAT_FAILED"
    CONNECTIVITY = "CONNECTIVITY"
    RESYNC = "RESYNC"
    SAFETY_CHECK = "SAFETY_CHECK"
    SAFETY_VIOLATION = "SAFETY_VIOLATION"
    EMERGENCY_CLOSE = "EMERGENCY_CLOSE"
    TRADING_PAUSED = "TRADING_PAUSED"
    TRADING_RESUMED = "TRADING_RESUMED"
    TRADING_REDUCING = "TRADING_REDUCING"
    TRADING_HALTED = "TRADING_HALTED"
    ORDER_SUBMITTED = "ORDER_SUBMITTED"
    ORDER_REJECTED = "ORDER_REJECTED"  # IB refused or ended an order
    ORDER_DENIED = "ORDER_DENIED"  # our own pre-trade gate refused it: nothing was sent
    ORDER_CANCELLED = "ORDER_CANCELLED"
    ORDER_FILLED = "ORDER_FILLED"
    EXECUTION_CORRECTED = "EXECUTION_CORRECTED"  # IB replaced an execution (execId .01 -> .02)
    ORDER_ERROR = "ORDER_ERROR"
    ORPHANED_POSITION = "ORPHANED_POSITION"
    ALERT_SENT = "ALERT_SENT"
    ALERT_FAILED = "ALERT_FAILED"
    FRIDAY_CLOSE = "FRIDAY_CLOSE"
    STRATEGY = "STRATEGY"
    MARKET_DATA = "MARKET_DATA"
    SYSTEM = "SYSTEM"


class ConnectionState(StrEnum):
    CONNECTING = "CONNECTING"
    CONNECTED = "CONNECTED"
    DEGRADED = "DEGRADED"
    RECONNECTING = "RECONNECTING"
    FAILED = "FAILED"
    STOPPED = "STOPPED"


class TradingState(StrEnum):
    """What the engine may do. Persisted: a HALT stays a HALT across restarts."""

    ACTIVE = "ACTIVE"  # everything allowed
    PAUSED = "PAUSED"  # manual: no new entries; exits and safety actions still run
    REDUCING = "REDUCING"  # only orders that reduce a position
    HALTED = "HALTED"  # latched by an emergency: only closing orders and cancels until resumed


@dataclass(frozen=True, slots=True)
class Position:
    """One position in the account, with the latest known price."""

    symbol: str
    quantity: float
    avg_cost: float
    market_price: float
    market_value: float
    unrealized_pnl: float
    realized_pnl: float = 0.0
    sector: str = "Unknown"
    con_id: int = 0
    daily_pnl: float | None = None
    price_time: datetime | None = None
    stale: bool = False
    delayed: bool = False  # the price is IB's delayed data (15-20 min old): no subscription
    bid: float | None = None
    ask: float | None = None
    prev_close: float | None = None  # the last session's close: the day's change is from it

    @property
    def day_change_pct(self) -> float | None:
        """Today's move of the price from the last close (a fraction); None when unknown."""
        if not self.prev_close:
            return None
        return self.market_price / self.prev_close - 1.0

    @property
    def cost_basis(self) -> float:
        return self.avg_cost * self.quantity

    @property
    def unrealized_pct(self) -> float:
        """Unrealized P&L as a fraction of the cost basis (0 when there is no basis)."""
        basis = abs(self.cost_basis)
        return self.unrealized_pnl / basis if basis else 0.0


@dataclass(frozen=True, slots=True)
class PortfolioSnapshot:
    """The account at one instant, folded from IB's positions, portfolio, account values and PnL."""

    timestamp: datetime
    account: str
    net_liquidation: float
    total_cash: float
    gross_position_value: float
    buying_power: float = 0.0
    available_funds: float = 0.0
    daily_pnl: float | None = None
    unrealized_pnl: float = 0.0
    realized_pnl: float = 0.0
    positions: tuple[Position, ...] = ()
    # The link is down: these are the positions as last known at this instant (not the account
    # now); None while connected.
    last_known_at: datetime | None = None

    def position(self, symbol: str) -> Position | None:
        for pos in self.positions:
            if pos.symbol == symbol:
                return pos
        return None

    @property
    def open_positions(self) -> tuple[Position, ...]:
        return tuple(p for p in self.positions if p.quantity != 0)


@dataclass(frozen=True, slots=True)
class Violation:
    """One breached (or, for warnings, exceeded) limit."""

    rule: str
    severity: Severity
    value: float
    limit: float
    message: str
    symbols: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class LimitUse:
    """How much of one limit is used: `use` is value / limit (1.0 = at the limit)."""

    rule: str
    name: str
    value: float
    limit: float
    use: float
    severity: Severity


@dataclass(frozen=True, slots=True)
class SafetyReport:
    """The result of one evaluation of the rules over a snapshot."""

    timestamp: datetime
    violations: tuple[Violation, ...]
    overall_risk_score: float
    uses: tuple[LimitUse, ...] = ()
    stock_weights: tuple[tuple[str, float], ...] = ()
    sector_weights: tuple[tuple[str, float], ...] = ()
    duration_ms: float = 0.0

    @property
    def critical(self) -> tuple[Violation, ...]:
        return tuple(v for v in self.violations if v.severity is Severity.CRITICAL)

    def to_dict(self) -> dict[str, Any]:
        """The documented dict form: overall_risk_score, violations, and the rest."""
        return {
            "timestamp": self.timestamp.isoformat(),
            "overall_risk_score": self.overall_risk_score,
            "violations": [
                {
                    "rule": v.rule,
                    "severity": v.severity.value,
                    "value": v.value,
                    "limit": v.limit,
                    "message": v.message,
                    "symbols": list(v.symbols),
                }
                for v in self.violations
            ],
            "uses": [
                {"rule": u.rule, "name": u.name, "value": u.value, "limit": u.limit, "use": u.use}
                for u in self.uses
            ],
            "stock_weights": dict(self.stock_weights),
            "sector_weights": dict(self.sector_weights),
            "duration_ms": self.duration_ms,
        }


@dataclass(frozen=True, slots=True)
class Alert:
    """Something a person should know. `key` says what it is about, for de-duplication."""

    key: str
    priority: Severity
    kind: str  # "connection", "safety", "trading" or "system"
    title: str
    body: str = ""
    facts: dict[str, Any] = field(default_factory=dict)
    timestamp: datetime | None = None


@dataclass(frozen=True, slots=True)
class AlertRecord:
    """An alert as the UI's alert log shows it."""

    timestamp: datetime
    priority: Severity
    title: str
    delivered: str = ""  # e.g. "email, sms" or "queued" or "failed: ..."


@dataclass(frozen=True, slots=True)
class LatencyStats:
    last_ms: float | None = None
    median_ms: float | None = None
    worst_ms: float | None = None


@dataclass(frozen=True, slots=True)
class ConnectionStats:
    state: ConnectionState = ConnectionState.STOPPED
    host: str = ""
    port: int = 0
    client_id: int = 0
    total_connections: int = 0
    total_disconnects: int = 0
    reconnect_attempts: int = 0  # every attempt of the session
    # The attempt of the reconnect under way as its log line says it ("attempt 1/5": 1 and 5;
    # max 0: past the series, the slow retries), 0 while connected.
    attempt: int = 0
    max_attempts: int = 0
    current_uptime_s: float = 0.0
    uptime_pct: float = 0.0
    last_heartbeat: datetime | None = None
    # Real seconds since the last answered heartbeat (the network lives in real time, so this is
    # what "time since the last heartbeat" shows, also on an accelerated clock).
    last_heartbeat_age_s: float | None = None
    heartbeat_latency: LatencyStats = LatencyStats()
    last_error: str = ""
    degraded_reasons: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "state": self.state.value,
            "host": self.host,
            "port": self.port,
            "client_id": self.client_id,
            "total_connections": self.total_connections,
            "total_disconnects": self.total_disconnects,
            "reconnect_attempts": self.reconnect_attempts,
            "current_uptime": self.current_uptime_s,
            "uptime_pct": self.uptime_pct,
            "last_heartbeat": self.last_heartbeat.isoformat() if self.last_heartbeat else None,
            "last_heartbeat_age_s": self.last_heartbeat_age_s,
            "heartbeat_latency_ms": {
                "last": self.heartbeat_latency.last_ms,
                "median": self.heartbeat_latency.median_ms,
                "worst": self.heartbeat_latency.worst_ms,
            },
            "last_error": self.last_error,
            "degraded_reasons": list(self.degraded_reasons),
        }


class PlanStatus(StrEnum):
    PLANNED = "PLANNED"
    ENTERING = "ENTERING"
    ENTERED = "ENTERED"
    CLOSING = "CLOSING"
    CLOSED = "CLOSED"
    SKIPPED = "SKIPPED"
    REJECTED = "REJECTED"  # IB refused the order (its reason in the note)
    DENIED = "DENIED"  # our own pre-trade gate refused it: nothing was sent
    FAILED = "FAILED"


@dataclass(frozen=True, slots=True)
class PlanEntry:
    """One report in the week's plan."""

    symbol: str
    report_date: str  # YYYY-MM-DD
    timing: str  # BMO, AMC or ""
    planned_entry: datetime
    side: str  # "BUY" for long, "SELL" for short
    quantity: int
    notional: float
    status: PlanStatus = PlanStatus.PLANNED
    order_ref: str = ""
    note: str = ""


class FridayPhase(StrEnum):
    SCHEDULED = "scheduled"
    WAITING_FOR_LINK = "waiting for the connection"
    CLOSING = "closing"
    CLOSED = "closed, backup pending"
    BACKUP = "backup"
    FLAT = "flat"
    NOT_FLAT = "NOT FLAT"
    NOTHING = "nothing to close"


@dataclass(frozen=True, slots=True)
class FridayCloseState:
    """The week's Friday close as the screen shows it (EngineState.friday_close): when, and
    how far it got."""

    last_session: date
    close_at: datetime
    backup_at: datetime
    bell: datetime
    phase: FridayPhase = FridayPhase.SCHEDULED
    detail: str = ""
    open_positions: tuple[tuple[str, float], ...] = ()  # strategy positions still open
    started_at: datetime | None = None
    finished_at: datetime | None = None

    @property
    def flat(self) -> bool | None:
        """True/False once the bell's check ran; None before."""
        if self.phase in (FridayPhase.FLAT, FridayPhase.NOTHING):
            return True
        return False if self.phase is FridayPhase.NOT_FLAT else None

    def describe(self) -> str:
        """'Friday close Fri 2026-11-27 12:45 ET (backup 12:55, bell 13:00): scheduled'"""
        et = ZoneInfo("America/New_York")  # clock.ET; model sits below clock
        close = self.close_at.astimezone(et)
        text = (
            f"Friday close {close:%a %Y-%m-%d %H:%M} ET (backup "
            f"{self.backup_at.astimezone(et):%H:%M}, bell {self.bell.astimezone(et):%H:%M}): "
            f"{self.phase.value}"
        )
        return f"{text}; {self.detail}" if self.detail else text


@dataclass(frozen=True, slots=True)
class CloseProgress:
    """The closer's progress (safety/closer.py): what is being closed, why, how far it got."""

    running: bool = False
    scope: str = ""  # "the whole account", "AAPL, XOM", "the strategy's positions"
    targets: tuple[str, ...] = ()  # the positions it closes (a Friday close: the strategy's)
    why: tuple[str, ...] = ()  # every request merged into this close
    phase: str = ""  # closing, done, failed
    closed: tuple[str, ...] = ()
    remaining: tuple[str, ...] = ()
    verdict: str = ""  # "account is FLAT", "close is NOT flat: AAPL"
    started_at: datetime | None = None
    finished_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class WorkingOrder:
    """An order working at IB, ours or another client's (TWS, a second app)."""

    order_id: int
    perm_id: int
    client_id: int
    symbol: str
    action: str  # BUY or SELL
    quantity: float
    filled: float
    remaining: float
    order_type: str  # MKT, LMT, ...
    limit_price: float | None
    status: str  # IB's: PreSubmitted, Submitted, ...
    order_ref: str
    ours: bool  # placed by this engine (its clientId) with this app's orderRef
    placed_at: datetime | None = None

    def describe(self) -> str:
        """'SELL 60 AAPL LMT 231.00 (20 filled, 40 left), order 12, ref wer-...'"""
        price = f" {self.limit_price:,.2f}" if self.limit_price is not None else ""
        ref = f", ref {self.order_ref}" if self.order_ref else ""
        return (f"{self.action} {self.quantity:g} {self.symbol} {self.order_type}{price} "
                f"({self.filled:g} filled, {self.remaining:g} left), order {self.order_id}{ref}")


@dataclass(frozen=True, slots=True)
class EngineState:
    """Everything the UI shows, as one immutable object the engine republishes on change."""

    timestamp: datetime
    account: str = ""
    live: bool = False
    shadow: bool = False  # shadow mode: everything decided and journaled, nothing sent to IB
    is_running: bool = False
    trading_state: TradingState = TradingState.ACTIVE
    trading_state_reason: str = ""
    connection: ConnectionStats = ConnectionStats()
    portfolio: PortfolioSnapshot | None = None
    safety: SafetyReport | None = None
    last_safety_check: datetime | None = None
    plan: tuple[PlanEntry, ...] = ()
    alerts: tuple[AlertRecord, ...] = ()  # newest first
    flatten_pending: bool = False
    flatten_in_progress: bool = False
    closing: CloseProgress = CloseProgress()  # the closer's latest close
    orders: tuple[WorkingOrder, ...] = ()  # working at IB (as last known while the link is down)
    friday_close: FridayCloseState | None = None  # this week's close: times and progress
    strategy_note: str = ""  # why the strategy is idle (no calendar, disabled), "" otherwise
    strategy_error: str = ""
    version: int = 0
