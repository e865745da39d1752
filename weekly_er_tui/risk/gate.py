"""The pre-trade gate: every order intent is checked here before broker/orders.py sends it.

Modelled on the pre-trade controls of SEC Rule 15c3-5 (market access): the state of trading,
restricted symbols, a price collar for limit orders, duplicate and runaway-rate protection, a
per-order notional cap, and the account's limits as they would stand after the fill. Every check
runs (none short-circuits) so a refusal lists every reason at once.

After the fill. The order is valued at the price it would most likely fill at: the ask for a BUY,
the bid for a SELL; without that side of the quote, the limit price; then the quote's last; then
the position's market price in the snapshot. Position value, gross exposure, cash (cash - signed
quantity × price; no commission) and weights are recomputed with the position at its new quantity
and that price; net liquidation is unchanged by a fill at the market. Weights use the same
denominator as risk/rules.py (net liquidation, or gross exposure when it is not positive).

Delayed quotes. Without a market-data subscription the quote is IB's delayed data, 15-20 minutes
old (MarketQuote.delayed). An opening order on it is valued at the far edge of the collar: the
ask plus limit_price_collar for a BUY, the bid minus it for a SELL, so the limits after the fill
hold unless the price moved by more than the collar since the quote; a limit order must lie
within the collar of the delayed quote, as with live data. A reduction is valued as usual. A
market ENTRY on a delayed quote is sent as a limit at that edge (`delayed_cap`, applied by
broker/orders.py): a market order would fill wherever the price went since the quote, past the
limits checked here when it moved more than the collar.

Reductions. An order on the side opposite an existing position for no more than its size (as the
snapshot shows it) reduces risk. A reduction passes the checks that would otherwise trap a trader in
a position: trading state (in PAUSED and REDUCING; in HALTED only with a closing reason), position
value, positions count, gross exposure, cash, concentration, correlated exposure, restricted
symbols (closing a restricted position is what the restriction wants) and max_order_notional (its
size is already capped by the position, and a position larger than the cap must still be closable
in one order). Reductions still get the limit-price collar: a LMT far through the market is a fat
finger whichever way it goes; emergency closes go out as MKT and are not collared. An order that
crosses through zero (sell 150 while long 100) is not a reduction: it opens a short and is checked
in full.

Sectors. An order that opens or adds must know its symbol's sector (`sector_overrides`, the held
position's, or the intent's, which broker/orders.py fills from IB's contract details before an
entry is gated). A symbol whose sector is not known is refused: it cannot be checked against
max_sector_concentration, and counting it as "Unknown" would let it pass beside its real sector.

Flattening. A reduction whose reason is EMERGENCY, DAILY_LOSS or FRIDAY_CLOSE also skips the
duplicate-order and order-rate checks: closing 80 positions, or re-sending a close that IB
rejected, must not wait for a rate window. What stops a close from being sent twice is
broker/orders.py's order intents keyed by orderRef, not this gate. A MANUAL flatten that must not be
rate limited should use the EMERGENCY reason.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, get_args

from weekly_er_tui.config import SafetyLimits
from weekly_er_tui.model import PortfolioSnapshot, TradingState
from weekly_er_tui.risk.rules import (
    MAX_PORTFOLIO_VALUE,
    MAX_POSITION_CONCENTRATION,
    MAX_POSITION_VALUE,
    MAX_POSITIONS,
    MAX_SECTOR_CONCENTRATION,
    MIN_CASH_RESERVE,
    UNKNOWN_SECTOR,
    format_money,
    format_pct,
    format_price,
    format_quantity,
    group_weight,
    sector_of,
    weight_base,
)

Side = Literal["BUY", "SELL"]
OrderType = Literal["MKT", "LMT", "MOC"]
OrderReason = Literal["ENTRY", "EXIT", "EMERGENCY", "FRIDAY_CLOSE", "DAILY_LOSS", "MANUAL"]

# Each vocabulary once: the Literal, and its values read from it.
SIDES: tuple[Side, ...] = get_args(Side)
ORDER_TYPES: tuple[OrderType, ...] = get_args(OrderType)
REASONS: tuple[OrderReason, ...] = get_args(OrderReason)
# Reasons allowed to reduce a position while trading is HALTED: every one but ENTRY.
CLOSING_REASONS: frozenset[OrderReason] = frozenset(REASONS) - {"ENTRY"}
# Reductions with these reasons are never held back by the duplicate or rate checks.
FLATTENING_REASONS: frozenset[OrderReason] = frozenset(
    {"EMERGENCY", "DAILY_LOSS", "FRIDAY_CLOSE"}
)

RATE_WINDOW_SECONDS = 60.0

# Check names, as GateDecision.checks lists them; a check of a limit the rules also watch is
# named by the rule (risk/rules.py: MAX_POSITION_VALUE, ...).
CHECK_TRADING_STATE = "trading_state"
CHECK_RESTRICTED = "restricted_symbols"
CHECK_COLLAR = "limit_price_collar"
CHECK_DUPLICATE = "duplicate_order_window"
CHECK_RATE = "max_orders_per_minute"
CHECK_PRICE = "order_price"
CHECK_NOTIONAL = "max_order_notional"
CHECK_CORRELATED = "max_correlated_weight"


@dataclass(frozen=True, slots=True)
class OrderIntent:
    """An order the strategy, the safety manager or the trader wants sent."""

    symbol: str
    side: Side
    quantity: float  # shares, positive
    order_type: OrderType
    limit_price: float | None
    order_ref: str
    reason: OrderReason
    sector: str | None = None

    def __post_init__(self) -> None:
        problems = []
        if not self.symbol:
            problems.append("symbol is empty")
        if self.side not in SIDES:
            problems.append(f"side must be BUY or SELL (got {self.side!r})")
        if not (math.isfinite(self.quantity) and self.quantity > 0):
            problems.append(f"quantity must be a positive number of shares (got {self.quantity})")
        if self.order_type not in ORDER_TYPES:
            problems.append(f"order_type must be MKT, LMT or MOC (got {self.order_type!r})")
        if self.order_type == "LMT" and not (
            self.limit_price is not None
            and math.isfinite(self.limit_price)
            and self.limit_price > 0
        ):
            problems.append(f"a LMT order needs a positive limit_price (got {self.limit_price})")
        if self.reason not in REASONS:
            problems.append(
                f"reason must be one of {', '.join(sorted(REASONS))} (got {self.reason!r})"
            )
        if problems:
            raise ValueError(f"OrderIntent {self.order_ref or self.symbol}: " + "; ".join(problems))

    @property
    def signed_quantity(self) -> float:
        """+quantity for a BUY, -quantity for a SELL."""
        return self.quantity if self.side == "BUY" else -self.quantity

    def describe(self) -> str:
        """BUY 100 AAPL LMT $190.00"""
        text = f"{self.side} {format_quantity(self.quantity)} {self.symbol} {self.order_type}"
        if self.order_type == "LMT" and self.limit_price is not None:
            text += f" {format_price(self.limit_price)}"
        return text


@dataclass(frozen=True, slots=True)
class MarketQuote:
    """The current quote. None, NaN or a price <= 0 means that price is not known."""

    bid: float | None
    ask: float | None
    last: float | None
    delayed: bool = False  # IB's delayed data (15-20 minutes old), not a live quote


@dataclass(frozen=True, slots=True)
class GateDecision:
    """accepted, or refused with one readable reason per failed check; `checks` names all run."""

    accepted: bool
    reasons: tuple[str, ...]
    checks: tuple[str, ...]


def _known(price: float | None) -> float | None:
    return price if price is not None and math.isfinite(price) and price > 0 else None


def fill_price(
    intent: OrderIntent, quote: MarketQuote | None, fallback: float | None = None
) -> float | None:
    """The price the order is valued at: ask (BUY) or bid (SELL), limit, last, then fallback."""
    if quote is not None:
        side_price = _known(quote.ask if intent.side == "BUY" else quote.bid)
        if side_price is not None:
            return side_price
    limit = _known(intent.limit_price)
    if limit is not None:
        return limit
    if quote is not None:
        last = _known(quote.last)
        if last is not None:
            return last
    return _known(fallback)


def delayed_cap(intent: OrderIntent, quote: MarketQuote | None,
                limits: SafetyLimits) -> float | None:  # fmt: skip
    """The limit that holds a market order to the price the gate valued it at on a delayed
    quote (the collar's far edge); None when the order is not a MKT on a delayed quote."""
    if intent.order_type != "MKT" or quote is None or not quote.delayed:
        return None
    price = fill_price(intent, quote)
    return None if price is None else _collar_edge(price, intent.side, limits)


def _collar_edge(price: float, side: str, limits: SafetyLimits) -> float:
    edge = limits.limit_price_collar
    return price * (1 + edge if side == "BUY" else 1 - edge)


def check_order(
    intent: OrderIntent,
    snapshot: PortfolioSnapshot,
    limits: SafetyLimits,
    *,
    trading_state: TradingState,
    quote: MarketQuote | None,
    recent_orders: Sequence[tuple[datetime, OrderIntent]],
    now: datetime,
    correlated_groups: Sequence[tuple[str, ...]] = (),
) -> GateDecision:
    """Accept or refuse one order intent before it is sent.

    recent_orders: the orders sent lately with when they were sent (for the duplicate and rate
    checks); the caller keeps at least the last 60 seconds.
    """
    sym = intent.symbol
    checks: list[str] = []
    reasons: list[str] = []

    # The account as the snapshot shows it, folded by symbol (as risk/rules.py does).
    held_qty = 0.0
    held_value = 0.0
    held_price: float | None = None
    held_sector: str | None = None
    gross = 0.0
    values: dict[str, float] = {}
    sector_values: dict[str, float] = {}
    for p in snapshot.positions:
        if p.quantity == 0:
            continue
        v = abs(p.market_value)
        gross += v
        values[p.symbol] = values.get(p.symbol, 0.0) + v
        sector = sector_of(p.symbol, p.sector, limits)
        sector_values[sector] = sector_values.get(sector, 0.0) + v
        if p.symbol == sym:
            held_qty += p.quantity
            held_value += v
            held_price = p.market_price
            held_sector = p.sector

    signed = intent.signed_quantity
    reducing = held_qty != 0 and (held_qty > 0) != (signed > 0) and intent.quantity <= abs(held_qty)
    flattening = reducing and intent.reason in FLATTENING_REASONS
    what = intent.describe()

    # Trading state
    checks.append(CHECK_TRADING_STATE)
    if trading_state is TradingState.PAUSED and not reducing:
        reasons.append(
            f"trading is PAUSED: no new entries, only orders that reduce a position "
            f"({what} would open or add)"
        )
    elif trading_state is TradingState.REDUCING and not reducing:
        reasons.append(
            f"trading is REDUCING: only orders that reduce a position ({what} would open or add)"
        )
    elif trading_state is TradingState.HALTED and not (
        reducing and intent.reason in CLOSING_REASONS
    ):
        why = (
            f"its reason {intent.reason} is not a closing reason"
            if reducing
            else "it would open or add"
        )
        reasons.append(
            "trading is HALTED: only closing orders (EXIT, EMERGENCY, FRIDAY_CLOSE, DAILY_LOSS, "
            f"MANUAL) that reduce a position ({what}: {why})"
        )

    # Restricted symbols: may be closed, never opened or added to.
    checks.append(CHECK_RESTRICTED)
    if sym in limits.restricted_symbols and not reducing:
        reasons.append(
            f"{sym} is on restricted_symbols: only orders that reduce an existing position "
            "are allowed"
        )

    # Price collar around the quote, for every limit order.
    if intent.order_type == "LMT" and intent.limit_price is not None:
        checks.append(CHECK_COLLAR)
        collar = limits.limit_price_collar
        bid = ask = last = None
        if quote is not None:
            bid, ask, last = _known(quote.bid), _known(quote.ask), _known(quote.last)
        low_ref = bid or last or ask
        high_ref = ask or last or bid
        if low_ref is None or high_ref is None:
            if not reducing:
                reasons.append(
                    f"no market quote for {sym} to check the limit price "
                    f"{format_price(intent.limit_price)} against (limit_price_collar)"
                )
        else:
            low = low_ref * (1 - collar)
            high = high_ref * (1 + collar)
            if not low <= intent.limit_price <= high:
                around = (
                    f"bid {format_price(low_ref)} / ask {format_price(high_ref)}"
                    if bid is not None and ask is not None
                    else f"{format_price(low_ref)}"
                )
                reasons.append(
                    f"limit price {format_price(intent.limit_price)} outside the "
                    f"{format_pct(collar)} collar around {around} "
                    f"({format_price(low)} to {format_price(high)}; limit_price_collar)"
                )

    # Duplicates and runaway rate; a flattening close is never held back by them.
    if not flattening:
        checks.append(CHECK_DUPLICATE)
        window = limits.duplicate_order_window
        in_minute = 0
        duplicate_age: float | None = None
        for sent_at, sent in recent_orders:
            age = (now - sent_at).total_seconds()
            if age <= RATE_WINDOW_SECONDS:
                in_minute += 1
            if (
                age <= window
                and sent.symbol == sym
                and sent.side == intent.side
                and sent.quantity == intent.quantity
                and (duplicate_age is None or age < duplicate_age)
            ):
                duplicate_age = age
        if duplicate_age is not None:
            reasons.append(
                f"duplicate of {intent.side} {format_quantity(intent.quantity)} {sym} sent "
                f"{max(0.0, duplicate_age):.0f}s ago (duplicate_order_window "
                f"{window:g}s)"
            )
        checks.append(CHECK_RATE)
        if in_minute >= limits.max_orders_per_minute:
            reasons.append(
                f"{in_minute} orders sent in the last 60s: this one would be over "
                f"max_orders_per_minute {limits.max_orders_per_minute}"
            )

    if not reducing:
        price = fill_price(intent, quote, held_price)
        if price is not None and quote is not None and quote.delayed:
            # The delayed quote is minutes old: value at the worst price within the collar.
            price = _collar_edge(price, intent.side, limits)
        checks.append(CHECK_PRICE)
        if price is None:
            reasons.append(
                f"cannot value {what}: no quote, no limit price and no last price for {sym}"
            )
        else:
            reasons.extend(
                _exposure_reasons(
                    intent,
                    snapshot,
                    limits,
                    checks,
                    price=price,
                    held_qty=held_qty,
                    held_value=held_value,
                    held_sector=held_sector,
                    gross=gross,
                    values=values,
                    sector_values=sector_values,
                    correlated_groups=correlated_groups,
                )
            )

    return GateDecision(accepted=not reasons, reasons=tuple(reasons), checks=tuple(checks))


def _exposure_reasons(
    intent: OrderIntent,
    snapshot: PortfolioSnapshot,
    limits: SafetyLimits,
    checks: list[str],
    *,
    price: float,
    held_qty: float,
    held_value: float,
    held_sector: str | None,
    gross: float,
    values: dict[str, float],
    sector_values: dict[str, float],
    correlated_groups: Sequence[tuple[str, ...]],
) -> list[str]:
    """The account's limits as they would stand after the order fills at `price`."""
    sym = intent.symbol
    reasons: list[str] = []
    new_qty = held_qty + intent.signed_quantity
    new_value = abs(new_qty) * price

    if limits.max_order_notional is not None:
        checks.append(CHECK_NOTIONAL)
        notional = intent.quantity * price
        if notional > limits.max_order_notional:
            lim = limits.max_order_notional
            reasons.append(
                f"order notional {format_money(notional, lim)} over max_order_notional "
                f"{format_money(lim)}"
            )

    checks.append(MAX_POSITION_VALUE)
    lim = limits.max_position_value
    if new_value > lim:
        reasons.append(
            f"position value after fill {format_money(new_value, lim)} over max_position_value "
            f"{format_money(lim)}"
        )

    checks.append(MAX_POSITIONS)
    count = len(values) + (1 if held_qty == 0 and new_qty != 0 else 0)
    if count > limits.max_positions:
        reasons.append(f"{count} positions after fill over max_positions {limits.max_positions}")

    checks.append(MAX_PORTFOLIO_VALUE)
    gross_after = gross - held_value + new_value
    lim = limits.max_portfolio_value
    if gross_after > lim:
        reasons.append(
            f"gross exposure after fill {format_money(gross_after, lim)} over "
            f"max_portfolio_value {format_money(lim)}"
        )

    checks.append(MIN_CASH_RESERVE)
    cash_after = snapshot.total_cash - intent.signed_quantity * price
    lim = limits.min_cash_reserve
    if cash_after < lim:
        reasons.append(
            f"cash after fill {format_money(cash_after, lim)} under min_cash_reserve "
            f"{format_money(lim)}"
        )

    base = weight_base(snapshot.net_liquidation, gross_after)
    # Values after the fill: this symbol at its new value, everything else as it is.
    after = dict(values)
    after[sym] = new_value

    checks.append(MAX_POSITION_CONCENTRATION)
    lim = limits.max_position_concentration
    weight = new_value / base if base > 0 else 0.0
    if weight > lim:
        reasons.append(
            f"{sym} weight after fill {format_pct(weight, lim)} over "
            f"max_position_concentration {format_pct(lim)}"
        )

    checks.append(MAX_SECTOR_CONCENTRATION)
    lim = limits.max_sector_concentration
    # A held position stays in the sector the rules count it in; a new one takes the intent's.
    sector = sector_of(sym, held_sector if sym in values else intent.sector, limits)
    sector_value = sector_values.get(sector, 0.0) - held_value + new_value
    weight = sector_value / base if base > 0 else 0.0
    if sector == UNKNOWN_SECTOR:
        # Counted as "Unknown" it would pass beside its real sector's other positions.
        reasons.append(
            f"sector of {sym} is not known (IB's contract details gave none), so "
            f"max_sector_concentration cannot be checked: add \"{sym}\": \"<its sector>\" to "
            "safety_limits.sector_overrides to trade it"
        )
    elif weight > lim:
        reasons.append(
            f"sector {sector} weight after fill {format_pct(weight, lim)} over "
            f"max_sector_concentration {format_pct(lim)}"
        )

    groups = [g for g in correlated_groups if sym in g]
    if groups:
        checks.append(CHECK_CORRELATED)
        lim = limits.max_correlated_weight
        for group in groups:
            weight = group_weight(after, group, base)
            if weight > lim:
                reasons.append(
                    f"correlated group {', '.join(group)} weight after fill "
                    f"{format_pct(weight, lim)} over max_correlated_weight {format_pct(lim)}"
                )
    return reasons
