"""Which positions a max_daily_loss breach closes, and how far the day may fall before HALT."""

from __future__ import annotations

import pytest

from weekly_er_tui.risk.rules import daily_loss_halt_line, daily_loss_losers

from .helpers import limits, pos, snap


def test_todays_losers_largest_day_loss_first_and_never_the_winners() -> None:
    snapshot = snap(
        pos("SMALL_WIN", 5_000, daily_pnl=300),
        pos("BIG_LOSS", 20_000, daily_pnl=-6_000),
        pos("BIG_WIN", 40_000, daily_pnl=2_000),
        pos("SMALL_LOSS", 30_000, daily_pnl=-1_000),
        pos("FLAT", 0.0, quantity=0.0, daily_pnl=-9_999),  # closed: never proposed
        daily_pnl=-12_000,
    )
    assert [p.symbol for p in daily_loss_losers(snapshot)] == ["BIG_LOSS", "SMALL_LOSS"]


def test_a_position_without_its_day_pnl_is_ranked_by_its_unrealized() -> None:
    snapshot = snap(
        pos("A", 10_000, daily_pnl=-500),
        pos("B", 10_000, daily_pnl=None, unrealized=-2_000),
        pos("C", 10_000, daily_pnl=None, unrealized=100),
        daily_pnl=-20_000,
    )
    assert [p.symbol for p in daily_loss_losers(snapshot)] == ["B", "A"]


def test_ranked_by_todays_pnl_not_the_loss_since_entry() -> None:
    snapshot = snap(
        pos("OLD_LOSER_UP_TODAY", 10_000, daily_pnl=200, unrealized=-3_000),
        pos("DOWN_TODAY", 10_000, daily_pnl=-100, unrealized=500),
        daily_pnl=-11_000,
    )
    assert [p.symbol for p in daily_loss_losers(snapshot)] == ["DOWN_TODAY"]


def test_the_halt_line_is_the_breach_minus_the_margin_of_the_limit() -> None:
    lim = limits(max_daily_loss=2_000, daily_loss_halt_margin=0.5)
    assert daily_loss_halt_line(-2_500, lim) == pytest.approx(-3_500)
    assert daily_loss_halt_line(-2_500, limits(max_daily_loss=2_000)) == pytest.approx(-3_500)
