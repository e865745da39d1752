"""Hand-made engine states for the unit and pilot tests that need one exact figure (a sector at
36%, a drawdown of 4.74%, a queued flatten at a given instant).

Test data only: no screenshot and no snapshot shows these (they render the scenes recorded from
the real engine, weekly_er_tui/scenes/). Built at one instant (Monday 2026-11-23 10:30 ET).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime, timedelta

from weekly_er_tui.clock import ET
from weekly_er_tui.config import SafetyLimits
from weekly_er_tui.model import (
    AlertRecord,
    ConnectionState,
    ConnectionStats,
    EngineState,
    FridayCloseState,
    LatencyStats,
    LimitUse,
    PlanEntry,
    PlanStatus,
    PortfolioSnapshot,
    Position,
    SafetyReport,
    Severity,
    TradingState,
    Violation,
    WorkingOrder,
)
from weekly_er_tui.risk import rules
from weekly_er_tui.ui import figures

DEMO_NOW = datetime(2026, 11, 23, 10, 30, tzinfo=ET)
DEMO_ACCOUNT = "DU1234567"
DEMO_LIMITS = SafetyLimits()

# symbol, sector, quantity, average cost, last price, day's P&L
_BOOK: tuple[tuple[str, str, float, float, float, float], ...] = (
    ("AAPL", "Technology", 60, 228.40, 231.15, 96.0),
    ("MSFT", "Technology", 24, 415.20, 412.85, -31.2),
    ("NVDA", "Technology", 80, 141.30, 145.02, 212.8),
    ("JNJ", "Healthcare", 70, 152.10, 153.44, 58.1),
    ("UNH", "Healthcare", 18, 560.00, 548.70, -162.0),
    ("JPM", "Financials", 45, 221.50, 224.10, 81.0),
    ("GS", "Financials", 20, 512.00, 518.35, 95.4),
    ("HD", "Consumer Discretionary", 26, 395.00, 391.20, -70.2),
    ("NKE", "Consumer Discretionary", 130, 76.80, 75.95, -84.5),
    ("XOM", "Energy", 90, 117.40, 118.62, 64.8),
)

# symbol, report date, timing, side, quantity, status, note
_PLAN: tuple[tuple[str, str, str, str, int, PlanStatus, str], ...] = (
    ("AAPL", "2026-11-24", "AMC", "BUY", 60, PlanStatus.ENTERED, ""),
    ("MSFT", "2026-11-24", "AMC", "BUY", 24, PlanStatus.ENTERED, ""),
    ("JNJ", "2026-11-24", "BMO", "BUY", 70, PlanStatus.ENTERED, ""),
    ("HD", "2026-11-24", "BMO", "BUY", 26, PlanStatus.ENTERED, ""),
    ("NVDA", "2026-11-25", "BMO", "BUY", 80, PlanStatus.ENTERED, ""),
    ("UNH", "2026-11-25", "BMO", "BUY", 18, PlanStatus.ENTERED, ""),
    ("JPM", "2026-11-25", "BMO", "BUY", 45, PlanStatus.ENTERED, ""),
    ("GS", "2026-11-25", "BMO", "BUY", 20, PlanStatus.ENTERED, ""),
    ("NKE", "2026-11-25", "AMC", "BUY", 130, PlanStatus.ENTERED, ""),
    ("XOM", "2026-11-25", "BMO", "BUY", 90, PlanStatus.ENTERED, ""),
    ("DE", "2026-11-25", "BMO", "BUY", 20, PlanStatus.PLANNED, "enters Tue 10:00"),
    ("ADSK", "2026-11-24", "AMC", "BUY", 35, PlanStatus.SKIPPED, "Technology near its limit"),
    ("CRM", "2026-11-25", "AMC", "BUY", 30, PlanStatus.DENIED, "max_position_value"),
)

_NET_LIQUIDATION = 250_000.0


def _at(hh: int, mm: int, ss: int = 0) -> datetime:
    return DEMO_NOW.replace(hour=hh, minute=mm, second=ss)


def positions_from(
    book: tuple[tuple[str, str, float, float, float, float], ...],
    *,
    stale: bool = False,
    price_time: datetime | None = None,
) -> tuple[Position, ...]:
    out = []
    for symbol, sector, qty, avg, last, day in book:
        out.append(
            Position(
                symbol=symbol,
                quantity=qty,
                avg_cost=avg,
                market_price=last,
                market_value=round(qty * last, 2),
                unrealized_pnl=round(qty * (last - avg), 2),
                sector=sector,
                daily_pnl=day,
                price_time=price_time or DEMO_NOW - timedelta(seconds=2),
                stale=stale,
                bid=None if stale else round(last - 0.02, 2),
                ask=None if stale else round(last + 0.02, 2),
                prev_close=round(last - day / qty, 2),
            )
        )
    return tuple(out)


def portfolio_of(
    positions: tuple[Position, ...], *, net_liquidation: float = _NET_LIQUIDATION
) -> PortfolioSnapshot:
    gross = sum(abs(p.market_value) for p in positions)
    day = sum(p.daily_pnl or 0.0 for p in positions)
    return PortfolioSnapshot(
        timestamp=DEMO_NOW,
        account=DEMO_ACCOUNT,
        net_liquidation=net_liquidation,
        total_cash=round(net_liquidation - gross, 2),
        gross_position_value=gross,
        buying_power=round(4 * (net_liquidation - gross), 2),
        available_funds=round(net_liquidation - gross, 2),
        daily_pnl=round(day, 2),
        unrealized_pnl=round(sum(p.unrealized_pnl for p in positions), 2),
        positions=positions,
    )


def safety_report(
    portfolio: PortfolioSnapshot,
    *,
    score: float,
    violations: tuple[Violation, ...] = (),
    limits: SafetyLimits = DEMO_LIMITS,
    drawdown: float | None = None,
) -> SafetyReport:
    """A report shaped like the risk rules' own: weights, and each limit's use."""
    base = portfolio.net_liquidation
    stock = sorted(
        ((p.symbol, abs(p.market_value) / base) for p in portfolio.open_positions),
        key=lambda kv: (-kv[1], kv[0]),
    )
    sectors: dict[str, float] = {}
    for p in portfolio.open_positions:
        sectors[p.sector] = sectors.get(p.sector, 0.0) + abs(p.market_value) / base
    sector = sorted(sectors.items(), key=lambda kv: (-kv[1], kv[0]))
    day = portfolio.daily_pnl or 0.0
    loss = max(0.0, -day)
    dd = drawdown if drawdown is not None else (loss / (base + loss) if base + loss > 0 else 0.0)
    count = len(portfolio.open_positions)
    crit, high, med = Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM
    uses = [
        LimitUse(
            rules.MAX_DAILY_LOSS,
            "day",
            loss,
            limits.max_daily_loss,
            loss / limits.max_daily_loss,
            crit,
        ),
        LimitUse(
            rules.EMERGENCY_STOP_LOSS,
            "session",
            dd,
            limits.emergency_stop_loss,
            dd / limits.emergency_stop_loss,
            crit,
        ),
        LimitUse(
            rules.MAX_POSITIONS,
            "open",
            float(count),
            float(limits.max_positions),
            count / limits.max_positions,
            high,
        ),
        LimitUse(
            rules.MIN_CASH_RESERVE,
            "cash",
            portfolio.total_cash,
            limits.min_cash_reserve,
            figures.cash_use(portfolio.total_cash, limits.min_cash_reserve),
            high,
        ),
    ]
    lim = limits.max_position_concentration
    rule = rules.MAX_POSITION_CONCENTRATION
    uses += [LimitUse(rule, s, w, lim, w / lim, med) for s, w in stock]
    lim = limits.max_sector_concentration
    rule = rules.MAX_SECTOR_CONCENTRATION
    uses += [LimitUse(rule, s, w, lim, w / lim, med) for s, w in sector]
    return SafetyReport(
        timestamp=portfolio.timestamp,
        violations=violations,
        overall_risk_score=score,
        uses=tuple(uses),
        stock_weights=tuple(stock),
        sector_weights=tuple(sector),
        duration_ms=0.4,
    )


def plan_of(
    rows: tuple[tuple[str, str, str, str, int, PlanStatus, str], ...],
) -> tuple[PlanEntry, ...]:
    out = []
    for symbol, report_day, timing, side, qty, status, note in rows:
        entry_day = DEMO_NOW if status is not PlanStatus.PLANNED else DEMO_NOW + timedelta(days=1)
        out.append(
            PlanEntry(
                symbol=symbol,
                report_date=report_day,
                timing=timing,
                planned_entry=entry_day.replace(hour=10, minute=0),
                side=side,
                quantity=qty,
                notional=10_000.0,
                status=status,
                order_ref=f"wer-{symbol.lower()}-20261123",
                note=note,
            )
        )
    return tuple(out)


def _connected(**changes: object) -> ConnectionStats:
    stats = ConnectionStats(
        state=ConnectionState.CONNECTED,
        host="127.0.0.1",
        port=7497,
        client_id=7,
        total_connections=2,
        total_disconnects=1,
        reconnect_attempts=0,
        current_uptime_s=4_680.0,
        uptime_pct=99.6,
        last_heartbeat=DEMO_NOW - timedelta(seconds=4),
        heartbeat_latency=LatencyStats(last_ms=12.4, median_ms=11.0, worst_ms=48.2),
    )
    return replace(stats, **changes)  # type: ignore[arg-type]


_MORNING_ALERTS = (
    AlertRecord(_at(10, 0, 4), Severity.INFO, "Entered 10 positions of this week's plan"),
    AlertRecord(_at(9, 30, 0), Severity.INFO, "Market open: safety monitor running"),
    AlertRecord(
        _at(9, 12, 41), Severity.MEDIUM, "Reconnected to 127.0.0.1:7497 after 14s", "email"
    ),
    AlertRecord(
        _at(9, 12, 27),
        Severity.HIGH,
        "Connection to IB Gateway 127.0.0.1:7497 lost",
        "email, sms",
    ),
)


def normal_session() -> EngineState:
    """A quiet Monday morning: ten positions across five sectors, every limit well clear."""
    portfolio = portfolio_of(positions_from(_BOOK))
    return EngineState(
        timestamp=DEMO_NOW,
        account=DEMO_ACCOUNT,
        live=False,
        is_running=True,
        trading_state=TradingState.ACTIVE,
        connection=_connected(),
        portfolio=portfolio,
        safety=safety_report(portfolio, score=23.0),
        last_safety_check=DEMO_NOW - timedelta(seconds=42),
        plan=plan_of(_PLAN),
        alerts=_MORNING_ALERTS,
        friday_close=FridayCloseState(
            last_session=date(2026, 11, 27),
            close_at=datetime(2026, 11, 27, 12, 45, tzinfo=ET),
            backup_at=datetime(2026, 11, 27, 12, 55, tzinfo=ET),
            bell=datetime(2026, 11, 27, 13, 0, tzinfo=ET),
        ),
        version=1,
    )


def paused_session() -> EngineState:
    """The trader paused new entries; exits and safety actions still run."""
    state = normal_session()
    return replace(
        state,
        trading_state=TradingState.PAUSED,
        trading_state_reason="manual (p pressed at 10:24:10)",
        alerts=(
            AlertRecord(_at(10, 24, 10), Severity.MEDIUM, "Trading PAUSED: manual", "email"),
            *state.alerts,
        ),
        version=2,
    )


_CRASH_BOOK: tuple[tuple[str, str, float, float, float, float], ...] = (
    ("UNH", "Healthcare", 18, 560.00, 471.90, -1_476.0),
    ("NVDA", "Technology", 80, 141.30, 128.05, -1_060.0),
    ("HD", "Consumer Discretionary", 26, 395.00, 371.35, -614.9),
)


def halted_after_emergency() -> EngineState:
    """The day's loss passed max_daily_loss: the engine closed most of the book and HALTED."""
    positions = positions_from(_CRASH_BOOK)
    portfolio = replace(
        portfolio_of(positions, net_liquidation=238_150.0),
        daily_pnl=-11_850.0,
        realized_pnl=-8_699.1,
    )
    violation = Violation(
        rules.MAX_DAILY_LOSS,
        Severity.CRITICAL,
        11_850.0,
        DEMO_LIMITS.max_daily_loss,
        "Day's loss $11,850 is over the $10,000 limit (max_daily_loss)",
        ("UNH", "NVDA", "HD"),
    )
    alerts = (
        AlertRecord(
            _at(10, 29, 31), Severity.HIGH, "Closing UNH, NVDA, HD: 3 orders working", "email, sms"
        ),
        AlertRecord(
            _at(10, 29, 30),
            Severity.CRITICAL,
            "Trading HALTED: emergency close on max_daily_loss",
            "email, sms",
        ),
        AlertRecord(
            _at(10, 29, 30),
            Severity.CRITICAL,
            "EMERGENCY CLOSE: day's loss $11,850 over the $10,000 limit",
            "email, sms",
        ),
        AlertRecord(
            _at(10, 29, 12), Severity.HIGH, "Day's loss $8,420 is 84% of max_daily_loss", "email"
        ),
        AlertRecord(_at(10, 27, 55), Severity.MEDIUM, "UNH down 15.7% in 2 minutes", "email"),
        *_MORNING_ALERTS,
    )
    plan = tuple(
        replace(
            e,
            status=PlanStatus.CLOSING
            if e.symbol in {"UNH", "NVDA", "HD"}
            else (PlanStatus.CLOSED if e.status is PlanStatus.ENTERED else PlanStatus.SKIPPED),
            note="emergency close" if e.status is PlanStatus.ENTERED else "trading HALTED",
        )
        for e in plan_of(_PLAN)
    )
    return EngineState(
        timestamp=DEMO_NOW,
        account=DEMO_ACCOUNT,
        is_running=True,
        trading_state=TradingState.HALTED,
        trading_state_reason="emergency close at 10:29:30: day's loss $11,850 over max_daily_loss",
        connection=_connected(last_heartbeat=DEMO_NOW - timedelta(seconds=2)),
        portfolio=portfolio,
        safety=safety_report(portfolio, score=100.0, violations=(violation,), drawdown=0.0474),
        last_safety_check=DEMO_NOW - timedelta(seconds=1),
        plan=plan,
        alerts=alerts,
        flatten_in_progress=True,
        version=3,
    )


def reconnecting_session(*, flatten_pending: bool = False) -> EngineState:
    """The gateway dropped 47 seconds ago; the second reconnect attempt is under way."""
    state = normal_session()
    portfolio = replace(
        portfolio_of(
            positions_from(_BOOK, stale=True, price_time=DEMO_NOW - timedelta(seconds=47))
        ),
        last_known_at=DEMO_NOW - timedelta(seconds=47),
    )
    alerts = (
        AlertRecord(
            _at(10, 29, 43),
            Severity.HIGH,
            "Connection to IB Gateway 127.0.0.1:7497 lost",
            "email, sms",
        ),
        *state.alerts,
    )
    if flatten_pending:
        alerts = (
            AlertRecord(
                _at(10, 29, 58),
                Severity.CRITICAL,
                "FLATTEN requested while disconnected: queued until reconnect",
                "email, sms",
            ),
            *alerts,
        )
    return replace(
        state,
        connection=_connected(
            state=ConnectionState.RECONNECTING,
            reconnect_attempts=2,
            current_uptime_s=0.0,
            uptime_pct=98.9,
            total_disconnects=2,
            last_heartbeat=DEMO_NOW - timedelta(seconds=47),
            last_error="Connection reset by peer (errno 104)",
        ),
        portfolio=portfolio,
        safety=safety_report(portfolio, score=31.0),
        alerts=alerts,
        flatten_pending=flatten_pending,
        version=4 if not flatten_pending else 5,
    )


_HEAVY_TECH_BOOK: tuple[tuple[str, str, float, float, float, float], ...] = (
    ("NVDA", "Technology", 270, 141.30, 145.02, 718.2),
    ("AAPL", "Technology", 110, 228.40, 231.15, 176.0),
    ("MSFT", "Technology", 40, 415.20, 412.85, -52.0),
    ("AMD", "Technology", 75, 128.60, 131.40, 105.0),
    *(row for row in _BOOK if row[1] != "Technology"),
)


def sector_over_limit() -> EngineState:
    """Technology is 36% of the account against a 30% limit, and NVDA is past its own."""
    state = normal_session()
    portfolio = portfolio_of(positions_from(_HEAVY_TECH_BOOK))
    weights = {p.symbol: p.market_value / portfolio.net_liquidation for p in portfolio.positions}
    tech = sum(p.market_value for p in portfolio.positions if p.sector == "Technology")
    tech_w = tech / portfolio.net_liquidation
    violations = (
        Violation(
            rules.MAX_SECTOR_CONCENTRATION,
            Severity.MEDIUM,
            tech_w,
            DEMO_LIMITS.max_sector_concentration,
            f"Sector Technology is {tech_w:.1%} of net liquidation across NVDA, AAPL, MSFT, AMD "
            "(limit 30.0%)",
            ("NVDA", "AAPL", "MSFT", "AMD"),
        ),
        Violation(
            rules.MAX_POSITION_CONCENTRATION,
            Severity.MEDIUM,
            weights["NVDA"],
            DEMO_LIMITS.max_position_concentration,
            f"NVDA is {weights['NVDA']:.1%} of net liquidation (limit 15.0%)",
            ("NVDA",),
        ),
    )
    return replace(
        state,
        portfolio=portfolio,
        safety=safety_report(portfolio, score=62.0, violations=violations),
        alerts=(
            AlertRecord(_at(10, 29, 50), Severity.MEDIUM, violations[0].message, "email"),
            AlertRecord(_at(10, 29, 50), Severity.MEDIUM, violations[1].message, "email"),
            *state.alerts,
        ),
        version=6,
    )


def live_session() -> EngineState:
    """The normal session on a live account: the LIVE badge must be unmistakable."""
    state = normal_session()
    return replace(
        state,
        account="U7654321",
        live=True,
        connection=replace(state.connection, port=7496),
        version=7,
    )


def with_working_orders() -> EngineState:
    """The normal session with two orders working: a trailing exit of ours half filled, and a
    trader's own order from TWS (clientId 0), which this app may not cancel."""
    state = normal_session()
    orders = (
        WorkingOrder(41, 1_804_220_311, 7, "NKE", "SELL", 130, 60, 70, "LMT", 76.40,
                     "Submitted", "wer-manual-NKE-20261123T102712-3", True,
                     DEMO_NOW - timedelta(minutes=3, seconds=18)),
        WorkingOrder(0, 1_804_219_870, 0, "AAPL", "BUY", 20, 0, 20, "LMT", 225.00,
                     "Submitted", "", False, DEMO_NOW - timedelta(minutes=41)),
    )
    return replace(state, orders=orders, version=8)


STATES: dict[str, Callable[[], EngineState]] = {
    "working_orders": with_working_orders,
    "normal": normal_session,
    "paused": paused_session,
    "halted": halted_after_emergency,
    "reconnecting": reconnecting_session,
    "flatten_queued": lambda: reconnecting_session(flatten_pending=True),
    "sector_over_limit": sector_over_limit,
    "live": live_session,
}
"""The named hand-made states."""
