"""The pre-trade gate: every refusal, its boundary, and what a reduction may bypass."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import pytest

from weekly_er_tui.config import SafetyLimits
from weekly_er_tui.model import PortfolioSnapshot, TradingState
from weekly_er_tui.risk import gate, rules
from weekly_er_tui.risk.gate import GateDecision, MarketQuote, OrderIntent, check_order, fill_price

from .helpers import NOW, limits, pos, snap

QUOTE = MarketQuote(bid=99.0, ask=100.0, last=99.5)
ALL_STATES = list(TradingState)


def order(
    symbol: str = "MSFT",
    side: str = "BUY",
    quantity: float = 100,
    order_type: str = "MKT",
    limit_price: float | None = None,
    reason: str = "ENTRY",
    sector: str | None = "Software",  # known, as broker/orders.py makes sure before the gate
) -> OrderIntent:
    return OrderIntent(
        symbol,
        side,  # type: ignore[arg-type]
        quantity,
        order_type,  # type: ignore[arg-type]
        limit_price,
        f"wer-{symbol}-{side}-{quantity}",
        reason,  # type: ignore[arg-type]
        sector,
    )


def account(**kw: Any) -> PortfolioSnapshot:
    """Long 100 AAPL ($10,000) and short 50 TSLA (-$5,000) in a $1M account with $500k cash."""
    held = kw.pop("positions", None)
    if held is None:
        held = (pos("AAPL", 10_000, quantity=100), pos("TSLA", -5_000, quantity=-50, sector="Auto"))
    return snap(*held, **kw)


def check(
    intent: OrderIntent,
    snapshot: PortfolioSnapshot | None = None,
    lim: SafetyLimits | None = None,
    *,
    state: TradingState = TradingState.ACTIVE,
    quote: MarketQuote | None = QUOTE,
    recent: Sequence[tuple[datetime, OrderIntent]] = (),
    groups: Sequence[tuple[str, ...]] = (),
) -> GateDecision:
    return check_order(
        intent,
        snapshot or account(),
        lim or limits(),
        trading_state=state,
        quote=quote,
        recent_orders=recent,
        now=NOW,
        correlated_groups=groups,
    )


def refused_by(decision: GateDecision, fragment: str) -> bool:
    return not decision.accepted and any(fragment in r for r in decision.reasons)


def ago(seconds: float) -> datetime:
    return NOW - timedelta(seconds=seconds)


# Acceptance ------------------------------------------------------------------------------------


def test_a_plain_entry_is_accepted_after_every_check() -> None:
    decision = check(order())
    assert decision.accepted
    assert decision.reasons == ()
    assert decision.checks == (
        gate.CHECK_TRADING_STATE,
        gate.CHECK_RESTRICTED,
        gate.CHECK_DUPLICATE,
        gate.CHECK_RATE,
        gate.CHECK_PRICE,
        rules.MAX_POSITION_VALUE,
        rules.MAX_POSITIONS,
        rules.MAX_PORTFOLIO_VALUE,
        rules.MIN_CASH_RESERVE,
        rules.MAX_POSITION_CONCENTRATION,
        rules.MAX_SECTOR_CONCENTRATION,
    )


def test_every_failed_check_is_listed_at_once() -> None:
    decision = check(
        order(quantity=10_000),
        lim=limits(max_positions=2, restricted_symbols=["MSFT"]),
        state=TradingState.PAUSED,
    )
    assert not decision.accepted
    assert len(decision.reasons) >= 5
    assert refused_by(decision, "trading is PAUSED")
    assert refused_by(decision, "restricted_symbols")
    assert refused_by(decision, "max_position_value")
    assert refused_by(decision, "max_positions")
    assert refused_by(decision, "max_position_concentration")


# Trading state ---------------------------------------------------------------------------------

REDUCE_AAPL: dict[str, Any] = {"symbol": "AAPL", "side": "SELL", "quantity": 100}
COVER_TSLA: dict[str, Any] = {"symbol": "TSLA", "side": "BUY", "quantity": 20}


@pytest.mark.parametrize("state", [TradingState.PAUSED, TradingState.REDUCING])
def test_paused_and_reducing_refuse_what_opens_or_adds(state: TradingState) -> None:
    for intent in (order(), order("AAPL", "BUY", 10), order("TSLA", "SELL", 10)):
        decision = check(intent, state=state)
        assert refused_by(decision, f"trading is {state.value}"), intent
        assert "would open or add" in decision.reasons[0]


@pytest.mark.parametrize("state", ALL_STATES)
@pytest.mark.parametrize("which", [REDUCE_AAPL, COVER_TSLA], ids=["sell-long", "cover-short"])
def test_a_closing_reduction_is_allowed_in_every_state(
    state: TradingState, which: dict[str, Any]
) -> None:
    assert check(order(**which, reason="EXIT"), state=state).accepted


@pytest.mark.parametrize("reason", sorted(gate.CLOSING_REASONS))
def test_halted_allows_reductions_with_a_closing_reason(reason: str) -> None:
    assert check(order(**REDUCE_AAPL, reason=reason), state=TradingState.HALTED).accepted


def test_halted_refuses_a_reduction_without_a_closing_reason() -> None:
    decision = check(order(**REDUCE_AAPL, reason="ENTRY"), state=TradingState.HALTED)
    assert refused_by(decision, "trading is HALTED")
    assert "its reason ENTRY is not a closing reason" in decision.reasons[0]
    assert check(order(**REDUCE_AAPL, reason="ENTRY"), state=TradingState.REDUCING).accepted


def test_halted_refuses_opening_even_with_an_emergency_reason() -> None:
    decision = check(order(reason="EMERGENCY"), state=TradingState.HALTED)
    assert refused_by(decision, "it would open or add")


def test_an_order_through_zero_is_not_a_reduction() -> None:
    # Long 100 AAPL, sell 150: it opens a 50-share short.
    assert check(order("AAPL", "SELL", 100), state=TradingState.REDUCING).accepted
    decision = check(order("AAPL", "SELL", 150), state=TradingState.REDUCING)
    assert refused_by(decision, "trading is REDUCING")


# Restricted symbols ----------------------------------------------------------------------------


def test_restricted_symbol_may_not_be_opened_or_added_to() -> None:
    lim = limits(restricted_symbols=["AAPL", "GME"])
    decision = check(order("GME"), lim=lim)
    assert decision.reasons == (
        "GME is on restricted_symbols: only orders that reduce an existing position are allowed",
    )
    assert refused_by(check(order("AAPL", "BUY", 1), lim=lim), "restricted_symbols")
    assert check(order("MSFT"), lim=lim).accepted


def test_restricted_position_may_be_closed() -> None:
    assert check(
        order(**REDUCE_AAPL, reason="EXIT"), lim=limits(restricted_symbols=["AAPL"])
    ).accepted


# max_order_notional ----------------------------------------------------------------------------


@pytest.mark.parametrize(("qty", "accepted"), [(199, True), (200, True), (201, False)])
def test_max_order_notional_boundary(qty: int, accepted: bool) -> None:
    decision = check(order(quantity=qty), lim=limits(max_order_notional=20_000))
    assert decision.accepted is accepted
    assert gate.CHECK_NOTIONAL in decision.checks
    if not accepted:
        assert decision.reasons == ("order notional $20,100 over max_order_notional $20,000",)


def test_max_order_notional_is_skipped_when_not_set_and_for_reductions() -> None:
    assert gate.CHECK_NOTIONAL not in check(order()).checks
    decision = check(order(**REDUCE_AAPL, reason="EXIT"), lim=limits(max_order_notional=1_000))
    assert decision.accepted


# Limit-price collar ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("side", "price", "accepted"),
    [
        ("BUY", 104.99, True),
        ("BUY", 105.0, True),  # ask 100 + 5%
        ("BUY", 105.01, False),
        ("SELL", 94.06, True),
        ("SELL", 94.05, True),  # bid 99 - 5%
        ("SELL", 94.04, False),
        ("BUY", 94.04, False),  # a far-below buy is a fat finger too
    ],
)
def test_limit_price_collar_boundary(side: str, price: float, accepted: bool) -> None:
    decision = check(order(side=side, order_type="LMT", limit_price=price))
    assert gate.CHECK_COLLAR in decision.checks
    assert decision.accepted is accepted, decision.reasons
    if not accepted:
        assert refused_by(decision, "outside the 5% collar around bid $99.00 / ask $100.00")


def test_collar_message() -> None:
    decision = check(order(order_type="LMT", limit_price=110.0))
    assert decision.reasons == (
        "limit price $110.00 outside the 5% collar around bid $99.00 / ask $100.00 "
        "($94.05 to $105.00; limit_price_collar)",
    )


def test_collar_falls_back_to_last_and_refuses_an_entry_with_no_quote() -> None:
    last_only = MarketQuote(bid=None, ask=float("nan"), last=100.0)
    assert check(order(order_type="LMT", limit_price=104.0), quote=last_only).accepted
    assert not check(order(order_type="LMT", limit_price=106.0), quote=last_only).accepted
    decision = check(order(order_type="LMT", limit_price=100.0), quote=None)
    assert decision.reasons == (
        "no market quote for MSFT to check the limit price $100.00 against (limit_price_collar)",
    )


def test_collar_holds_for_a_reduction_but_a_missing_quote_does_not_block_it() -> None:
    far = order(**REDUCE_AAPL, order_type="LMT", limit_price=80.0, reason="EMERGENCY")
    assert refused_by(check(far), "collar")
    assert check(far, quote=None).accepted
    assert gate.CHECK_COLLAR not in check(order(**REDUCE_AAPL, reason="EMERGENCY")).checks


# Duplicates and rate ---------------------------------------------------------------------------


@pytest.mark.parametrize(("age", "duplicate"), [(9.9, True), (10.0, True), (10.1, False)])
def test_duplicate_order_window_boundary(age: float, duplicate: bool) -> None:
    decision = check(order(), recent=[(ago(age), order())])
    assert decision.accepted is not duplicate
    if duplicate:
        assert decision.reasons == (
            f"duplicate of BUY 100 MSFT sent {age:.0f}s ago (duplicate_order_window 10s)",
        )


def test_only_the_same_symbol_side_and_quantity_is_a_duplicate() -> None:
    recent = [(ago(1), order(quantity=101)), (ago(1), order(side="SELL")), (ago(1), order("NVDA"))]
    assert check(order(), recent=recent).accepted


@pytest.mark.parametrize(("sent", "accepted"), [(59, True), (60, False)])
def test_max_orders_per_minute_boundary(sent: int, accepted: bool) -> None:
    recent = [(ago(i * 0.9), order(f"S{i}")) for i in range(sent)]
    recent.append((ago(60.5), order("OLD")))  # outside the minute: not counted
    decision = check(order(), recent=recent)
    assert decision.accepted is accepted
    if not accepted:
        assert decision.reasons == (
            "60 orders sent in the last 60s: this one would be over max_orders_per_minute 60",
        )


def test_rate_and_duplicates_hold_back_an_ordinary_exit() -> None:
    recent = [(ago(1), order(**REDUCE_AAPL, reason="EXIT"))]
    recent += [(ago(2), order(f"S{i}")) for i in range(60)]
    decision = check(order(**REDUCE_AAPL, reason="EXIT"), recent=recent)
    assert refused_by(decision, "duplicate of SELL 100 AAPL")
    assert refused_by(decision, "max_orders_per_minute")


@pytest.mark.parametrize("reason", sorted(gate.FLATTENING_REASONS))
def test_flattening_is_never_held_back_by_rate_or_duplicates(reason: str) -> None:
    intent = order(**REDUCE_AAPL, reason=reason)
    recent = [(ago(1), intent)] + [(ago(2), order(f"S{i}")) for i in range(200)]
    decision = check(intent, state=TradingState.HALTED, recent=recent)
    assert decision.accepted, decision.reasons
    assert gate.CHECK_DUPLICATE not in decision.checks
    assert gate.CHECK_RATE not in decision.checks


def test_an_emergency_flatten_of_every_position_passes_the_gate() -> None:
    held = [pos(f"S{i}", 60_000, quantity=600) for i in range(80)]  # over every limit
    snapshot = account(positions=held, cash=-4_000_000)
    sent: list[tuple[datetime, OrderIntent]] = []
    for p in held:
        intent = order(p.symbol, "SELL", p.quantity, reason="EMERGENCY")
        decision = check(intent, snapshot, state=TradingState.HALTED, recent=sent)
        assert decision.accepted, decision.reasons
        sent.append((NOW, intent))


# Exposure after the fill -----------------------------------------------------------------------


@pytest.mark.parametrize(("qty", "accepted"), [(399, True), (400, True), (401, False)])
def test_max_position_value_after_fill_boundary(qty: int, accepted: bool) -> None:
    # Holding 100 AAPL; buying at the ask of $100: 500 shares is $50,000.
    decision = check(order("AAPL", "BUY", qty))
    assert decision.accepted is accepted
    if not accepted:
        assert decision.reasons == (
            "position value after fill $50,100 over max_position_value $50,000",
        )


def test_position_value_message_as_the_issue_words_it() -> None:
    decision = check(order("AAPL", "BUY", 512))
    assert decision.reasons == (
        "position value after fill $61,200 over max_position_value $50,000",
    )


def test_a_short_sale_is_measured_by_its_absolute_value() -> None:
    # Short 50 TSLA; selling 456 more at the $99 bid is a 506-share short worth $50,094.
    assert refused_by(check(order("TSLA", "SELL", 456)), "max_position_value")
    assert check(order("TSLA", "SELL", 455)).accepted  # 505 x $99 = $49,995


@pytest.mark.parametrize(("held", "accepted"), [(1, True), (2, False)])
def test_max_positions_after_fill(held: int, accepted: bool) -> None:
    snapshot = account(positions=[pos(f"S{i}", 1_000) for i in range(held)])
    decision = check(order(), snapshot, limits(max_positions=2))
    assert decision.accepted is accepted
    if not accepted:
        assert decision.reasons == ("3 positions after fill over max_positions 2",)
    # Adding to a held position does not add a position.
    assert check(order("S0", "BUY", 1), snapshot, limits(max_positions=held)).accepted


@pytest.mark.parametrize(("qty", "accepted"), [(49, True), (50, True), (51, False)])
def test_max_portfolio_value_after_fill_boundary(qty: int, accepted: bool) -> None:
    # Gross now $15,000 (AAPL 10,000 + TSLA 5,000); the cap is $20,000.
    decision = check(order(quantity=qty), lim=limits(max_portfolio_value=20_000))
    assert decision.accepted is accepted
    if not accepted:
        assert decision.reasons == (
            "gross exposure after fill $20,100 over max_portfolio_value $20,000",
        )


@pytest.mark.parametrize(("qty", "accepted"), [(99, True), (100, True), (101, False)])
def test_min_cash_reserve_after_fill_boundary(qty: int, accepted: bool) -> None:
    snapshot = account(cash=20_000)
    decision = check(order(quantity=qty), snapshot)
    assert decision.accepted is accepted
    if not accepted:
        assert decision.reasons == ("cash after fill $9,900 under min_cash_reserve $10,000",)


def test_a_short_sale_raises_cash() -> None:
    assert check(order(side="SELL", quantity=100), account(cash=5_000)).accepted


@pytest.mark.parametrize(("qty", "accepted"), [(149, True), (150, True), (151, False)])
def test_max_position_concentration_after_fill_boundary(qty: int, accepted: bool) -> None:
    # A $100,000 account: 150 shares at $100 is 15%.
    snapshot = account(nlv=100_000, positions=())
    decision = check(order(quantity=qty, sector="Software"), snapshot)
    assert decision.accepted is accepted
    if not accepted:
        assert decision.reasons == (
            "MSFT weight after fill 15.1% over max_position_concentration 15%",
        )


@pytest.mark.parametrize(("qty", "accepted"), [(190, True), (200, True), (210, False)])
def test_max_sector_concentration_after_fill_boundary(qty: int, accepted: bool) -> None:
    # AAPL is $10,000 of Technology in a $100,000 account; 200 MSFT makes it 30%.
    snapshot = account(nlv=100_000)
    lim = limits(max_position_concentration=1.0)
    decision = check(order(quantity=qty, sector="Technology"), snapshot, lim)
    assert decision.accepted is accepted
    if not accepted:
        assert decision.reasons == (
            "sector Technology weight after fill 31% over max_sector_concentration 30%",
        )


def test_sector_comes_from_overrides_then_the_held_position_then_the_intent() -> None:
    snapshot = account(nlv=100_000)
    lim = limits(max_position_concentration=1.0)
    assert check(order(quantity=250, sector="Software"), snapshot, lim).accepted
    assert not check(order(quantity=250, sector="Technology"), snapshot, lim).accepted
    lim = limits(max_position_concentration=1.0, sector_overrides={"MSFT": "Technology"})
    assert refused_by(check(order(quantity=250, sector="Software"), snapshot, lim), "Technology")
    # No sector known: refused (it used to pass as "Unknown", beside its real sector).
    for unknown in (None, "Unknown"):
        assert refused_by(
            check(order(quantity=1, sector=unknown), snapshot,
                  lim=limits(max_position_concentration=1.0)),
            "sector of MSFT is not known",
        )


@pytest.mark.parametrize(("qty", "accepted"), [(290, True), (300, True), (310, False)])
def test_correlated_weight_after_fill_boundary(qty: int, accepted: bool) -> None:
    snapshot = account(nlv=100_000)
    lim = limits(max_position_concentration=1.0, max_sector_concentration=1.0)
    decision = check(order(quantity=qty), snapshot, lim, groups=[("AAPL", "MSFT"), ("X", "Y")])
    assert gate.CHECK_CORRELATED in decision.checks
    assert decision.accepted is accepted
    if not accepted:
        assert decision.reasons == (
            "correlated group AAPL, MSFT weight after fill 41% over max_correlated_weight 40%",
        )
    assert gate.CHECK_CORRELATED not in check(order(), groups=[("X", "Y")]).checks


def test_weights_after_fill_use_gross_when_net_liquidation_is_not_positive() -> None:
    snapshot = account(nlv=-1_000, positions=[pos("AAPL", 100_000, sector="Technology")])
    lim = limits(
        max_position_value=1e9,
        max_portfolio_value=1e9,
        max_position_concentration=0.5,
        max_sector_concentration=1.0,
    )
    decision = check(order(quantity=1_001, sector="Software"), snapshot, lim)
    assert decision.reasons == (
        "MSFT weight after fill 50.02% over max_position_concentration 50%",
    )


# Reductions bypass what would trap a trader in a position --------------------------------------


def test_a_reduction_bypasses_the_exposure_checks() -> None:
    # Everything is over its limit: a partial sale of the big position still goes.
    big = pos("AAPL", 900_000, quantity=9_000)
    snapshot = account(positions=[big, pos("XOM", 1_000)], nlv=950_000, cash=-1_000)
    lim = limits(max_positions=1)
    decision = check(order("AAPL", "SELL", 100, reason="EXIT"), snapshot, lim)
    assert decision.accepted, decision.reasons
    assert gate.CHECK_PRICE not in decision.checks
    assert rules.MAX_POSITION_VALUE not in decision.checks
    # Buying to cover a short lowers cash under the reserve: still a reduction.
    short = pos("TSLA", -50_000, quantity=-500)
    snapshot = account(positions=[short], cash=12_000)
    assert check(order("TSLA", "BUY", 500, reason="EXIT"), snapshot).accepted
    assert refused_by(check(order("TSLA", "BUY", 501), snapshot), "min_cash_reserve")


# Pricing the fill ------------------------------------------------------------------------------


def test_fill_price_prefers_the_side_of_the_quote_then_limit_then_last_then_position() -> None:
    buy, sell = order(), order(side="SELL")
    lmt = order(order_type="LMT", limit_price=98.0)
    assert fill_price(buy, QUOTE) == 100.0
    assert fill_price(sell, QUOTE) == 99.0
    no_sides = MarketQuote(bid=0.0, ask=None, last=97.0)
    assert fill_price(lmt, no_sides) == 98.0
    assert fill_price(buy, no_sides) == 97.0
    assert fill_price(buy, None, 95.0) == 95.0
    assert fill_price(buy, MarketQuote(None, None, float("nan"))) is None


def test_an_entry_that_cannot_be_valued_is_refused() -> None:
    decision = check(order(), quote=None)
    assert decision.reasons == (
        "cannot value BUY 100 MSFT MKT: no quote, no limit price and no last price for MSFT",
    )
    # A held symbol is valued at its snapshot price.
    assert check(order("AAPL", "BUY", 10), quote=None).accepted


def test_an_emergency_close_needs_no_quote() -> None:
    assert check(order(**REDUCE_AAPL, reason="EMERGENCY"), quote=None).accepted


# The intent itself -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kw", "fragment"),
    [
        ({"quantity": 0}, "quantity must be a positive number"),
        ({"quantity": -5}, "quantity must be a positive number"),
        ({"quantity": float("inf")}, "quantity must be a positive number"),
        ({"side": "SHORT"}, "side must be BUY or SELL"),
        ({"order_type": "STP"}, "order_type must be MKT, LMT or MOC"),
        ({"order_type": "LMT"}, "a LMT order needs a positive limit_price"),
        ({"order_type": "LMT", "limit_price": -1.0}, "a LMT order needs a positive limit_price"),
        ({"reason": "HUNCH"}, "reason must be one of"),
        ({"symbol": ""}, "symbol is empty"),
    ],
)
def test_a_malformed_intent_is_refused_at_construction(kw: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        order(**kw)


def test_intent_describes_itself() -> None:
    assert order(order_type="LMT", limit_price=101.5).describe() == "BUY 100 MSFT LMT $101.50"
    assert order(side="SELL", quantity=2.5).signed_quantity == -2.5
