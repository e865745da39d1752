"""Which position a max_daily_loss breach closes next."""

from __future__ import annotations

from weekly_er_tui.risk.rules import daily_loss_closing_order, next_daily_loss_closure

from .helpers import limits, pos, snap


def test_losers_first_largest_loss_first_then_the_rest_by_exposure() -> None:
    snapshot = snap(
        pos("SMALL_WIN", 5_000, daily_pnl=300),
        pos("BIG_LOSS", 20_000, daily_pnl=-6_000),
        pos("BIG_WIN", 40_000, daily_pnl=2_000),
        pos("SMALL_LOSS", 30_000, daily_pnl=-1_000),
        pos("FLAT", 0.0, quantity=0.0, daily_pnl=-9_999),  # closed: never proposed
        daily_pnl=-12_000,
    )
    assert daily_loss_closing_order(snapshot, limits()) == [
        "BIG_LOSS",
        "SMALL_LOSS",
        "BIG_WIN",
        "SMALL_WIN",
    ]
    first = next_daily_loss_closure(snapshot)
    assert first is not None and first.symbol == "BIG_LOSS"


def test_unrealized_pnl_ranks_a_position_without_daily_pnl() -> None:
    snapshot = snap(
        pos("A", 10_000, daily_pnl=-500),
        pos("B", 10_000, daily_pnl=None, unrealized=-2_000),
        pos("C", 10_000, daily_pnl=None, unrealized=100),
        daily_pnl=-20_000,
    )
    assert daily_loss_closing_order(snapshot, limits()) == ["B", "A", "C"]


def test_once_the_losers_are_closed_the_rest_go_largest_exposure_first() -> None:
    snapshot = snap(
        pos("WIN_SMALL", 5_000, daily_pnl=100),
        pos("SHORT_BIG", -30_000, daily_pnl=50),
        pos("WIN_MID", 10_000, daily_pnl=10),
        daily_pnl=-11_000,
    )
    nxt = next_daily_loss_closure(snapshot)
    assert nxt is not None and nxt.symbol == "SHORT_BIG"


def test_no_breach_no_order_and_nothing_open_nothing_next() -> None:
    held = pos("A", 10_000, daily_pnl=-10_000)
    assert daily_loss_closing_order(snap(held, daily_pnl=-10_000), limits()) == []  # at, not over
    assert daily_loss_closing_order(snap(held, daily_pnl=None), limits()) == []  # unknown
    assert daily_loss_closing_order(snap(held, daily_pnl=-10_001), limits()) == ["A"]
    assert next_daily_loss_closure(snap(daily_pnl=-50_000)) is None


def test_closing_one_at_a_time_ends_with_everything_closed_if_the_breach_lasts() -> None:
    snapshot = snap(
        pos("A", 10_000, daily_pnl=-4_000),
        pos("B", 10_000, daily_pnl=-8_000),
        pos("C", 10_000, daily_pnl=500),
        daily_pnl=-11_500,
    )
    closed = []
    while (nxt := next_daily_loss_closure(snapshot)) is not None:
        closed.append(nxt.symbol)
        rest = tuple(p for p in snapshot.positions if p.symbol != nxt.symbol)
        snapshot = snap(*rest, daily_pnl=snapshot.daily_pnl)  # the day's loss stays realized
    assert closed == ["B", "A", "C"]
