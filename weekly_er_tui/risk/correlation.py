"""Which held stocks move together: Pearson correlation of daily returns, grouped.

Pure Python (no numpy): a few dozen symbols over a few months of closes is a few thousand
multiplications. Two symbols are linked when their correlation is above the threshold; a group is a
connected component of links (A~B and B~C put A, B and C in one group even when A and C are not
linked), because exposure that moves together adds up along the chain. Negative correlation links
nothing: it is a hedge, not a concentration.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

# Fewer daily returns than this say nothing about correlation (two points always fit a line).
MIN_OBSERVATIONS = 5


def daily_returns(closes: Sequence[float]) -> list[float]:
    """Simple daily returns close[i] / close[i-1] - 1, oldest first (one fewer than closes)."""
    for i, close in enumerate(closes):
        if not (math.isfinite(close) and close > 0):
            raise ValueError(f"closes[{i}] is {close!r}: closing prices must be positive numbers")
    return [closes[i] / closes[i - 1] - 1.0 for i in range(1, len(closes))]


def pearson(
    xs: Sequence[float], ys: Sequence[float], *, min_observations: int = MIN_OBSERVATIONS
) -> float | None:
    """Pearson correlation of two return series aligned at their ends (latest day last).

    None when there are fewer than `min_observations` common days or either series is flat.
    """
    n = min(len(xs), len(ys))
    if n < max(2, min_observations):
        return None
    xs = xs[len(xs) - n :]
    ys = ys[len(ys) - n :]
    mx = math.fsum(xs) / n
    my = math.fsum(ys) / n
    sxx = syy = sxy = 0.0
    for x, y in zip(xs, ys, strict=True):
        dx = x - mx
        dy = y - my
        sxx += dx * dx
        syy += dy * dy
        sxy += dx * dy
    spread = math.sqrt(sxx) * math.sqrt(syy)
    if spread <= 0.0 or not math.isfinite(spread):
        return None  # flat, or too small to measure (subnormal returns square to zero)
    r = sxy / spread
    return max(-1.0, min(1.0, r))


def correlated_groups(
    returns: Mapping[str, Sequence[float]],
    threshold: float,
    *,
    min_observations: int = MIN_OBSERVATIONS,
) -> list[tuple[str, ...]]:
    """Groups of 2+ symbols linked by a correlation of daily returns above `threshold`.

    `returns` maps symbol -> daily returns, oldest first (see `daily_returns`); series of different
    lengths are compared over their common latest days. Each group is sorted, and so is the list.
    """
    symbols = sorted(returns)
    parent = {s: s for s in symbols}

    def root(s: str) -> str:
        while parent[s] != s:
            parent[s] = parent[parent[s]]
            s = parent[s]
        return s

    for i, a in enumerate(symbols):
        xs = returns[a]
        for b in symbols[i + 1 :]:
            r = pearson(xs, returns[b], min_observations=min_observations)
            if r is not None and r > threshold:
                ra, rb = root(a), root(b)
                if ra != rb:
                    parent[max(ra, rb)] = min(ra, rb)

    members: dict[str, list[str]] = {}
    for s in symbols:
        members.setdefault(root(s), []).append(s)
    return sorted(tuple(group) for group in members.values() if len(group) >= 2)
