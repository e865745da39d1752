"""Daily returns, Pearson correlation and the groups that move together."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from weekly_er_tui.risk.correlation import correlated_groups, daily_returns, pearson

BASE = [0.01, -0.02, 0.015, 0.003, -0.007, 0.012, -0.004, 0.009]


def test_daily_returns() -> None:
    assert daily_returns([100.0, 110.0, 99.0]) == pytest.approx([0.1, -0.1])
    assert daily_returns([100.0]) == []
    assert daily_returns([]) == []


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf")])
def test_daily_returns_refuses_a_price_that_is_not_positive(bad: float) -> None:
    with pytest.raises(ValueError, match=r"closes\[1\] is .*: closing prices must be positive"):
        daily_returns([100.0, bad, 101.0])


def test_pearson_of_known_series() -> None:
    assert pearson(BASE, BASE) == pytest.approx(1.0)
    assert pearson(BASE, [-x for x in BASE]) == pytest.approx(-1.0)
    assert pearson(BASE, [2 * x + 0.001 for x in BASE]) == pytest.approx(1.0)
    xs = [1.0, 2.0, 3.0, 4.0, 5.0]
    ys = [2.0, 1.0, 4.0, 3.0, 5.0]
    assert pearson(xs, ys) == pytest.approx(0.8)


def test_pearson_aligns_series_at_their_latest_day() -> None:
    assert pearson([9.0, 9.0, *BASE], BASE) == pytest.approx(1.0)


def test_pearson_has_no_answer_for_short_or_flat_series() -> None:
    assert pearson(BASE[:4], BASE[:4]) is None  # fewer than 5 days
    assert pearson(BASE[:4], BASE[:4], min_observations=3) == pytest.approx(1.0)
    assert pearson(BASE, [0.01] * len(BASE)) is None


def test_groups_are_connected_components_above_the_threshold() -> None:
    noise = [0.004, 0.011, -0.013, 0.02, -0.001, -0.018, 0.006, 0.002]
    returns = {
        "AAPL": BASE,
        "MSFT": [x * 1.1 for x in BASE],
        # NVDA tracks MSFT closely (and so AAPL): one group of three.
        "NVDA": [x * 1.2 + 0.0005 for x in BASE],
        "XOM": noise,
        "CVX": [x * 0.9 for x in noise],
        "GLD": [-x for x in BASE],  # a hedge links nothing
        "NEW": [0.01, 0.02],  # too short to say
    }
    assert correlated_groups(returns, 0.7) == [("AAPL", "MSFT", "NVDA"), ("CVX", "XOM")]


def test_a_chain_links_ends_that_are_not_correlated_themselves() -> None:
    a = [1.0, 0.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.0]
    c = [0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 1.0, 0.0]
    b = [x + y for x, y in zip(a, c, strict=True)]
    r_ab, r_bc, r_ac = pearson(a, b), pearson(b, c), pearson(a, c)
    assert r_ab is not None and r_bc is not None and r_ac is not None
    threshold = min(r_ab, r_bc) - 0.01
    assert r_ac < threshold  # A and C are not linked directly
    assert correlated_groups({"A": a, "B": b, "C": c}, threshold) == [("A", "B", "C")]


def test_the_threshold_is_strict() -> None:
    xs = [1.0, 2.0, 3.0, 4.0, 5.0]
    ys = [2.0, 1.0, 4.0, 3.0, 5.0]  # r = 0.8
    r = pearson(xs, ys)
    assert r is not None
    assert correlated_groups({"X": xs, "Y": ys}, r) == []
    assert correlated_groups({"X": xs, "Y": ys}, r - 1e-9) == [("X", "Y")]


series = st.lists(st.floats(-0.2, 0.2), min_size=5, max_size=30)


@settings(max_examples=150, deadline=None)
@given(series, series)
def test_pearson_is_symmetric_and_bounded(xs: list[float], ys: list[float]) -> None:
    r, r_back = pearson(xs, ys), pearson(ys, xs)
    assert (r is None) is (r_back is None)
    if r is not None and r_back is not None:
        assert math.isclose(r, r_back, abs_tol=1e-12)
        assert -1.0 <= r <= 1.0


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.sampled_from("ABCDEFG"), series, max_size=7), st.floats(-0.5, 0.99))
def test_groups_partition_the_linked_symbols(
    returns: dict[str, list[float]], threshold: float
) -> None:
    groups = correlated_groups(returns, threshold)
    seen = [s for g in groups for s in g]
    assert len(seen) == len(set(seen))  # a symbol is in one group at most
    assert all(len(g) >= 2 and list(g) == sorted(g) for g in groups)
    assert groups == sorted(groups)
    for group in groups:
        for s in group:  # every member is linked to some other member
            assert any(
                (r := pearson(returns[s], returns[t])) is not None and r > threshold
                for t in group
                if t != s
            )


def test_tiny_returns_correlate_without_dividing_by_zero() -> None:
    # Found by hypothesis: sxx * syy of returns near 1e-106 underflows to zero although neither
    # series is flat, and the correlation divided by zero.
    tiny = [0.0, 0.0, 0.0, 0.0, 8.605460694954848e-106]
    assert pearson(tiny, tiny, min_observations=2) == 1.0
