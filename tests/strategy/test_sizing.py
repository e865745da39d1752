from __future__ import annotations

import math
import statistics
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from weekly_er_tui.config import StrategyConfig
from weekly_er_tui.strategy.calendars import EarningsRow
from weekly_er_tui.strategy.sizing import (
    VolatilityUnavailable,
    daily_volatility,
    fixed_shares,
    size_entry,
    volatility_notional,
)

ROW = EarningsRow("AAPL", date(2026, 11, 24), "BMO", "BUY", None, 2)


def row(notional: float | None = None) -> EarningsRow:
    return EarningsRow("AAPL", date(2026, 11, 24), "BMO", "BUY", notional, 2)


# Alternating +1 % / -1 % log moves: every return is +/-0.01, so the stdev is known exactly.
def zigzag(n: int, start: float = 100.0) -> list[float]:
    closes = [start]
    for i in range(n):
        closes.append(closes[-1] * math.exp(0.01 if i % 2 == 0 else -0.01))
    return closes


def test_fixed_shares_whole_and_floored() -> None:
    assert fixed_shares(10_000, 150.0) == 66
    assert fixed_shares(10_000, 100.0) == 100
    assert fixed_shares(10_000, 10_001.0) == 0
    assert fixed_shares(0.3, 0.1) == 2  # 0.1 * 3 > 0.3 in floating point: never over
    assert fixed_shares(10_000, 0.0) == 0
    assert fixed_shares(10_000, -5.0) == 0
    assert fixed_shares(10_000, math.nan) == 0
    assert fixed_shares(-1, 10.0) == 0


def test_daily_volatility_of_a_known_series() -> None:
    closes = zigzag(20)
    returns = [0.01 if i % 2 == 0 else -0.01 for i in range(20)]
    assert daily_volatility(closes) == pytest.approx(statistics.stdev(returns), rel=1e-9)
    assert daily_volatility(closes) == pytest.approx(0.0102598, rel=1e-5)


def test_daily_volatility_uses_only_the_last_20_returns() -> None:
    wild = [100.0, 200.0, 50.0, 300.0, 10.0]  # long ago: must not count
    assert daily_volatility(wild + zigzag(20)) == pytest.approx(daily_volatility(zigzag(20)))


def test_daily_volatility_lookback() -> None:
    closes = [100.0, 200.0, *zigzag(10)]
    assert daily_volatility(closes, lookback=10) == pytest.approx(daily_volatility(zigzag(10)))


def test_daily_volatility_needs_enough_good_closes() -> None:
    with pytest.raises(VolatilityUnavailable, match="10 daily closes; at least 11"):
        daily_volatility(zigzag(9))
    with pytest.raises(VolatilityUnavailable, match="not a positive price"):
        daily_volatility([*zigzag(15), 0.0])


def test_volatility_notional() -> None:
    assert volatility_notional(200, 0.02, 50_000) == pytest.approx(10_000)
    assert volatility_notional(200, 0.001, 50_000) == 50_000  # capped
    with pytest.raises(VolatilityUnavailable):
        volatility_notional(200, 0.0, 50_000)


def test_size_entry_fixed() -> None:
    s = size_entry(ROW, 150.0, StrategyConfig(), 50_000)
    assert (s.quantity, s.notional, s.note) == (66, 10_000, "")


def test_size_entry_row_notional_overrides_and_is_capped() -> None:
    s = size_entry(row(20_000), 100.0, StrategyConfig(), 50_000)
    assert (s.quantity, s.notional) == (200, 20_000)
    assert "from the calendar" in s.note
    s = size_entry(row(80_000), 100.0, StrategyConfig(), 50_000)
    assert (s.quantity, s.notional) == (500, 50_000)
    assert "capped at max_position_value 50,000" in s.note


def test_size_entry_cap_applies_to_the_configured_notional() -> None:
    s = size_entry(ROW, 100.0, StrategyConfig(notional_per_position=10_000), 4_000)
    assert (s.quantity, s.notional) == (40, 4_000)


def test_size_entry_price_too_high_says_so() -> None:
    s = size_entry(ROW, 12_000.0, StrategyConfig(), 50_000)
    assert s.quantity == 0
    assert "one share at 12,000.00 costs more than 10,000: zero shares" in s.note


def test_size_entry_without_price_decides_the_notional_only() -> None:
    s = size_entry(ROW, None, StrategyConfig(), 50_000)
    assert (s.quantity, s.notional) == (0, 10_000)
    assert "no price yet" in s.note


def test_size_entry_volatility_scaled() -> None:
    cfg = StrategyConfig(sizing="volatility", risk_budget=200)
    closes = zigzag(20)
    vol = daily_volatility(closes)
    s = size_entry(ROW, 50.0, cfg, 50_000, closes)
    assert s.notional == pytest.approx(200 / vol)  # about 19,493
    assert s.quantity == math.floor(200 / vol / 50.0)
    assert "volatility 1.03%/day" in s.note


def test_size_entry_volatility_capped() -> None:
    cfg = StrategyConfig(sizing="volatility", risk_budget=2_000)
    s = size_entry(ROW, 50.0, cfg, 50_000, zigzag(20))
    assert (s.quantity, s.notional) == (1_000, 50_000)
    assert "capped" in s.note


@pytest.mark.parametrize("closes", [None, [100.0, 101.0]])
def test_size_entry_volatility_unavailable_falls_back_to_fixed(
    closes: list[float] | None,
) -> None:
    cfg = StrategyConfig(sizing="volatility", notional_per_position=8_000)
    s = size_entry(ROW, 100.0, cfg, 50_000, closes)
    assert (s.quantity, s.notional) == (80, 8_000)
    assert "volatility unavailable" in s.note and "fixed notional used" in s.note


def test_size_entry_flat_series_falls_back_to_fixed() -> None:
    cfg = StrategyConfig(sizing="volatility")
    s = size_entry(ROW, 100.0, cfg, 50_000, [100.0] * 21)
    assert s.notional == 10_000 and "volatility unavailable" in s.note


def test_size_entry_respects_the_volatility_lookback() -> None:
    cfg = StrategyConfig(sizing="volatility", volatility_lookback=10)
    closes = [100.0, 300.0, 30.0, *zigzag(10)]
    s = size_entry(ROW, 10.0, cfg, 1e9, closes)
    assert s.notional == pytest.approx(200 / daily_volatility(zigzag(10)))


money = st.floats(min_value=0.01, max_value=1e8, allow_nan=False, allow_infinity=False)


@given(notional=money, cap=money, price=st.floats(min_value=1e-4, max_value=1e6))
def test_never_more_than_the_notional_or_the_cap(notional: float, cap: float, price: float) -> None:
    s = size_entry(row(notional), price, StrategyConfig(), cap)
    assert isinstance(s.quantity, int) and s.quantity >= 0
    assert s.quantity * price <= min(notional, cap)
    # Whole shares, rounded down: one more share would go over.
    assert (s.quantity + 1) * price > min(notional, cap)


@given(
    closes=st.lists(st.floats(min_value=1.0, max_value=1e4), min_size=11, max_size=40),
    budget=money,
    cap=money,
    price=st.floats(min_value=1e-2, max_value=1e5),
)
def test_volatility_sizing_never_exceeds_the_cap(
    closes: list[float], budget: float, cap: float, price: float
) -> None:
    s = size_entry(ROW, price, StrategyConfig(sizing="volatility", risk_budget=budget), cap, closes)
    assert s.notional <= cap
    assert s.quantity * price <= s.notional
