"""How many shares to buy (or sell short) for one report: fixed notional or volatility-scaled.

- Fixed (`strategy.sizing = "fixed"`, the default): `strategy.notional_per_position` dollars.
- Volatility-scaled (`"volatility"`): notional = `strategy.risk_budget` / daily volatility, so a
  calm stock gets a bigger position and a jumpy one a smaller one, for about the same one-day
  move in dollars. The volatility is the sample standard deviation of daily LOG returns over the
  last `strategy.volatility_lookback` (default 20) returns of daily closes.

A `notional` column in the calendar overrides both for that row. Every size is capped by
`safety_limits.max_position_value` and rounded DOWN to whole shares, so `quantity * price` never
exceeds the capped notional.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Sequence
from typing import NamedTuple

from weekly_er_tui.config import StrategyConfig
from weekly_er_tui.strategy.calendars import EarningsRow

DEFAULT_LOOKBACK = 20
# Fewer returns than this give a volatility too noisy to size money by.
MIN_RETURNS = 10

# A plan sized before any quote says so; it is dropped once the entry goes out at a price.
NO_PRICE_YET = "no price yet: shares are set at entry"


class Sizing(NamedTuple):
    """The size of one entry: whole shares, the target notional (after the cap), and why."""

    quantity: int
    notional: float
    note: str


class VolatilityUnavailable(ValueError):
    """Daily closes that cannot give a volatility (too few, or not positive prices)."""


def fixed_shares(notional: float, price: float) -> int:
    """Whole shares worth at most `notional` at `price` (0 when either is not a positive number)."""
    if not (math.isfinite(notional) and math.isfinite(price)) or notional <= 0 or price <= 0:
        return 0
    shares = math.floor(notional / price)
    # The division can round either way at the last bit: settle it with the multiplication the
    # pre-trade gate will do, so shares * price <= notional holds exactly.
    while shares > 0 and shares * price > notional:
        shares -= 1
    while (shares + 1) * price <= notional:
        shares += 1
    return shares


def daily_volatility(closes: Sequence[float], lookback: int = DEFAULT_LOOKBACK) -> float:
    """Daily volatility as a fraction (0.02 = 2 %) from daily closes, oldest first.

    The sample standard deviation of log returns ln(c[i] / c[i-1]) over the last `lookback`
    returns (so the last `lookback + 1` closes). Raises VolatilityUnavailable with fewer than
    MIN_RETURNS returns or a close that is not a positive number.
    """
    recent = list(closes)[-(lookback + 1) :]
    if len(recent) - 1 < MIN_RETURNS:
        raise VolatilityUnavailable(
            f"{len(recent)} daily closes; at least {MIN_RETURNS + 1} are needed"
        )
    if any(not math.isfinite(c) or c <= 0 for c in recent):
        raise VolatilityUnavailable("a daily close is not a positive price")
    returns = [math.log(b / a) for a, b in itertools.pairwise(recent)]
    return statistics.stdev(returns)


def volatility_notional(risk_budget: float, daily_vol: float, cap: float) -> float:
    """min(risk_budget / daily_vol, cap): e.g. a 200 budget at 2 % daily volatility is 10,000."""
    if not math.isfinite(daily_vol) or daily_vol <= 0:
        raise VolatilityUnavailable(f"daily volatility must be greater than 0 (got {daily_vol})")
    return min(risk_budget / daily_vol, cap)


def size_entry(
    row: EarningsRow,
    price: float | None,
    config: StrategyConfig,
    max_position_value: float,
    closes: Sequence[float] | None = None,
) -> Sizing:
    """Size one entry at `price`. `closes` (daily, oldest first) are needed only for volatility
    sizing; without usable closes it falls back to the fixed notional and says so in the note.
    Without a price (None) the notional is still decided and the quantity is 0."""
    notes: list[str] = []
    if row.notional is not None:
        notional = row.notional
        notes.append("notional from the calendar")
    elif config.sizing == "volatility":
        try:
            if closes is None:
                raise VolatilityUnavailable("no daily closes")
            vol = daily_volatility(closes, config.volatility_lookback)
            notional = volatility_notional(config.risk_budget, vol, math.inf)
            notes.append(f"volatility {vol:.2%}/day")
        except VolatilityUnavailable as exc:
            notional = config.notional_per_position
            notes.append(f"volatility unavailable ({exc}): fixed notional used")
    else:
        notional = config.notional_per_position
    if notional > max_position_value:
        notional = max_position_value
        notes.append(f"capped at max_position_value {max_position_value:,.0f}")
    if price is None:
        notes.append(NO_PRICE_YET)
        return Sizing(0, notional, "; ".join(notes))
    quantity = fixed_shares(notional, price)
    if not math.isfinite(price) or price <= 0:
        notes.append("no valid price: zero shares")
    elif quantity == 0:
        notes.append(f"one share at {price:,.2f} costs more than {notional:,.0f}: zero shares")
    return Sizing(quantity, notional, "; ".join(notes))
