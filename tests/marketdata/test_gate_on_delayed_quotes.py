"""The pre-trade gate on a DELAYED quote: an entry is valued at the far edge of the collar."""

from __future__ import annotations

from tests.risk.helpers import limits, snap
from weekly_er_tui.model import TradingState
from weekly_er_tui.risk.gate import MarketQuote, OrderIntent, check_order

from .test_paper_account import ENTRY

LIVE = MarketQuote(bid=99.0, ask=100.0, last=99.5)
DELAYED = MarketQuote(bid=99.0, ask=100.0, last=99.5, delayed=True)


def buy(qty: float, order_type: str = "MKT", limit: float | None = None) -> OrderIntent:
    return OrderIntent("MSFT", "BUY", qty, order_type, limit, f"wer-MSFT-{qty}",  # type: ignore[arg-type]
                       "ENTRY", "Software")


def check(intent: OrderIntent, quote: MarketQuote) -> list[str]:
    decision = check_order(
        intent, snap(), limits(max_position_value=10_000, max_order_notional=None),
        trading_state=TradingState.ACTIVE, quote=quote, recent_orders=(), now=ENTRY,
    )
    return list(decision.reasons)


def test_an_entry_on_a_delayed_quote_is_valued_at_the_collars_far_edge() -> None:
    # 95 shares: $9,500 at the live ask; $9,975 at the ask + 5% collar: both within $10,000.
    assert check(buy(95), LIVE) == [] and check(buy(95), DELAYED) == []
    # 96 shares: $9,600 live passes, but $10,080 at the delayed quote's far edge does not.
    assert check(buy(96), LIVE) == []
    assert check(buy(96), DELAYED) == [
        "position value after fill $10,080 over max_position_value $10,000"]


def test_a_limit_entry_must_lie_within_the_collar_of_the_delayed_quote() -> None:
    assert check(buy(10, "LMT", 104.0), DELAYED) == []
    reasons = check(buy(10, "LMT", 106.0), DELAYED)
    assert len(reasons) == 1 and "outside the 5% collar" in reasons[0]
