"""Each safety rule at its boundary: just under, at, and just over the limit."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

import pytest

from weekly_er_tui.config import SafetyLimits
from weekly_er_tui.model import PortfolioSnapshot, SafetyReport, Severity, Violation
from weekly_er_tui.risk import rules
from weekly_er_tui.risk.rules import evaluate

from .helpers import NOW, limits, pos, snap

BOUNDARY = pytest.mark.parametrize(
    ("delta", "breached"), [(-1.0, False), (0.0, False), (1.0, True)], ids=["under", "at", "over"]
)


def run(
    snapshot: PortfolioSnapshot,
    lim: SafetyLimits | None = None,
    *,
    baseline_nlv: float | None = None,
    tracked: Collection[str] | None = None,
    vanished: Collection[str] = (),
    correlated_groups: Sequence[tuple[str, ...]] = (),
) -> SafetyReport:
    """Evaluate with every held symbol tracked unless told otherwise (no orphans by accident)."""
    return evaluate(
        snapshot,
        lim or limits(),
        baseline_nlv=baseline_nlv,
        now=NOW,
        tracked=[p.symbol for p in snapshot.positions] if tracked is None else tracked,
        vanished=vanished,
        correlated_groups=correlated_groups,
    )


def only(report: SafetyReport, rule: str) -> list[Violation]:
    return [v for v in report.violations if v.rule == rule]


def use_of(report: SafetyReport, rule: str, name: str | None = None) -> Any:
    found = [u for u in report.uses if u.rule == rule and (name is None or u.name == name)]
    assert len(found) == 1, found
    return found[0]


def test_a_quiet_account_has_no_violation() -> None:
    report = run(snap(pos("AAPL", 40_000), pos("MSFT", 30_000, sector="Software")))
    assert report.violations == ()
    # The nearest limit is AAPL's value: 80% of max_position_value, a HIGH limit (w 0.8).
    assert report.overall_risk_score == 64.0


# emergency_stop_loss ---------------------------------------------------------------------------


@BOUNDARY
def test_emergency_stop_loss_boundary(delta: float, breached: bool) -> None:
    # 10% from 100,000 is 90,000; a delta of one dollar of loss either side.
    report = run(snap(nlv=90_000 - delta), baseline_nlv=100_000)
    found = only(report, rules.EMERGENCY_STOP_LOSS)
    assert bool(found) is breached
    assert use_of(report, rules.EMERGENCY_STOP_LOSS).value == pytest.approx(0.1 + delta / 100_000)
    if breached:
        assert found[0].severity is Severity.CRITICAL
        assert found[0].limit == 0.1


def test_emergency_stop_loss_message_reads_for_a_trader() -> None:
    report = run(snap(pos("AAPL", 40_000), nlv=89_600), baseline_nlv=100_000)
    (v,) = only(report, rules.EMERGENCY_STOP_LOSS)
    assert v.message == (
        "Portfolio down 10.4% from the session's start ($100,000 to $89,600; limit 10%)"
    )
    assert v.symbols == ("AAPL",)
    assert v.value == pytest.approx(0.104)


def test_emergency_stop_loss_names_its_baseline() -> None:
    report = run(snap(nlv=80_000), limits(stop_loss_baseline="week"), baseline_nlv=100_000)
    assert "from the week's start" in only(report, rules.EMERGENCY_STOP_LOSS)[0].message
    report = run(snap(nlv=80_000), limits(stop_loss_baseline="high_water"), baseline_nlv=100_000)
    assert "from its high-water mark" in only(report, rules.EMERGENCY_STOP_LOSS)[0].message


def test_emergency_stop_loss_just_over_does_not_read_as_at_the_limit() -> None:
    report = run(snap(nlv=89_990), baseline_nlv=100_000)
    assert "down 10.01%" in only(report, rules.EMERGENCY_STOP_LOSS)[0].message


@pytest.mark.parametrize("baseline", [None, 0.0, -5.0])
def test_emergency_stop_loss_without_a_baseline_gives_no_verdict(baseline: float | None) -> None:
    report = run(snap(nlv=1.0), baseline_nlv=baseline)
    assert only(report, rules.EMERGENCY_STOP_LOSS) == []
    use = use_of(report, rules.EMERGENCY_STOP_LOSS)
    assert (use.name, use.use) == (rules.UNKNOWN, 0.0)


def test_a_gain_uses_none_of_the_stop_loss() -> None:
    report = run(snap(nlv=120_000), baseline_nlv=100_000)
    use = use_of(report, rules.EMERGENCY_STOP_LOSS)
    assert use.value == 0.0  # up 20% is no drawdown, not -20% of one
    assert use.use == 0.0


# max_daily_loss --------------------------------------------------------------------------------


@BOUNDARY
def test_max_daily_loss_boundary(delta: float, breached: bool) -> None:
    report = run(snap(daily_pnl=-(10_000 + delta)))
    found = only(report, rules.MAX_DAILY_LOSS)
    assert bool(found) is breached
    assert use_of(report, rules.MAX_DAILY_LOSS, "day").value == 10_000 + delta


def test_max_daily_loss_message_and_losers() -> None:
    report = run(
        snap(
            pos("AAPL", 40_000, daily_pnl=-8_000),
            pos("MSFT", 30_000, daily_pnl=-4_500),
            pos("NVDA", 20_000, daily_pnl=1_000),
            daily_pnl=-11_500,
        )
    )
    (v,) = only(report, rules.MAX_DAILY_LOSS)
    assert v.severity is Severity.CRITICAL
    assert v.message == "Day's loss $11,500 is over the $10,000 daily limit (max_daily_loss)"
    assert v.symbols == ("AAPL", "MSFT")


def test_unknown_daily_pnl_gives_no_verdict_and_says_so() -> None:
    report = run(snap(daily_pnl=None))
    assert only(report, rules.MAX_DAILY_LOSS) == []
    use = use_of(report, rules.MAX_DAILY_LOSS)
    assert (use.name, use.value, use.use) == (rules.UNKNOWN, 0.0, 0.0)


def test_a_winning_day_uses_none_of_the_daily_loss() -> None:
    assert use_of(run(snap(daily_pnl=5_000)), rules.MAX_DAILY_LOSS).use == 0.0


# max_position_value ----------------------------------------------------------------------------


@BOUNDARY
@pytest.mark.parametrize("side", [1.0, -1.0], ids=["long", "short"])
def test_max_position_value_boundary(delta: float, breached: bool, side: float) -> None:
    report = run(snap(pos("AAPL", side * (50_000 + delta)), pos("MSFT", 10_000)))
    found = only(report, rules.MAX_POSITION_VALUE)
    assert bool(found) is breached
    use = use_of(report, rules.MAX_POSITION_VALUE)
    assert (use.name, use.value) == ("AAPL", 50_000 + delta)
    if breached:
        assert found[0].symbols == ("AAPL",)
        assert found[0].severity is Severity.HIGH
        assert found[0].message == (
            "AAPL position is worth $50,001, over the $50,000 per-position limit "
            "(max_position_value)"
        )


def test_max_position_value_adds_up_a_symbol_held_in_two_lines() -> None:
    report = run(snap(pos("AAPL", 30_000), pos("AAPL", 30_000)))
    assert only(report, rules.MAX_POSITION_VALUE)[0].value == 60_000


# max_portfolio_value ---------------------------------------------------------------------------


@BOUNDARY
def test_max_portfolio_value_boundary(delta: float, breached: bool) -> None:
    lim = limits(max_portfolio_value=100_000, max_position_value=100_000)
    report = run(snap(pos("AAPL", 40_000), pos("MSFT", -(60_000 + delta))), lim)
    found = only(report, rules.MAX_PORTFOLIO_VALUE)
    assert bool(found) is breached
    assert use_of(report, rules.MAX_PORTFOLIO_VALUE).value == 100_000 + delta
    if breached:
        assert found[0].message == (
            "Gross exposure $100,001 is over the $100,000 limit (max_portfolio_value)"
        )


# max_positions ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("count", "breached"), [(2, False), (3, False), (4, True)])
def test_max_positions_boundary(count: int, breached: bool) -> None:
    held = [pos(f"S{i}", 1_000) for i in range(count)]
    flat = pos("FLAT", 0.0, quantity=0.0)  # a closed line does not count
    report = run(snap(*held, flat), limits(max_positions=3))
    found = only(report, rules.MAX_POSITIONS)
    assert bool(found) is breached
    assert use_of(report, rules.MAX_POSITIONS).value == count
    if breached:
        assert found[0].message == "4 open positions, over the limit of 3 (max_positions)"


# min_cash_reserve ------------------------------------------------------------------------------


@BOUNDARY
def test_min_cash_reserve_boundary(delta: float, breached: bool) -> None:
    report = run(snap(cash=10_000 - delta))
    found = only(report, rules.MIN_CASH_RESERVE)
    assert bool(found) is breached
    use = use_of(report, rules.MIN_CASH_RESERVE)
    assert use.use == pytest.approx(1.0 + delta / 10_000)
    if breached:
        assert found[0].message == "Cash $9,999 is under the $10,000 reserve (min_cash_reserve)"


def test_min_cash_reserve_use_runs_from_twice_the_reserve_to_no_cash() -> None:
    assert use_of(run(snap(cash=20_000)), rules.MIN_CASH_RESERVE).use == 0.0
    assert use_of(run(snap(cash=50_000)), rules.MIN_CASH_RESERVE).use == 0.0
    assert use_of(run(snap(cash=0.0)), rules.MIN_CASH_RESERVE).use == 2.0


def test_a_zero_reserve_still_forbids_negative_cash() -> None:
    lim = limits(min_cash_reserve=0)
    assert only(run(snap(cash=0.0), lim), rules.MIN_CASH_RESERVE) == []
    assert only(run(snap(cash=-1.0), lim), rules.MIN_CASH_RESERVE) != []


# max_position_concentration --------------------------------------------------------------------

ROOMY = {"max_position_value": 1_000_000, "max_portfolio_value": 10_000_000}


@BOUNDARY
def test_max_position_concentration_boundary(delta: float, breached: bool) -> None:
    report = run(
        snap(pos("AAPL", 150_000 + delta), pos("XOM", 10_000, sector="Energy")), limits(**ROOMY)
    )
    found = only(report, rules.MAX_POSITION_CONCENTRATION)
    assert bool(found) is breached
    use = use_of(report, rules.MAX_POSITION_CONCENTRATION, "AAPL")
    assert use.value == (150_000 + delta) / 1_000_000
    if breached:
        assert found[0].symbols == ("AAPL",)
        assert found[0].message == "AAPL is 15.0001% of net liquidation (limit 15%)"


def test_concentration_message_at_a_round_weight() -> None:
    report = run(snap(pos("AAPL", 182_000)), limits(**ROOMY))
    (v,) = only(report, rules.MAX_POSITION_CONCENTRATION)
    assert v.message == "AAPL is 18.2% of net liquidation (limit 15%)"


def test_weights_are_of_gross_exposure_when_net_liquidation_is_not_positive() -> None:
    report = run(
        snap(pos("AAPL", 30_000), pos("MSFT", 10_000, sector="Software"), nlv=-5_000),
        limits(**ROOMY),
    )
    assert report.stock_weights == (("AAPL", 0.75), ("MSFT", 0.25))
    (v, w) = only(report, rules.MAX_POSITION_CONCENTRATION)
    assert "of gross exposure" in v.message
    assert w.symbols == ("MSFT",)


def test_no_positions_no_weights() -> None:
    report = run(snap(nlv=0.0, cash=100_000))
    assert report.stock_weights == ()
    assert report.sector_weights == ()
    assert report.violations == ()


# max_sector_concentration ----------------------------------------------------------------------


@BOUNDARY
def test_max_sector_concentration_boundary(delta: float, breached: bool) -> None:
    report = run(
        snap(pos("AAPL", 100_000), pos("MSFT", 100_000), pos("NVDA", 100_000 + delta)),
        limits(**ROOMY),
    )
    found = only(report, rules.MAX_SECTOR_CONCENTRATION)
    assert bool(found) is breached
    assert use_of(report, rules.MAX_SECTOR_CONCENTRATION, "Technology").value == pytest.approx(
        0.3 + delta / 1_000_000
    )
    if breached:
        assert found[0].symbols == ("AAPL", "MSFT", "NVDA")
        assert found[0].message.startswith("Sector Technology is 30.0001% of net liquidation")
        assert "across AAPL, MSFT, NVDA (limit 30%)" in found[0].message


def test_sector_overrides_take_precedence_and_missing_sectors_are_unknown() -> None:
    report = run(
        snap(
            pos("AAPL", 200_000, sector="Technology"),
            pos("NVDA", 200_000, sector="Technology"),
            pos("XYZ", 50_000, sector=""),
        ),
        limits(**ROOMY, max_position_concentration=0.5, sector_overrides={"NVDA": "Semis"}),
    )
    assert report.sector_weights == (("Semis", 0.2), ("Technology", 0.2), ("Unknown", 0.05))
    assert only(report, rules.MAX_SECTOR_CONCENTRATION) == []
    assert use_of(report, rules.MAX_SECTOR_CONCENTRATION, "Unknown").value == 0.05


def test_weights_are_sorted_largest_first() -> None:
    report = run(
        snap(
            pos("B", 10_000, sector="Energy"),
            pos("A", 30_000),
            pos("C", 20_000, sector="Energy"),
        )
    )
    assert [s for s, _ in report.stock_weights] == ["A", "C", "B"]
    # A tie is broken by name.
    assert report.sector_weights == (("Energy", 0.03), ("Technology", 0.03))


# orphaned_position -----------------------------------------------------------------------------


@pytest.mark.parametrize("untracked", [0, 1, 2])
def test_orphaned_position_counts_untracked(untracked: int) -> None:
    held = [pos("AAPL", 10_000), pos("XYZ", 12_300, quantity=100), pos("ABC", -2_000, quantity=-50)]
    tracked = ["AAPL", "XYZ", "ABC"][: 3 - untracked]
    report = run(snap(*held), tracked=tracked)
    found = only(report, rules.ORPHANED_POSITION)
    assert use_of(report, rules.ORPHANED_POSITION).value == untracked
    assert len(found) == (1 if untracked else 0)
    if untracked == 2:
        assert found[0].severity is Severity.MEDIUM
        assert found[0].symbols == ("XYZ", "ABC")
        assert found[0].message == (
            "2 positions in the account that the strategy does not track: XYZ 100 sh ($12,300), "
            "ABC -50 sh (-$2,000). Review and close, or add to orphan_ignore"
        )


def test_orphan_ignore_silences_a_symbol() -> None:
    report = run(snap(pos("SPY", 10_000)), limits(orphan_ignore=["SPY"]), tracked=[])
    assert only(report, rules.ORPHANED_POSITION) == []


def test_a_tracked_position_that_vanished_is_reported() -> None:
    report = run(snap(pos("AAPL", 10_000)), vanished=["MSFT"])
    (v,) = only(report, rules.ORPHANED_POSITION)
    assert v.symbols == ("MSFT",)
    assert v.message.startswith("1 tracked position gone from the account: MSFT.")
    assert use_of(report, rules.ORPHANED_POSITION).value == 1


def test_an_empty_tracked_list_makes_every_position_an_orphan() -> None:
    report = run(snap(pos("AAPL", 10_000), pos("MSFT", 10_000)), tracked=())
    assert only(report, rules.ORPHANED_POSITION)[0].symbols == ("AAPL", "MSFT")


# stale_price -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("age", "stale"), [(119.0, False), (120.0, False), (121.0, True)])
def test_stale_price_boundary(age: float, stale: bool) -> None:
    report = run(snap(pos("AAPL", 10_000, age_s=age)))
    found = only(report, rules.STALE_PRICE)
    assert bool(found) is stale
    if stale:
        assert found[0].severity is Severity.LOW
        assert found[0].message == "1 price is stale (older than 2m 0s): AAPL 2m 1s old"


def test_a_missing_price_time_or_a_broker_flag_is_stale() -> None:
    report = run(snap(pos("AAPL", 10_000, age_s=None), pos("MSFT", 10_000, stale=True)))
    (v,) = only(report, rules.STALE_PRICE)
    assert v.symbols == ("AAPL", "MSFT")
    assert "AAPL no price yet" in v.message
    assert v.value == 2


# correlated_exposure ---------------------------------------------------------------------------


@BOUNDARY
def test_correlated_exposure_boundary(delta: float, breached: bool) -> None:
    lim = limits(**ROOMY, max_position_concentration=0.5, max_sector_concentration=1.0)
    report = run(
        snap(pos("AAPL", 100_000), pos("MSFT", 300_000 + delta), pos("XOM", 10_000)),
        lim,
        correlated_groups=[("AAPL", "MSFT"), ("GOOG", "META")],
    )
    found = only(report, rules.CORRELATED_EXPOSURE)
    assert bool(found) is breached
    use = use_of(report, rules.CORRELATED_EXPOSURE, "AAPL+MSFT")
    assert use.value == (400_000 + delta) / 1_000_000
    assert use_of(report, rules.CORRELATED_EXPOSURE, "GOOG+META").value == 0.0
    if breached:
        assert found[0].symbols == ("AAPL", "MSFT")
        assert found[0].message == (
            "Correlated group AAPL, MSFT is 40.0001% of net liquidation "
            "(limit 40%, max_correlated_weight)"
        )


def test_a_group_at_exactly_its_limit_is_not_breached_despite_rounding() -> None:
    # 0.1 + 0.3 is 0.4000000000000001 in floats; values are summed before dividing.
    lim = limits(**ROOMY, max_position_concentration=0.5, max_sector_concentration=1.0)
    report = run(
        snap(pos("AAPL", 100_000), pos("MSFT", 300_000)), lim, correlated_groups=[("AAPL", "MSFT")]
    )
    assert only(report, rules.CORRELATED_EXPOSURE) == []


# the report ------------------------------------------------------------------------------------


def test_report_has_one_use_per_limit_and_per_stock_and_sector() -> None:
    report = run(
        snap(pos("AAPL", 10_000), pos("MSFT", 10_000), pos("XOM", 10_000, sector="Energy")),
        correlated_groups=[("AAPL", "MSFT")],
    )
    per_rule: dict[str, list[str]] = {}
    for u in report.uses:
        per_rule.setdefault(u.rule, []).append(u.name)
    assert set(per_rule) == set(rules.RULE_SEVERITY)
    assert sorted(per_rule[rules.MAX_POSITION_CONCENTRATION]) == ["AAPL", "MSFT", "XOM"]
    assert sorted(per_rule[rules.MAX_SECTOR_CONCENTRATION]) == ["Energy", "Technology"]
    assert per_rule[rules.CORRELATED_EXPOSURE] == ["AAPL+MSFT"]
    for rule in set(per_rule) - {
        rules.MAX_POSITION_CONCENTRATION,
        rules.MAX_SECTOR_CONCENTRATION,
        rules.CORRELATED_EXPOSURE,
    }:
        assert len(per_rule[rule]) == 1, rule
    assert all(u.severity is rules.RULE_SEVERITY[u.rule] for u in report.uses)
    assert report.duration_ms > 0
    assert report.timestamp == NOW


def test_violations_come_most_severe_first_and_serialise() -> None:
    report = run(
        snap(pos("AAPL", 60_000, age_s=None), nlv=80_000, cash=5_000, daily_pnl=-20_000),
        baseline_nlv=100_000,
        tracked=[],
    )
    ranks = [v.severity.rank for v in report.violations]
    assert ranks == sorted(ranks)
    assert report.violations[0].severity is Severity.CRITICAL
    data = report.to_dict()
    assert data["overall_risk_score"] == 100.0
    assert {v["rule"] for v in data["violations"]} >= {
        rules.EMERGENCY_STOP_LOSS,
        rules.MAX_DAILY_LOSS,
        rules.MAX_POSITION_VALUE,
        rules.MIN_CASH_RESERVE,
        rules.ORPHANED_POSITION,
        rules.STALE_PRICE,
    }
