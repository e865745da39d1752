"""The cockpit's pure parts: figures against limits, formatting, the banner's words, the bars."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from tests.ui.hand_states import (
    DEMO_LIMITS,
    halted_after_emergency,
    normal_session,
    reconnecting_session,
    sector_over_limit,
)
from weekly_er_tui.model import ConnectionState, Severity, TradingState, Violation
from weekly_er_tui.risk import rules
from weekly_er_tui.ui import figures
from weekly_er_tui.ui import formatting as fmt
from weekly_er_tui.ui.figures import Level
from weekly_er_tui.ui.widgets.banner import banner_lines
from weekly_er_tui.ui.widgets.bars import limit_bar


@pytest.mark.parametrize(
    ("use", "level"),
    [(0.0, Level.OK), (0.79, Level.OK), (0.8, Level.NEAR), (1.0, Level.NEAR), (1.01, Level.OVER)],
)
def test_levels(use: float, level: Level) -> None:
    assert figures.level_of(use) is level


def test_risk_figures_prefer_the_engines_measure() -> None:
    f = figures.risk_figures(halted_after_emergency(), DEMO_LIMITS)
    assert f is not None
    assert f.daily_loss.value == pytest.approx(11_850)
    assert f.daily_loss.level is Level.OVER
    assert f.drawdown.value == pytest.approx(0.0474)  # the engine's baseline, not derived
    assert f.positions.value == 3
    assert f.risk_score == 100


def test_risk_figures_without_a_safety_report_are_derived() -> None:
    state = replace(halted_after_emergency(), safety=None)
    f = figures.risk_figures(state, DEMO_LIMITS)
    assert f is not None
    assert f.daily_loss.value == pytest.approx(11_850)
    assert f.daily_loss.use == pytest.approx(1.185)
    # From the session's start: 11,850 lost out of 238,150 + 11,850.
    assert f.drawdown.value == pytest.approx(11_850 / 250_000)
    assert f.cash.limit == DEMO_LIMITS.min_cash_reserve
    assert f.risk_score is None


def test_cash_use_is_one_at_the_reserve_and_more_below() -> None:
    assert figures.cash_use(20_000, 10_000) == 0
    assert figures.cash_use(10_000, 10_000) == 1
    assert figures.cash_use(5_000, 10_000) == 1.5


def test_concentration_without_a_report_matches_the_report() -> None:
    state = sector_over_limit()
    with_report = figures.sector_concentration(state, DEMO_LIMITS)
    derived = figures.sector_concentration(replace(state, safety=None), DEMO_LIMITS)
    assert [(g.name, round(g.value, 6)) for g in with_report] == [
        (g.name, round(g.value, 6)) for g in derived
    ]
    assert with_report[0].name == "Technology" and with_report[0].level is Level.OVER
    stocks = figures.stock_concentration(replace(state, safety=None), DEMO_LIMITS)
    assert stocks[0].name == "NVDA" and stocks[0].level is Level.OVER


def test_score_words() -> None:
    assert [figures.score_word(s) for s in (0, 39, 40, 69, 70, 100)] == [
        "LOW", "LOW", "ELEVATED", "ELEVATED", "HIGH", "HIGH",
    ]  # fmt: skip


def test_formatting_carries_signs_and_never_minus_zero() -> None:
    assert fmt.signed_money(1234.4) == "+1,234"
    assert fmt.signed_money(-1234.6) == "-1,235"
    assert fmt.signed_money(-0.2) == "0"
    assert fmt.money(-0.2) == "0"
    assert fmt.signed_pct(-0.0004) == "0.0%"
    assert fmt.pct(0.1234) == "12.3%"
    assert fmt.compact_money(10_000) == "10k"
    assert fmt.compact_money(1_250_000) == "1.25M"
    assert fmt.duration(4) == "4s"
    assert fmt.duration(125) == "2m05s"
    assert fmt.duration(3720) == "1h02m"
    assert fmt.short_sector("Consumer Discretionary") == "Cons Discr"
    assert fmt.fit("Technology Hardware", 10) == "Technolog…"


def test_the_clock_reads_in_new_york_whatever_the_zone() -> None:
    assert fmt.et_clock(datetime(2026, 11, 23, 15, 30, 5, tzinfo=UTC)) == "Mon 23 Nov 10:30:05 ET"
    # Summer time: New York is UTC-4.
    assert fmt.et_time(datetime(2026, 7, 1, 18, 0, tzinfo=UTC)) == "14:00:00"


def test_the_banner_says_what_is_wrong_most_urgent_first() -> None:
    assert banner_lines(normal_session()) == ()
    labels = [line.label for line in banner_lines(halted_after_emergency())]
    assert labels == ["FLATTEN IN PROGRESS", "HALTED", "LIMIT BREACHED"]
    queued = banner_lines(reconnecting_session(flatten_pending=True))
    assert [(line.level, line.label) for line in queued] == [
        ("danger", "FLATTEN QUEUED"),
        ("warning", "CONNECTION LOST"),
    ]
    assert "runs on reconnect" in queued[0].text


def test_the_banner_caps_its_lines() -> None:
    state = replace(
        halted_after_emergency(),
        connection=replace(normal_session().connection, state=ConnectionState.FAILED),
        strategy_error="calendar file missing",
    )
    lines = banner_lines(state)
    assert len(lines) == 3
    assert lines[-1].text.startswith("and ")


def test_paused_and_reducing_are_warnings() -> None:
    for trading_state in (TradingState.PAUSED, TradingState.REDUCING):
        lines = banner_lines(replace(normal_session(), trading_state=trading_state))
        assert [(line.level, line.label) for line in lines] == [("warning", trading_state.value)]


def test_medium_violations_are_warnings_and_low_ones_stay_off_the_banner() -> None:
    low = Violation("stale_price", Severity.LOW, 1, 1, "AAPL price is 3m old")
    state = replace(
        sector_over_limit(),
        safety=replace(
            sector_over_limit().safety, violations=(*sector_over_limit().safety.violations, low)
        ),
    )  # type: ignore[union-attr]
    labels = [(line.level, line.label) for line in banner_lines(state)]
    assert labels == [("warning", "OVER LIMIT"), ("warning", "OVER LIMIT")]


@pytest.mark.parametrize(
    ("use", "expected"),
    [
        (0.0, "········┃·"),
        (0.5, "████····┃·"),
        (1.0, "████████┃·"),
        (1.2, "████████┃█"),
        (2.0, "████████┃»"),
    ],
)
def test_limit_bar_glyphs(use: float, expected: str) -> None:
    assert limit_bar(use, 10).plain == expected


def test_drawdown_is_never_negative_when_the_account_is_up() -> None:
    # As the trader saw it: baseline 244,011, net liquidation 245,251 (day P&L +1,240); the
    # rules measure (244,011 - 245,251) / 244,011 = -0.5%: the account is up, not drawn down.
    state = halted_after_emergency()
    assert state.safety is not None
    uses = tuple(
        replace(u, value=(244_011 - 245_251) / 244_011, use=0.0)
        if u.rule == rules.EMERGENCY_STOP_LOSS else u
        for u in state.safety.uses
    )
    state = replace(state, safety=replace(state.safety, uses=uses))
    f = figures.risk_figures(state, DEMO_LIMITS)
    assert f is not None
    assert f.drawdown.value == 0.0 and fmt.pct(f.drawdown.value) == "0.0%"
    derived = replace(state, safety=None, portfolio=replace(
        state.portfolio, net_liquidation=245_251, daily_pnl=1_240))
    f = figures.risk_figures(derived, DEMO_LIMITS)
    assert f is not None and f.drawdown.value == 0.0


def test_no_figures_before_the_first_account_data() -> None:
    # Before the first connect there is no account: not cash 0 OVER, drawdown 0.0%, 0 positions.
    before = replace(normal_session(), portfolio=None, safety=None)
    assert figures.risk_figures(before, DEMO_LIMITS) is None
