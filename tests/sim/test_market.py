"""The simulated market: deterministic prices, NYSE sessions, bars consistent with volatility."""

from __future__ import annotations

import itertools
import math
import random
import statistics
from datetime import UTC, datetime, timedelta

import pytest

from weekly_er_tui.sim.market import Instrument, Market, bar_size_seconds, duration_seconds
from weekly_er_tui.sim.nyse import nyse_sessions

START = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)  # Monday 10:00 ET
T0 = START.timestamp()


def make_market(seed: int = 1, start: datetime = START) -> Market:
    return Market(
        [Instrument("AAPL", 200.0, 0.30, sector="Technology"),
         Instrument("MSFT", 400.0, 0.25, sector="Technology"),
         Instrument("XOM", 110.0, 0.40, sector="Energy")],
        seed, start, nyse_sessions(),
    )  # fmt: skip


def et(y: int, mo: int, d: int, h: int, mi: int = 0) -> float:
    from weekly_er_tui.clock import ET

    return datetime(y, mo, d, h, mi, tzinfo=ET).timestamp()


def test_prices_are_a_function_of_seed_symbol_and_time_only() -> None:
    times = [T0 + k * 37.0 for k in range(2000)]
    a = make_market()
    expected = [a.price("AAPL", t) for t in times]
    b = make_market()
    shuffled = times[:]
    random.Random(3).shuffle(shuffled)
    got = {t: b.price("AAPL", t) for t in shuffled}  # sampled in another order
    assert [got[t] for t in times] == expected
    assert [make_market(seed=2).price("AAPL", t) for t in times] != expected
    assert len(set(expected)) > 100  # it moves


def test_scenario_price_is_the_previous_close_and_nights_are_flat() -> None:
    m = make_market()
    assert m.prev_close("AAPL", T0) == 200.0
    assert m.price("AAPL", et(2026, 11, 20, 16, 30)) == 200.0  # Friday evening
    assert m.price("AAPL", et(2026, 11, 22, 12)) == 200.0  # Sunday
    close = m.session_close("AAPL", m.sessions.trading_day(T0))
    assert m.price("AAPL", et(2026, 11, 23, 16, 0)) == close
    assert m.price("AAPL", et(2026, 11, 23, 23, 0)) == close
    assert m.price("AAPL", et(2026, 11, 24, 9, 29)) == close
    assert m.prev_close("AAPL", et(2026, 11, 24, 11)) == close


def test_thanksgiving_week_sessions() -> None:
    s = nyse_sessions()
    friday = s.trading_day(et(2026, 11, 27, 9))
    assert s.dates[friday].isoformat() == "2026-11-27"
    assert s.closes[friday] == et(2026, 11, 27, 13)  # early close
    assert s.dates[friday - 1].isoformat() == "2026-11-25"  # Thursday is a holiday
    assert not s.is_open(et(2026, 11, 26, 11))
    assert not s.is_open(et(2026, 11, 27, 13, 30))
    m = make_market()
    assert m.price("AAPL", et(2026, 11, 27, 13)) == m.price("AAPL", et(2026, 11, 27, 15))


def test_quotes_straddle_the_last_price() -> None:
    m = make_market()
    for k in range(50):
        q = m.quote("MSFT", T0 + 61 * k)
        assert q.bid < q.last < q.ask
        assert q.ask - q.bid == pytest.approx(2 * max(0.01, round(q.last * 0.0001, 2)), abs=1e-9)
        assert q.bid_size >= 100 and q.ask_size >= 100


def test_daily_bars_follow_the_annual_volatility() -> None:
    m = make_market()
    bars = m.daily_bars("XOM", T0 - 3 * 365 * 86400, T0)
    assert 740 <= len(bars) <= 760
    closes = [b.close for b in bars]
    returns = [math.log(b / a) for a, b in itertools.pairwise(closes)]
    vol = statistics.pstdev(returns) * math.sqrt(252)
    assert 0.40 * 0.85 < vol < 0.40 * 1.15
    for b in bars:
        assert b.low <= min(b.open, b.close) <= max(b.open, b.close) <= b.high
        assert b.volume > 0
    assert bars[-2].close == 110.0


def test_intraday_bars_agree_with_the_daily_bar() -> None:
    m = make_market()
    end = et(2026, 11, 23, 16, 0)
    day = m.daily_bars("AAPL", end - 3600 * 12, end)[-1]
    hours = m.intraday_bars("AAPL", et(2026, 11, 23, 9, 30), end, 3600)
    assert len(hours) == 7  # 09:30 .. 15:30
    assert hours[0].open == day.open and hours[-1].close == day.close
    assert max(b.high for b in hours) == day.high and min(b.low for b in hours) == day.low


def test_price_points_cover_every_step_and_shock() -> None:
    m = make_market()
    points = m.price_points("AAPL", T0, T0 + 60)
    assert [t for t, _ in points] == [T0 + 5 * k for k in range(1, 13)]
    assert all(p == m.price("AAPL", t) for t, p in points)
    m.shock(["AAPL"], -10.0, T0 + 7)
    points = m.price_points("AAPL", T0, T0 + 20)
    assert (T0 + 7, m.price("AAPL", T0 + 7)) in points
    assert m.price("AAPL", T0 + 7) == pytest.approx(m.price("AAPL", T0 + 6) * 0.9, abs=0.011)
    # overnight: no points until the next open
    close = et(2026, 11, 23, 16)
    overnight = m.price_points("AAPL", close, et(2026, 11, 24, 9, 30) - 1)
    assert overnight == []


def test_shocks_stack_and_apply_from_their_instant() -> None:
    m = make_market()
    before = m.price("XOM", T0)
    m.shock(["XOM"], 10.0, T0 + 1)
    m.shock(["XOM"], -50.0, T0 + 2)
    assert m.price("XOM", T0) == before
    assert m.factor("XOM", T0 + 1.5) == pytest.approx(1.1)
    assert m.factor("XOM", T0 + 3) == pytest.approx(0.55)
    with pytest.raises(ValueError, match="non-positive"):
        m.shock(["XOM"], -100.0, T0 + 4)


def test_ib_duration_and_bar_size_strings() -> None:
    assert duration_seconds("30 D") == timedelta(days=30)
    assert duration_seconds("2 W") == timedelta(weeks=2)
    assert duration_seconds("1 Y") == timedelta(days=365)
    assert bar_size_seconds("1 day") == 86400 and bar_size_seconds("5 mins") == 300
    assert bar_size_seconds("1 hour") == 3600 and bar_size_seconds("30 secs") == 30
    for bad in ("", "D 30", "3 fortnights"):
        with pytest.raises(ValueError):
            duration_seconds(bad) if "fortnight" not in bad else bar_size_seconds(bad)


def test_ib_end_date_times() -> None:
    from weekly_er_tui.sim.market import parse_ib_datetime

    assert parse_ib_datetime("20261123 15:00:00 UTC") == T0
    assert parse_ib_datetime("20261123-15:00:00") == T0
    assert parse_ib_datetime("20261123 10:00:00 US/Eastern") == T0
    assert parse_ib_datetime("20261123 10:00:00") == T0  # no zone: US Eastern
    assert parse_ib_datetime("20261123") == et(2026, 11, 23, 23, 59) + 59
    with pytest.raises(ValueError):
        parse_ib_datetime("20261123 10:00:00 Mars/Olympus")


def test_weekly_bars_aggregate_daily_ones() -> None:
    from weekly_er_tui.sim.market import aggregate_bars

    m = make_market()
    daily = m.daily_bars("AAPL", T0 - 28 * 86400, T0)
    weekly = aggregate_bars(daily, 7 * 86400)
    assert len(weekly) in (4, 5)
    assert weekly[-1].close == daily[-1].close
    assert max(b.high for b in weekly) == max(b.high for b in daily)
    assert sum(b.volume for b in weekly) == sum(b.volume for b in daily)
