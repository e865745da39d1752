"""The overall risk score: its formula on examples, and the properties it must keep."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from weekly_er_tui.config import SafetyLimits
from weekly_er_tui.model import PortfolioSnapshot, Position, SafetyReport, Severity
from weekly_er_tui.risk import rules
from weekly_er_tui.risk.rules import evaluate

from .helpers import NOW, limits, pos, snap

PROPERTY = settings(max_examples=150, deadline=None)


def score_of(snapshot: PortfolioSnapshot, lim: SafetyLimits | None = None, **kw: Any) -> float:
    kw.setdefault("baseline_nlv", None)
    kw.setdefault("tracked", [p.symbol for p in snapshot.positions])
    return evaluate(snapshot, lim or limits(), now=NOW, **kw).overall_risk_score


# The formula on examples ------------------------------------------------------------------------


def test_nothing_held_nothing_known_scores_zero() -> None:
    assert score_of(snap(daily_pnl=None)) == 0.0


def test_critical_limits_weigh_fully_and_cap_at_99_until_breached() -> None:
    assert score_of(snap(nlv=95_000), baseline_nlv=100_000) == 50.0  # 5% of a 10% stop
    assert score_of(snap(daily_pnl=-9_000)) == 90.0
    assert score_of(snap(daily_pnl=-9_999)) == 99.0  # 99.99 capped: 100 is kept for a breach
    assert score_of(snap(daily_pnl=-10_000)) == 99.0  # at the limit is not over it
    assert score_of(snap(daily_pnl=-10_001)) == 100.0


def test_high_limits_weigh_080() -> None:
    assert score_of(snap(pos("AAPL", 25_000))) == 40.0  # half of max_position_value
    assert score_of(snap(pos("AAPL", 50_000))) == 80.0
    assert score_of(snap(cash=9_999)) == 80.0  # a breached floor: use just over 1


def test_medium_limits_weigh_060() -> None:
    roomy = limits(max_position_value=1_000_000)
    assert score_of(snap(pos("AAPL", 200_000)), roomy) == 80.0  # 20% / 15% x 60
    assert score_of(snap(pos("AAPL", 75_000)), roomy) == 30.0  # 7.5% / 15% x 60


def test_presence_rules_count_by_their_floor() -> None:
    tiny = pos("XYZ", 100.0)
    assert score_of(snap(tiny), tracked=[]) == 50.0  # an orphan: MEDIUM
    assert score_of(snap(replace(tiny, price_time=None))) == 25.0  # a stale price: LOW


def test_a_breach_scores_by_how_far_over_it_is_capped_at_99() -> None:
    held = [pos(f"S{i}", 10.0) for i in range(21)]
    assert score_of(snap(*held), limits(max_positions=20)) == 84.0  # 21/20 x 80
    assert score_of(snap(*held), limits(max_positions=10)) == 99.0  # 21/10 x 80, capped


def test_a_price_rise_can_lower_the_score_because_the_account_is_richer() -> None:
    # Why monotonicity is stated with net liquidation held fixed: a price move in a long lifts
    # net liquidation too, which shrinks the drawdown and every other weight.
    before = snap(pos("AAPL", 40_000), nlv=92_000)
    after = snap(pos("AAPL", 45_000), nlv=97_000)
    lim = limits(
        max_position_value=1_000_000, max_position_concentration=1.0, max_sector_concentration=1.0
    )
    assert score_of(after, lim, baseline_nlv=100_000) < score_of(before, lim, baseline_nlv=100_000)


# Properties -------------------------------------------------------------------------------------

SYMBOLS = [f"S{i}" for i in range(8)]
SECTORS = ["Technology", "Energy", "Health", "", "Unknown"]
money = st.floats(min_value=-400_000, max_value=400_000, allow_nan=False)


@st.composite
def positions(draw: st.DrawFn) -> Position:
    symbol = draw(st.sampled_from(SYMBOLS))
    value = draw(money)
    price = draw(st.floats(min_value=1.0, max_value=1_000.0))
    sign = 1.0 if value > 0 else -1.0 if value < 0 else draw(st.sampled_from([1.0, -1.0]))
    quantity = max(1.0, round(abs(value) / price)) * sign
    return pos(
        symbol,
        value,
        price=price,
        quantity=quantity,
        sector=draw(st.sampled_from(SECTORS)),
        daily_pnl=draw(st.none() | st.floats(-50_000, 50_000)),
        unrealized=draw(st.floats(-50_000, 50_000)),
        age_s=draw(st.none() | st.floats(0.0, 400.0)),
        stale=draw(st.booleans()),
    )


@st.composite
def safety_limits(draw: st.DrawFn) -> SafetyLimits:
    fraction = st.floats(min_value=0.01, max_value=1.0)
    return limits(
        max_position_value=draw(st.floats(1_000, 500_000)),
        max_portfolio_value=draw(st.floats(10_000, 2_000_000)),
        max_daily_loss=draw(st.floats(100, 50_000)),
        max_position_concentration=draw(fraction),
        max_sector_concentration=draw(fraction),
        emergency_stop_loss=draw(fraction),
        max_positions=draw(st.integers(1, 10)),
        min_cash_reserve=draw(st.floats(0, 100_000)),
        stale_price_seconds=draw(st.floats(1, 600)),
        max_correlated_weight=draw(fraction),
        orphan_ignore=draw(st.lists(st.sampled_from(SYMBOLS), max_size=2)),
        sector_overrides=draw(
            st.dictionaries(st.sampled_from(SYMBOLS), st.sampled_from(SECTORS[:3]), max_size=2)
        ),
    )


@st.composite
def cases(draw: st.DrawFn, *, positive_nlv: bool = False) -> dict[str, Any]:
    held = draw(st.lists(positions(), max_size=8))
    low = 1.0 if positive_nlv else -200_000.0
    snapshot = snap(
        *held,
        nlv=draw(st.floats(low, 3_000_000)),
        cash=draw(st.floats(-500_000, 1_000_000)),
        daily_pnl=draw(st.none() | st.floats(-60_000, 60_000)),
    )
    group = st.lists(st.sampled_from(SYMBOLS), min_size=2, max_size=4, unique=True).map(tuple)
    return {
        "snapshot": snapshot,
        "limits": draw(safety_limits()),
        "baseline_nlv": draw(st.none() | st.floats(-1_000, 3_000_000)),
        "tracked": draw(st.lists(st.sampled_from(SYMBOLS), max_size=8)),
        "vanished": draw(st.lists(st.sampled_from(SYMBOLS), max_size=2)),
        "correlated_groups": draw(st.lists(group, max_size=3)),
    }


def run(case: dict[str, Any]) -> SafetyReport:
    return evaluate(
        case["snapshot"],
        case["limits"],
        baseline_nlv=case["baseline_nlv"],
        now=NOW,
        tracked=case["tracked"],
        vanished=case["vanished"],
        correlated_groups=case["correlated_groups"],
    )


@PROPERTY
@given(cases())
def test_no_violation_while_every_use_is_below_one(case: dict[str, Any]) -> None:
    report = run(case)
    if all(u.use < 1 for u in report.uses):
        assert report.violations == ()
    # The same, stated so that every example tests it: a violation always shows as a use of its
    # rule at 1 or more, and a use over 1 always comes with a violation of its rule.
    for v in report.violations:
        assert any(u.rule == v.rule and u.use >= 1 for u in report.uses), v
    breached = {v.rule for v in report.violations}
    for u in report.uses:
        if u.use > 1:
            assert u.rule in breached, u


@PROPERTY
@given(cases())
def test_score_is_100_exactly_when_a_critical_limit_is_breached(case: dict[str, Any]) -> None:
    report = run(case)
    score = report.overall_risk_score
    assert score == rules.risk_score(report.uses, report.violations)
    assert 0.0 <= score <= 100.0
    assert (score == 100.0) is bool(report.critical)
    if not report.critical:
        assert score <= 99.0
    severities = {v.severity for v in report.violations}
    if Severity.HIGH in severities:
        assert score >= 70
    if Severity.MEDIUM in severities:
        assert score >= 50
    if Severity.LOW in severities:
        assert score >= 25


def grow(snapshot: PortfolioSnapshot, index: int, amount: float, *, buy: bool) -> PortfolioSnapshot:
    """Position `index` larger by `amount` of market value, away from zero.

    buy=False: only its market value changes (everything else fixed, net liquidation included).
    buy=True: it is bought with cash at its price: cash falls by `amount`, net liquidation stays.
    """
    held = list(snapshot.positions)
    p = held[index]
    sign = 1.0 if p.quantity > 0 else -1.0
    held[index] = replace(
        p,
        market_value=p.market_value + sign * amount,
        quantity=p.quantity + sign * amount / p.market_price,
    )
    cash = snapshot.total_cash - amount if buy else snapshot.total_cash
    return replace(snapshot, positions=tuple(held), total_cash=cash)


def _comparable_uses(report: SafetyReport) -> dict[tuple[str, str], float]:
    # max_position_value names the largest position, which can change: compared by value apart.
    return {(u.rule, u.name): u.use for u in report.uses if u.rule != rules.MAX_POSITION_VALUE}


@PROPERTY
@given(cases(positive_nlv=True), st.data())
def test_score_never_falls_when_a_position_grows(case: dict[str, Any], data: st.DataObject) -> None:
    """Monotone in each position's size, with net liquidation, cash, the day's P&L, the baseline
    and every other position held fixed (weights are against net liquidation, > 0 here)."""
    snapshot: PortfolioSnapshot = case["snapshot"]
    if not snapshot.positions:
        return
    index = data.draw(st.integers(0, len(snapshot.positions) - 1))
    amount = data.draw(st.floats(0.01, 300_000))
    before = run(case)
    after = run({**case, "snapshot": grow(snapshot, index, amount, buy=False)})
    assert after.overall_risk_score >= before.overall_risk_score
    used_before, used_after = _comparable_uses(before), _comparable_uses(after)
    for key, use in used_before.items():
        assert used_after[key] >= use, key
    assert {v.rule for v in before.violations} <= {v.rule for v in after.violations}


@PROPERTY
@given(cases(positive_nlv=True), st.data())
def test_score_never_falls_when_a_long_is_bought_with_cash(
    case: dict[str, Any], data: st.DataObject
) -> None:
    """The realistic growth: buy more of a long at its price. Cash falls by what is bought, net
    liquidation stays, gross exposure and the weights rise. (A short sale is not included: its
    proceeds raise cash, so min_cash_reserve's use falls, rightly.)"""
    snapshot: PortfolioSnapshot = case["snapshot"]
    longs = [i for i, p in enumerate(snapshot.positions) if p.quantity > 0]
    if not longs:
        return
    index = data.draw(st.sampled_from(longs))
    amount = data.draw(st.floats(0.01, 300_000))
    before = run(case)
    after = run({**case, "snapshot": grow(snapshot, index, amount, buy=True)})
    assert after.overall_risk_score >= before.overall_risk_score
