"""Safety rules: a portfolio snapshot and the limits in, violations and a risk score out.

Pure and fast (200 positions in a fraction of a millisecond), so the engine can evaluate on every
change of the portfolio, not only on the 5-minute safety timer.

Weights
-------
Positions are folded by symbol: two lines in one symbol are one position (for max_positions,
max_position_value and the weights); lines with quantity 0 are closed and do not count.
A position's weight is abs(market value) / net liquidation: the share of the account's equity that
rides on it. Shorts count by absolute value (a short is exposure too). When net liquidation is zero
or negative (the equity is gone, or IB has not sent account values yet) a weight is taken against
gross exposure (the sum of abs market values) instead, so it still tells how the exposure is spread.
A sector's weight adds its positions' abs values (sector from `sector_overrides` first, then the
position's own sector, and "Unknown" when neither says). A correlated group adds its members' abs
values: a long/short pair in correlated stocks counts as concentrated, not hedged.

Uses
----
Every limit reports a `LimitUse`: value, limit and use = value / limit (1.0 = at the limit; a
limit is breached only when the value is strictly past it). For min_cash_reserve, a floor,
use = 1 + (reserve - cash) / reserve: 0 at twice the reserve, 1 at the reserve, 2 at no cash.
The presence rules (orphaned_position, stale_price) have no distance to a limit: value = how many
were found, limit = 0 and use = that count. When a value is unknown (no baseline for the stop-loss
yet, no daily P&L from IB yet) the use is named "unknown" and counts as 0: no verdict.

Overall risk score (0-100)
--------------------------
How close the account is to its nearest limit, weighted by what a breach of that limit costs:

    score = 100                           if a CRITICAL limit is breached
                                          (emergency_stop_loss, max_daily_loss)
    score = min(99, max(graded, floor))   otherwise

    graded = the largest 100 × w × use over the graded limits, where
             w = 1.0 for the CRITICAL limits (emergency_stop_loss, max_daily_loss),
                 0.8 for the HIGH ones (max_position_value, max_portfolio_value, max_positions,
                     min_cash_reserve),
                 0.6 for the MEDIUM ones (max_position_concentration, max_sector_concentration,
                     correlated_exposure)
    floor  = 70 if any HIGH rule is breached, else 50 if any MEDIUM rule is, else 25 if any LOW
             rule is, else 0 (this is how the presence rules count: an orphan scores 50, a stale
             price 25)

Rounded to one decimal. Reading it: 100 means a CRITICAL limit is breached and the engine is
closing positions; 80-99 a HIGH limit is breached, or a CRITICAL one is 80% used or more; 60-80
a MEDIUM limit is breached or a HIGH one is nearly used; below 50 nothing is breached.

Why this shape. The largest term, not a sum, so the score points at one thing (the nearest limit)
and twenty small positions do not add up to an alarm. Severity weights, so that sitting at a
concentration limit (60) reads calmer than sitting at the position-size limit (80) or being 80%
of the way to the emergency stop (80). Capped at 99 otherwise, so 100 means exactly one thing.
Each term is non-decreasing in its use and max and min keep that, so the score never falls when
exposure grows: with net liquidation (> 0), cash, the day's P&L and the baseline held fixed, making
any position larger never lowers the score, and neither does buying more of a long with cash
(tests/risk/test_score.py checks both). Two honest limits of that statement: a price rise in a long
also lifts net liquidation, which shrinks the drawdown and every weight, so the score may fall (the
account is richer); and when net liquidation is not positive the weights are shares of gross
exposure, so growing one position shrinks the others' shares.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from operator import itemgetter
from time import perf_counter

from weekly_er_tui.config import SafetyLimits
from weekly_er_tui.model import (
    LimitUse,
    PortfolioSnapshot,
    Position,
    SafetyReport,
    Severity,
    Violation,
)

EMERGENCY_STOP_LOSS = "emergency_stop_loss"
MAX_DAILY_LOSS = "max_daily_loss"
MAX_POSITION_VALUE = "max_position_value"
MAX_PORTFOLIO_VALUE = "max_portfolio_value"
MAX_POSITIONS = "max_positions"
MIN_CASH_RESERVE = "min_cash_reserve"
MAX_POSITION_CONCENTRATION = "max_position_concentration"
MAX_SECTOR_CONCENTRATION = "max_sector_concentration"
ORPHANED_POSITION = "orphaned_position"
STALE_PRICE = "stale_price"
CORRELATED_EXPOSURE = "correlated_exposure"

# A stale price is LOW: it is a data problem, not exposure, and prices are stale every night and
# weekend (the rules do not know the session), so it shows on screen but does not email by default
# (email_min_priority MEDIUM). safety.py may escalate it during regular trading hours.
RULE_SEVERITY: dict[str, Severity] = {
    EMERGENCY_STOP_LOSS: Severity.CRITICAL,
    MAX_DAILY_LOSS: Severity.CRITICAL,
    MAX_POSITION_VALUE: Severity.HIGH,
    MAX_PORTFOLIO_VALUE: Severity.HIGH,
    MAX_POSITIONS: Severity.HIGH,
    MIN_CASH_RESERVE: Severity.HIGH,
    MAX_POSITION_CONCENTRATION: Severity.MEDIUM,
    MAX_SECTOR_CONCENTRATION: Severity.MEDIUM,
    ORPHANED_POSITION: Severity.MEDIUM,
    CORRELATED_EXPOSURE: Severity.MEDIUM,
    STALE_PRICE: Severity.LOW,
}

# Rules with no distance to a limit: they count in the score only through the breach floor.
PRESENCE_RULES = frozenset({ORPHANED_POSITION, STALE_PRICE})

SCORE_WEIGHTS: dict[Severity, float] = {
    Severity.CRITICAL: 1.0,
    Severity.HIGH: 0.8,
    Severity.MEDIUM: 0.6,
    Severity.LOW: 0.0,
    Severity.INFO: 0.0,
}
BREACH_FLOORS: dict[Severity, float] = {
    Severity.HIGH: 70.0,
    Severity.MEDIUM: 50.0,
    Severity.LOW: 25.0,
}

UNKNOWN = "unknown"  # LimitUse.name when there is no verdict
UNKNOWN_SECTOR = "Unknown"

_BASELINE_WORDS = {
    "session": "the session's start",
    "week": "the week's start",
    "high_water": "its high-water mark",
}
_MAX_LISTED = 10  # symbols named in one message before "and N more"


# ---------------------------------------------------------------------------------------------
# Shared helpers (the gate uses them too, so both sides measure the same way)


def sector_of(symbol: str, sector: str | None, limits: SafetyLimits) -> str:
    """The sector a symbol counts in: `sector_overrides` first, then its own, else "Unknown"."""
    return limits.sector_overrides.get(symbol) or sector or UNKNOWN_SECTOR


def weight_base(net_liquidation: float, gross: float) -> float:
    """The denominator of every weight: net liquidation, or gross exposure when it is <= 0."""
    return net_liquidation if net_liquidation > 0 else gross


def group_weight(values: Mapping[str, float], group: Iterable[str], base: float) -> float:
    """A correlated group's combined weight: its members' values summed, then divided once (a
    sum of rounded weights can land past the limit). The rules and the pre-trade gate agree."""
    group_value = 0.0
    for sym in group:
        group_value += values.get(sym, 0.0)
    return group_value / base if base > 0 else 0.0


def format_money(x: float, ref: float | None = None) -> str:
    """$61,200; with cents when whole dollars would make `x` read the same as `ref`."""
    text = _money(x, 0)
    if ref is not None and x != ref and text == _money(ref, 0):
        return _money(x, 2)
    return text


def format_price(x: float) -> str:
    return _money(x, 2)


def format_pct(x: float, ref: float | None = None) -> str:
    """10.4% (a fraction as a percentage), with more decimals when needed to differ from `ref`."""
    text = _pct(x, 1)
    places = 1
    while ref is not None and x != ref and text == _pct(ref, places) and places < 6:
        places += 1
        text = _pct(x, places)
    return text


def format_quantity(q: float) -> str:
    return str(int(q)) if float(q).is_integer() else f"{q:g}"


def format_age(seconds: float) -> str:
    """5m 10s, 2h 3m, 3d 4h."""
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60}s"
    if s < 86400:
        return f"{s // 3600}h {s % 3600 // 60}m"
    return f"{s // 86400}d {s % 86400 // 3600}h"


def _money(x: float, places: int) -> str:
    digits = f"{abs(x):,.{places}f}"
    sign = "-" if x < 0 and digits.strip("0.,") else ""
    return f"{sign}${digits}"


def _pct(x: float, places: int) -> str:
    text = f"{x * 100:.{places}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return f"{text}%"


def _listed(items: Sequence[str], total: int | None = None) -> str:
    """The first _MAX_LISTED items; `total` when `items` was already cut short."""
    total = len(items) if total is None else total
    text = ", ".join(items[:_MAX_LISTED])
    return text if total <= _MAX_LISTED else f"{text} and {total - _MAX_LISTED} more"


# ---------------------------------------------------------------------------------------------
# The day's loss: which position to close next


def position_day_pnl(position: Position) -> float:
    """The position's P&L used to rank closures: today's when IB reports it, else unrealized."""
    return position.daily_pnl if position.daily_pnl is not None else position.unrealized_pnl


def daily_loss_losers(snapshot: PortfolioSnapshot) -> list[Position]:
    """The positions a max_daily_loss breach closes: those losing TODAY, the largest day loss
    first (their own day P&L when IB reports it, else unrealized). Ties go by symbol.

    Closing a loser realizes its loss, it does not undo it: IB's daily P&L stays where it was.
    So the breach does not close "until the loss is back within the limit" (it never is, and the
    winners would go too): it closes today's losers once, keeps the rest while the day's loss is
    contained, and closes everything only past `daily_loss_halt_line`."""
    losers = [p for p in snapshot.positions if p.quantity != 0 and position_day_pnl(p) < 0]
    return sorted(losers, key=lambda p: (position_day_pnl(p), p.symbol))


def daily_loss_halt_line(breach_pnl: float, limits: SafetyLimits) -> float:
    """The day's P&L below which, after a breach at `breach_pnl`, everything is closed and
    trading HALTED: the breach minus daily_loss_halt_margin of max_daily_loss."""
    return breach_pnl - limits.daily_loss_halt_margin * limits.max_daily_loss


# ---------------------------------------------------------------------------------------------
# The rules


def evaluate(
    snapshot: PortfolioSnapshot,
    limits: SafetyLimits,
    *,
    baseline_nlv: float | None,
    now: datetime,
    tracked: Collection[str] = (),
    vanished: Collection[str] = (),
    correlated_groups: Sequence[tuple[str, ...]] = (),
) -> SafetyReport:
    """Check every limit against `snapshot` and score the account's risk.

    baseline_nlv: net liquidation the emergency stop-loss measures the drawdown from (the
      session's start, the week's, or the high-water mark: `limits.stop_loss_baseline`); None or
      <= 0 gives no verdict.
    now: the clock's time, for stale prices (a price older than stale_price_seconds, or none).
    tracked: symbols the strategy holds on purpose; any other open position not in orphan_ignore
      is an orphan (an empty collection means the strategy tracks nothing).
    vanished: tracked symbols that disappeared from the account (also orphaned_position).
    correlated_groups: groups of symbols that move together (risk.correlation.correlated_groups).
    """
    started = perf_counter()
    nlv = snapshot.net_liquidation
    overrides = limits.sector_overrides
    stale_cutoff = now - timedelta(seconds=limits.stale_price_seconds)

    values: dict[str, float] = {}  # symbol -> abs market value
    quantities: dict[str, float] = {}
    sector_values: dict[str, float] = {}
    sector_members: dict[str, dict[str, None]] = {}
    stale: list[Position] = []
    gross = 0.0
    for p in snapshot.positions:
        if p.quantity == 0:
            continue
        sym = p.symbol
        v = abs(p.market_value)
        gross += v
        if sym in values:
            values[sym] += v
            quantities[sym] += p.quantity
        else:
            values[sym] = v
            quantities[sym] = p.quantity
        sector = (overrides.get(sym) if overrides else None) or p.sector or UNKNOWN_SECTOR
        if sector in sector_values:
            sector_values[sector] += v
            sector_members[sector][sym] = None
        else:
            sector_values[sector] = v
            sector_members[sector] = {sym: None}
        pt = p.price_time
        if p.stale or pt is None or pt < stale_cutoff:
            stale.append(p)

    base = weight_base(nlv, gross)
    of_what = "net liquidation" if nlv > 0 else "gross exposure (net liquidation is not positive)"
    uses: list[LimitUse] = []
    violations: list[Violation] = []
    crit, high, med, low = Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW

    # emergency_stop_loss: drawdown from the baseline
    lim = limits.emergency_stop_loss
    if baseline_nlv is None or not baseline_nlv > 0:
        uses.append(LimitUse(EMERGENCY_STOP_LOSS, UNKNOWN, 0.0, lim, 0.0, crit))
    else:
        # A loss from the baseline: an account above it is 0.0% down, never "-0.5%" (every
        # reader, the cockpit, `check safety`, the control socket, takes this figure as it is).
        drawdown = max(0.0, (baseline_nlv - nlv) / baseline_nlv)
        uses.append(
            LimitUse(
                EMERGENCY_STOP_LOSS,
                limits.stop_loss_baseline,
                drawdown,
                lim,
                drawdown / lim,
                crit,
            )
        )
        if drawdown > lim:
            violations.append(
                Violation(
                    EMERGENCY_STOP_LOSS,
                    crit,
                    drawdown,
                    lim,
                    f"Portfolio down {format_pct(drawdown, lim)} from "
                    f"{_BASELINE_WORDS.get(limits.stop_loss_baseline, 'the baseline')} "
                    f"({format_money(baseline_nlv)} to {format_money(nlv)}; "
                    f"limit {format_pct(lim)})",
                    tuple(values),
                )
            )

    # max_daily_loss: IB's daily P&L for the account
    lim = limits.max_daily_loss
    day_pnl = snapshot.daily_pnl
    if day_pnl is None:
        uses.append(LimitUse(MAX_DAILY_LOSS, UNKNOWN, 0.0, lim, 0.0, crit))
    else:
        loss = max(0.0, -day_pnl)
        uses.append(LimitUse(MAX_DAILY_LOSS, "day", loss, lim, loss / lim, crit))
        if loss > lim:
            losers = tuple(dict.fromkeys(p.symbol for p in daily_loss_losers(snapshot)))
            violations.append(
                Violation(
                    MAX_DAILY_LOSS,
                    crit,
                    loss,
                    lim,
                    f"Day's loss {format_money(loss, lim)} is over the {format_money(lim)} "
                    "daily limit (max_daily_loss)",
                    losers,
                )
            )

    # max_position_value: each symbol's abs market value
    lim = limits.max_position_value
    largest_sym: str | None = None
    largest = 0.0
    for sym, v in values.items():
        if largest_sym is None or v > largest:
            largest_sym, largest = sym, v
        if v > lim:
            violations.append(
                Violation(
                    MAX_POSITION_VALUE,
                    high,
                    v,
                    lim,
                    f"{sym} position is worth {format_money(v, lim)}, over the "
                    f"{format_money(lim)} per-position limit (max_position_value)",
                    (sym,),
                )
            )
    uses.append(
        LimitUse(MAX_POSITION_VALUE, largest_sym or "none", largest, lim, largest / lim, high)
    )

    # max_portfolio_value: gross exposure
    lim = limits.max_portfolio_value
    uses.append(LimitUse(MAX_PORTFOLIO_VALUE, "gross", gross, lim, gross / lim, high))
    if gross > lim:
        violations.append(
            Violation(
                MAX_PORTFOLIO_VALUE,
                high,
                gross,
                lim,
                f"Gross exposure {format_money(gross, lim)} is over the {format_money(lim)} "
                "limit (max_portfolio_value)",
                tuple(values),
            )
        )

    # max_positions: open positions (by symbol)
    count = len(values)
    ilim = limits.max_positions
    uses.append(LimitUse(MAX_POSITIONS, "open", float(count), float(ilim), count / ilim, high))
    if count > ilim:
        violations.append(
            Violation(
                MAX_POSITIONS,
                high,
                float(count),
                float(ilim),
                f"{count} open positions, over the limit of {ilim} (max_positions)",
                tuple(values),
            )
        )

    # min_cash_reserve: a floor
    lim = limits.min_cash_reserve
    cash = snapshot.total_cash
    cash_use = max(0.0, 1.0 + (lim - cash) / (lim if lim > 0 else 1.0))
    uses.append(LimitUse(MIN_CASH_RESERVE, "cash", cash, lim, cash_use, high))
    if cash < lim:
        violations.append(
            Violation(
                MIN_CASH_RESERVE,
                high,
                cash,
                lim,
                f"Cash {format_money(cash, lim)} is under the {format_money(lim)} reserve "
                "(min_cash_reserve)",
            )
        )

    # max_position_concentration: each symbol's weight
    lim = limits.max_position_concentration
    stock_weights = _sorted_weights(values, base)
    for sym, w in stock_weights:
        uses.append(LimitUse(MAX_POSITION_CONCENTRATION, sym, w, lim, w / lim, med))
        if w > lim:
            violations.append(
                Violation(
                    MAX_POSITION_CONCENTRATION,
                    med,
                    w,
                    lim,
                    f"{sym} is {format_pct(w, lim)} of {of_what} (limit {format_pct(lim)})",
                    (sym,),
                )
            )

    # max_sector_concentration: each sector's weight
    lim = limits.max_sector_concentration
    sector_weights = _sorted_weights(sector_values, base)
    for sec, w in sector_weights:
        uses.append(LimitUse(MAX_SECTOR_CONCENTRATION, sec, w, lim, w / lim, med))
        if w > lim:
            members = tuple(sector_members[sec])
            violations.append(
                Violation(
                    MAX_SECTOR_CONCENTRATION,
                    med,
                    w,
                    lim,
                    f"Sector {sec} is {format_pct(w, lim)} of {of_what} across "
                    f"{_listed(members)} (limit {format_pct(lim)})",
                    members,
                )
            )

    # correlated_exposure: each group's combined weight
    lim = limits.max_correlated_weight
    for group in correlated_groups:
        w = group_weight(values, group, base)
        uses.append(LimitUse(CORRELATED_EXPOSURE, "+".join(group), w, lim, w / lim, med))
        if w > lim:
            held = tuple(s for s in group if s in values)
            violations.append(
                Violation(
                    CORRELATED_EXPOSURE,
                    med,
                    w,
                    lim,
                    f"Correlated group {_listed(group)} is {format_pct(w, lim)} of {of_what} "
                    f"(limit {format_pct(lim)}, max_correlated_weight)",
                    held,
                )
            )

    # orphaned_position: untracked positions, and tracked ones that vanished
    ignore = set(limits.orphan_ignore)
    tracked_set = set(tracked)
    untracked = [s for s in values if s not in tracked_set and s not in ignore]
    gone = [s for s in dict.fromkeys(vanished) if s not in ignore]
    orphans = len(untracked) + len(gone)
    uses.append(LimitUse(ORPHANED_POSITION, "positions", float(orphans), 0.0, float(orphans), med))
    if untracked:
        signed: dict[str, float] = {}
        for p in snapshot.positions:
            if p.quantity != 0:
                signed[p.symbol] = signed.get(p.symbol, 0.0) + p.market_value
        details = [
            f"{s} {format_quantity(quantities[s])} sh ({format_money(signed[s])})"
            for s in untracked[:_MAX_LISTED]
        ]
        noun = "position" if len(untracked) == 1 else "positions"
        violations.append(
            Violation(
                ORPHANED_POSITION,
                med,
                float(len(untracked)),
                0.0,
                f"{len(untracked)} {noun} in the account that the strategy does not track: "
                f"{_listed(details, len(untracked))}. Review and close, or add to orphan_ignore",
                tuple(untracked),
            )
        )
    if gone:
        noun = "position" if len(gone) == 1 else "positions"
        violations.append(
            Violation(
                ORPHANED_POSITION,
                med,
                float(len(gone)),
                0.0,
                f"{len(gone)} tracked {noun} gone from the account: {_listed(gone)}. "
                "Closed outside the strategy? Check the account's trades",
                tuple(gone),
            )
        )

    # stale_price: no price, or a price older than stale_price_seconds
    uses.append(LimitUse(STALE_PRICE, "prices", float(len(stale)), 0.0, float(len(stale)), low))
    if stale:
        details = []
        for p in stale[:_MAX_LISTED]:
            if p.price_time is None:
                details.append(f"{p.symbol} no price yet")
            else:
                age = (now - p.price_time).total_seconds()
                details.append(f"{p.symbol} {format_age(age)} old")
        noun = "price is" if len(stale) == 1 else "prices are"
        violations.append(
            Violation(
                STALE_PRICE,
                low,
                float(len(stale)),
                0.0,
                f"{len(stale)} {noun} stale (older than "
                f"{format_age(limits.stale_price_seconds)}): {_listed(details, len(stale))}",
                tuple(dict.fromkeys(p.symbol for p in stale)),
            )
        )

    violations.sort(key=lambda v: v.severity.rank)
    score = risk_score(uses, violations)
    return SafetyReport(
        timestamp=now,
        violations=tuple(violations),
        overall_risk_score=score,
        uses=tuple(uses),
        stock_weights=tuple(stock_weights),
        sector_weights=tuple(sector_weights),
        duration_ms=(perf_counter() - started) * 1000.0,
    )


def _sorted_weights(values: dict[str, float], base: float) -> list[tuple[str, float]]:
    """(name, value / base), largest first, ties by name."""
    weights = sorted([(name, v / base if base > 0 else 0.0) for name, v in values.items()])
    weights.sort(key=itemgetter(1), reverse=True)  # stable: ties keep their name order
    return weights


def risk_score(uses: Sequence[LimitUse], violations: Sequence[Violation]) -> float:
    """The overall risk score, 0-100, as the module docstring defines it."""
    floor = 0.0
    for v in violations:
        if v.severity is Severity.CRITICAL:
            return 100.0
        floor = max(floor, BREACH_FLOORS.get(v.severity, 0.0))
    graded = 0.0
    for u in uses:
        if u.rule in PRESENCE_RULES:
            continue
        term = 100.0 * SCORE_WEIGHTS[u.severity] * u.use
        if term > graded:
            graded = term
    return round(min(99.0, max(graded, floor)), 1)
