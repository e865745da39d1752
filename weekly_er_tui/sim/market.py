"""The simulated market: per-symbol prices as a deterministic function of (seed, symbol, time).

Each symbol follows a random walk in log price that moves only during NYSE regular sessions, in
fixed steps of `STEP_SECONDS` of session time, plus an overnight gap at each open. A session's
increments come from a generator seeded by (seed, symbol, session date), and the intraday path is
a Brownian bridge between the open and the close, so:

- a price depends only on the seed, the symbol, the instant and the scenario's anchor (the
  scenario price is the close of the last session before the gateway's start), never on clock
  speed or on how often it is sampled;
- a session's close can be computed without its intraday path (cheap daily history);
- annual volatility is honoured: a session's variance is volatility**2 / 252, a fifth of it in the
  overnight gap.

Price shocks multiply a symbol's price from an instant on.
"""

from __future__ import annotations

import bisect
import math
import zlib
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from weekly_er_tui.clock import ET
from weekly_er_tui.sim.nyse import Sessions

STEP_SECONDS = 5
TRADING_DAYS = 252
GAP_SHARE = 0.2
FULL_SESSION_SECONDS = 23_400

FloatArray = npt.NDArray[np.float64]


def default_con_id(symbol: str) -> int:
    """A stable contract id for a symbol (the same in every scenario and run)."""
    return 100_000_000 + zlib.crc32(symbol.encode()) % 800_000_000


@dataclass(slots=True)
class Instrument:
    """A stock the simulator knows: what contract details and quotes are made of."""

    symbol: str
    price: float  # the close of the last session before the gateway starts
    volatility: float  # annualised, e.g. 0.30
    sector: str = "Unknown"
    industry: str = ""
    subcategory: str = ""
    exchange: str = "NYSE"  # primary exchange
    name: str = ""
    con_id: int = 0
    currency: str = "USD"
    avg_volume: float = 2_000_000.0

    def __post_init__(self) -> None:
        if not self.con_id:
            self.con_id = default_con_id(self.symbol)
        if not self.name:
            self.name = f"{self.symbol} Inc"


@dataclass(frozen=True, slots=True)
class Quote:
    last: float
    bid: float
    ask: float
    bid_size: float
    ask_size: float
    last_size: float
    volume: float


@dataclass(frozen=True, slots=True)
class Bar:
    time: int  # epoch seconds of the bar's start (daily bars: the session's open)
    session: int  # session index
    open: float
    high: float
    low: float
    close: float
    volume: float


@dataclass(slots=True)
class _Shocks:
    times: list[float] = field(default_factory=list)
    factors: list[float] = field(default_factory=list)  # cumulative product after each shock

    def factor(self, t: float) -> float:
        i = bisect.bisect_right(self.times, t)
        return self.factors[i - 1] if i else 1.0


def half_spread(price: float) -> float:
    return max(0.01, round(price * 0.0001, 2))


def round_price(x: float) -> float:
    return round(x, 2) if x >= 1 else round(x, 4)


class _SymbolPath:
    """The log-price walk of one symbol."""

    def __init__(
        self, inst: Instrument, seed: int, sessions: Sessions, anchor: int, step: int
    ) -> None:
        self.inst = inst
        self.sessions = sessions
        self.step = step
        self.key = zlib.crc32(inst.symbol.encode())
        self.seed = seed
        daily_var = inst.volatility**2 / TRADING_DAYS
        self.gap_sigma = math.sqrt(daily_var * GAP_SHARE)
        self.step_sigma = math.sqrt(daily_var * (1 - GAP_SHARE) * step / FULL_SESSION_SECONDS)
        # close level of session (anchor - 1) is the scenario price
        self._close_level: dict[int, float] = {anchor - 1: math.log(inst.price)}
        self._moves: dict[int, tuple[float, float]] = {}
        self._paths: OrderedDict[int, FloatArray] = OrderedDict()
        self._ohlc: dict[int, tuple[float, float, float, float]] = {}

    def steps_in(self, i: int) -> int:
        length = self.sessions.closes[i] - self.sessions.opens[i]
        return max(1, -(-length // self.step))

    def moves(self, i: int) -> tuple[float, float]:
        """(overnight gap, open-to-close move) of session i, in log price."""
        m = self._moves.get(i)
        if m is None:
            ordinal = self.sessions.dates[i].toordinal()
            rng = np.random.default_rng([self.seed, self.key, ordinal])
            g, d = rng.standard_normal(2)
            n = self.steps_in(i)
            m = (float(g) * self.gap_sigma, float(d) * self.step_sigma * math.sqrt(n))
            self._moves[i] = m
        return m

    def close_level(self, i: int) -> float:
        cached = self._close_level.get(i)
        if cached is not None:
            return cached
        known = list(self._close_level)
        # walk from the nearest known close
        nearest = min(known, key=lambda k: abs(k - i))
        level = self._close_level[nearest]
        if i > nearest:
            for k in range(nearest + 1, i + 1):
                g, d = self.moves(k)
                level += g + d
                self._close_level[k] = level
        else:
            for k in range(nearest, i, -1):
                g, d = self.moves(k)
                level -= g + d
                self._close_level[k - 1] = level
        return level

    def open_level(self, i: int) -> float:
        return self.close_level(i - 1) + self.moves(i)[0]

    def path(self, i: int) -> FloatArray:
        """Log levels at the session's step boundaries: [open, ..., last step, close]."""
        cached = self._paths.get(i)
        if cached is not None:
            self._paths.move_to_end(i)
            return cached
        n = self.steps_in(i)
        ordinal = self.sessions.dates[i].toordinal()
        rng = np.random.default_rng([self.seed, self.key, ordinal, 1])
        w = np.empty(n + 1)
        w[0] = 0.0
        np.cumsum(rng.standard_normal(n) * self.step_sigma, out=w[1:])
        frac = np.arange(n + 1, dtype=np.float64) / n
        total = self.moves(i)[1]
        p: FloatArray = self.open_level(i) + w - frac * (w[n] - total)
        self._paths[i] = p
        if len(self._paths) > 6:
            self._paths.popitem(last=False)
        return p

    def step_index(self, i: int, t: float) -> int:
        """Index into path(i) of the level in force at t (t within or after session i)."""
        o, c = self.sessions.opens[i], self.sessions.closes[i]
        if t >= c:
            return self.steps_in(i)
        return max(0, int((t - o) // self.step))

    def base_level(self, t: float) -> float:
        s = self.sessions
        i = s.trading_day(t)
        if t < s.opens[i]:
            return self.close_level(i - 1)
        return float(self.path(i)[self.step_index(i, t)])

    def base_ohlc(self, i: int) -> tuple[float, float, float, float]:
        cached = self._ohlc.get(i)
        if cached is None:
            p = np.exp(self.path(i))
            cached = (float(p[0]), float(p.max()), float(p.min()), float(p[-1]))
            self._ohlc[i] = cached
        return cached


class Market:
    """Prices, quotes, bars and reference data for the scenario's symbols."""

    def __init__(
        self,
        instruments: list[Instrument],
        seed: int,
        start: datetime,
        sessions: Sessions,
        step: int = STEP_SECONDS,
    ) -> None:
        self.sessions = sessions
        self.step = step
        self.seed = seed
        self.start = start.timestamp()
        self.anchor = sessions.trading_day(self.start)
        self.instruments: dict[str, Instrument] = {i.symbol: i for i in instruments}
        self.by_con_id: dict[int, str] = {i.con_id: i.symbol for i in instruments}
        self._paths = {
            i.symbol: _SymbolPath(i, seed, sessions, self.anchor, step) for i in instruments
        }
        self._shocks: dict[str, _Shocks] = {i.symbol: _Shocks() for i in instruments}

    # reference data

    def resolve(self, symbol: str = "", con_id: int = 0) -> Instrument | None:
        if con_id:
            sym = self.by_con_id.get(con_id)
            return self.instruments.get(sym) if sym else None
        return self.instruments.get(symbol.upper())

    def symbols_in_sector(self, sector: str) -> list[str]:
        want = sector.casefold()
        return [s for s, i in self.instruments.items() if i.sector.casefold() == want]

    # prices

    def factor(self, symbol: str, t: float) -> float:
        return self._shocks[symbol].factor(t)

    def price(self, symbol: str, t: float) -> float:
        """The last trade price at epoch second `t`."""
        level = self._paths[symbol].base_level(t)
        return round_price(math.exp(level) * self.factor(symbol, t))

    def quote(self, symbol: str, t: float) -> Quote:
        last = self.price(symbol, t)
        half = half_spread(last)
        path = self._paths[symbol]
        i = self.sessions.trading_day(t)
        j = path.step_index(i, t) if t >= self.sessions.opens[i] else 0
        h = (path.key ^ (j * 2654435761)) & 0xFFFFFFFF
        inst = self.instruments[symbol]
        frac = 0.0
        if t >= self.sessions.opens[i]:
            frac = min(1.0, (t - self.sessions.opens[i]) / FULL_SESSION_SECONDS)
        return Quote(
            last=last,
            bid=round_price(last - half),
            ask=round_price(last + half),
            bid_size=float(100 * (1 + h % 9)),
            ask_size=float(100 * (1 + (h >> 4) % 9)),
            last_size=float(100 * (1 + (h >> 8) % 5)),
            volume=float(int(inst.avg_volume * frac / 100) * 100),
        )

    def bid_ask(self, symbol: str, t: float) -> tuple[float, float]:
        last = self.price(symbol, t)
        half = half_spread(last)
        return round_price(last - half), round_price(last + half)

    def session_close(self, symbol: str, i: int) -> float:
        """The closing price of session i (shocks up to its close included)."""
        level = self._paths[symbol].close_level(i)
        return round_price(math.exp(level) * self.factor(symbol, self.sessions.closes[i]))

    def prev_close(self, symbol: str, t: float) -> float:
        """The close of the session before the trading day of `t` (what daily P&L is from)."""
        return self.session_close(symbol, self.sessions.trading_day(t) - 1)

    def shock(self, symbols: list[str], pct: float, t: float) -> None:
        """Move these symbols by `pct` percent at instant `t` (later shocks stack)."""
        mult = 1.0 + pct / 100.0
        if mult <= 0:
            raise ValueError(f"a price shock of {pct}% would make prices non-positive")
        for sym in symbols:
            sh = self._shocks[sym]
            i = bisect.bisect_right(sh.times, t)
            sh.times.insert(i, t)
            prev = sh.factors[i - 1] if i else 1.0
            sh.factors.insert(i, prev * mult)
            for k in range(i + 1, len(sh.factors)):
                sh.factors[k] *= mult

    def price_points(self, symbol: str, t_from: float, t_to: float) -> list[tuple[float, float]]:
        """Every instant in (t_from, t_to] where the price changes, with the new price.

        These are the session step boundaries (the open, each step, the close) and the shock
        instants: everything a resting order must be checked against, in time order.
        """
        out: list[tuple[float, float]] = []
        if t_to <= t_from:
            return out
        s = self.sessions
        path = self._paths[symbol]
        shocks = self._shocks[symbol]
        i = s.trading_day(t_from)
        while i < len(s.opens) and s.opens[i] <= t_to:
            o, c = s.opens[i], s.closes[i]
            n = path.steps_in(i)
            times = np.minimum(o + np.arange(n + 1, dtype=np.int64) * self.step, c)
            times[n] = c
            lo = int(np.searchsorted(times, t_from, side="right"))
            hi = int(np.searchsorted(times, t_to, side="right"))
            st_lo = bisect.bisect_right(shocks.times, t_from)
            st_hi = bisect.bisect_right(shocks.times, t_to)
            shock_ts = [ts for ts in shocks.times[st_lo:st_hi] if o <= ts < c]
            if lo < hi or shock_ts:
                levels = path.path(i)
                pts: list[tuple[float, float]] = []
                if lo < hi:
                    prices = np.exp(levels[lo:hi])
                    for k, j in enumerate(range(lo, hi)):
                        tj = float(times[j])
                        pts.append((tj, round_price(float(prices[k]) * shocks.factor(tj))))
                for ts in shock_ts:
                    pts.append((ts, self.price(symbol, ts)))
                out.extend(pts)
            i += 1
        # shocks outside sessions move the (static) price too
        st_lo = bisect.bisect_right(shocks.times, t_from)
        st_hi = bisect.bisect_right(shocks.times, t_to)
        for ts in shocks.times[st_lo:st_hi]:
            if not s.is_open(ts):
                out.append((ts, self.price(symbol, ts)))
        out.sort(key=lambda x: x[0])
        return out

    # history

    def daily_bars(self, symbol: str, start: float, end: float) -> list[Bar]:
        """One bar per session with a date in (start, end]; the current session so far."""
        s = self.sessions
        path = self._paths[symbol]
        inst = self.instruments[symbol]
        first = s.trading_day(start)
        if s.opens[first] <= start:
            first += 1
        last = s.trading_day(end)
        bars: list[Bar] = []
        shocks = self._shocks[symbol]
        for i in range(first, last + 1):
            o, c = s.opens[i], s.closes[i]
            if o > end:
                break
            if c <= end and not any(o <= ts < c for ts in shocks.times):
                f = shocks.factor(o)
                op, hi, lo, cl = (x * f for x in path.base_ohlc(i))
                frac = 1.0
            else:
                upto = path.step_index(i, min(end, c))
                times = np.minimum(o + np.arange(upto + 1, dtype=np.int64) * self.step, c)
                facs = np.array([shocks.factor(float(t)) for t in times])
                prices = np.exp(path.path(i)[: upto + 1]) * facs
                op, hi, lo = float(prices[0]), float(prices.max()), float(prices.min())
                cl = float(prices[-1])
                frac = min(1.0, (min(end, c) - o) / FULL_SESSION_SECONDS)
            vol = self._volume(symbol, i, inst.avg_volume) * frac
            bars.append(
                Bar(
                    time=o,
                    session=i,
                    open=round_price(op),
                    high=round_price(hi),
                    low=round_price(lo),
                    close=round_price(cl),
                    volume=float(int(vol / 100) * 100),
                )
            )
        return bars

    def intraday_bars(self, symbol: str, start: float, end: float, size: int) -> list[Bar]:
        """Bars of `size` seconds (aligned to each session's open) that start in [start, end)."""
        if size % self.step:
            size = max(self.step, size - size % self.step)
        s = self.sessions
        path = self._paths[symbol]
        shocks = self._shocks[symbol]
        inst = self.instruments[symbol]
        bars: list[Bar] = []
        i = s.trading_day(start)
        while i < len(s.opens) and s.opens[i] < end:
            o, c = s.opens[i], s.closes[i]
            levels = path.path(i)
            n = path.steps_in(i)
            per_bar = size // self.step
            day_vol = self._volume(symbol, i, inst.avg_volume)
            for b0 in range(0, n, per_bar):
                t0 = o + b0 * self.step
                if t0 < start:
                    continue
                if t0 >= end or t0 >= c:
                    break
                b1 = min(n, b0 + per_bar)
                last_t = min(end, o + b1 * self.step, c)
                j1 = max(b0 + 1, min(b1, -(-int(last_t - o) // self.step)))
                seg = np.exp(levels[b0:j1])
                facs = np.array([shocks.factor(float(o + j * self.step)) for j in range(b0, j1)])
                seg = seg * facs
                close_p = float(seg[-1])
                if o + b1 * self.step >= c and end >= c:
                    close_p = math.exp(float(levels[n])) * shocks.factor(c)
                hi = max(float(seg.max()), close_p)
                lo = min(float(seg.min()), close_p)
                vol = day_vol * (j1 - b0) / n
                bars.append(
                    Bar(
                        time=t0,
                        session=i,
                        open=round_price(float(seg[0])),
                        high=round_price(hi),
                        low=round_price(lo),
                        close=round_price(close_p),
                        volume=float(int(vol / 100) * 100),
                    )
                )
            i += 1
        return bars

    def _volume(self, symbol: str, i: int, avg: float) -> float:
        h = zlib.crc32(f"{self.seed}:{symbol}:{self.sessions.dates[i].toordinal()}".encode())
        return avg * (0.6 + 0.8 * (h % 1000) / 1000)

    def describe_session(self, t: float) -> str:
        s = self.sessions
        i = s.trading_day(t)
        o = datetime.fromtimestamp(s.opens[i], UTC)
        c = datetime.fromtimestamp(s.closes[i], UTC)
        state = "open" if s.is_open(t) else "closed"
        return f"{s.dates[i].isoformat()} {o:%H:%M}-{c:%H:%M} UTC ({state})"


def duration_seconds(text: str) -> timedelta:
    """IB durationStr (`30 D`, `2 W`, `6 M`, `1 Y`, `3600 S`) as a calendar span."""
    parts = text.strip().split()
    if len(parts) != 2 or not parts[0].isdigit():
        raise ValueError(f"bad duration {text!r}")
    n, unit = int(parts[0]), parts[1].upper()
    if unit == "S":
        return timedelta(seconds=n)
    if unit == "D":
        return timedelta(days=n)
    if unit == "W":
        return timedelta(weeks=n)
    if unit == "M":
        return timedelta(days=30 * n)
    if unit == "Y":
        return timedelta(days=365 * n)
    raise ValueError(f"bad duration unit in {text!r}")


_BAR_UNITS = {
    "sec": 1,
    "secs": 1,
    "min": 60,
    "mins": 60,
    "hour": 3600,
    "hours": 3600,
    "day": 86400,
    "days": 86400,
    "week": 7 * 86400,
    "weeks": 7 * 86400,
    "month": 30 * 86400,
    "months": 30 * 86400,
}


def bar_size_seconds(text: str) -> int:
    """IB barSizeSetting (`1 day`, `5 mins`, `1 hour`, `30 secs`) in seconds."""
    parts = text.strip().split()
    if len(parts) != 2 or not parts[0].isdigit() or parts[1].lower() not in _BAR_UNITS:
        raise ValueError(f"bad bar size {text!r}")
    return int(parts[0]) * _BAR_UNITS[parts[1].lower()]


def parse_ib_datetime(text: str) -> float:
    """An IB endDateTime: `yyyymmdd hh:mm:ss [tz]`, `yyyymmdd-hh:mm:ss` (UTC) or `yyyymmdd`."""
    text = text.strip()
    if len(text) == 8 and text.isdigit():
        d = datetime.strptime(text, "%Y%m%d").replace(tzinfo=ET) + timedelta(
            hours=23, minutes=59, seconds=59
        )
        return d.timestamp()
    if "-" in text[:9]:
        return datetime.strptime(text, "%Y%m%d-%H:%M:%S").replace(tzinfo=UTC).timestamp()
    parts = text.split(" ")
    if len(parts) >= 3:
        try:
            tz = ZoneInfo(parts[2])
        except Exception as exc:
            raise ValueError(f"unknown time zone in {text!r}") from exc
        return (
            datetime.strptime(parts[0] + parts[1], "%Y%m%d%H:%M:%S").replace(tzinfo=tz).timestamp()
        )
    return datetime.strptime(text, "%Y%m%d %H:%M:%S").replace(tzinfo=ET).timestamp()


def aggregate_bars(bars: list[Bar], size: int) -> list[Bar]:
    """Weekly or monthly bars from daily ones."""
    groups: dict[tuple[int, int], list[Bar]] = {}
    for b in bars:
        d = datetime.fromtimestamp(b.time, ET).date()
        key = (d.isocalendar()[0], d.isocalendar()[1]) if size < 28 * 86400 else (d.year, d.month)
        groups.setdefault(key, []).append(b)
    out = []
    for group in groups.values():
        out.append(
            Bar(
                time=group[0].time,
                session=group[0].session,
                open=group[0].open,
                high=max(b.high for b in group),
                low=min(b.low for b in group),
                close=group[-1].close,
                volume=sum(b.volume for b in group),
            )
        )
    return out
