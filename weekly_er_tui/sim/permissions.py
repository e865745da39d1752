"""Market-data permissions of the simulated account (notes rows 4 and 17).

What a reqMktData or a reqHistoricalData gets, given what the account may see of the symbol
(realism.market_data, per symbol in market_data_by_symbol) and the market data type the client
asked for with reqMarketDataType. A subscribed symbol is live whatever type was asked (IB sends
live data when it can); an unsubscribed one is refused for live data and delayed for types 3/4.
The texts are IB's own.
"""

from __future__ import annotations

from dataclasses import dataclass

from weekly_er_tui.sim import messages as msg
from weekly_er_tui.sim.market import Instrument
from weekly_er_tui.sim.realism import MarketDataPermission, Realism

LIVE, FROZEN, DELAYED, DELAYED_FROZEN = 1, 2, 3, 4

# The delayed tick type of each live one (IB's tick types 66-76).
DELAYED_TICK: dict[int, int] = {
    msg.TICK_BID: 66, msg.TICK_ASK: 67, msg.TICK_LAST: 68, msg.TICK_BID_SIZE: 69,
    msg.TICK_ASK_SIZE: 70, msg.TICK_LAST_SIZE: 71, msg.TICK_HIGH: 72, msg.TICK_LOW: 73,
    msg.TICK_VOLUME: 74, msg.TICK_CLOSE: 75, msg.TICK_OPEN: 76,
}  # fmt: skip
LIVE_TICK: dict[int, int] = {t: t for t in DELAYED_TICK}

COMPETING_SESSION = (10197, "No market data during competing live session")


@dataclass(frozen=True, slots=True)
class Grant:
    """The answer to one reqMktData: the data type sent (0: refused) and an error sent with it
    (the refusal, or a notice such as 10167 beside delayed ticks)."""

    data_type: int
    error: tuple[int, str] | None = None

    @property
    def delayed(self) -> bool:
        return self.data_type in (DELAYED, DELAYED_FROZEN)


def permission(realism: Realism, symbol: str) -> MarketDataPermission:
    return realism.market_data_by_symbol.get(symbol, realism.market_data)


def _venue(inst: Instrument) -> str:
    return "NASDAQ.NMS" if inst.exchange == "NASDAQ" else inst.exchange


def market_data_grant(realism: Realism, inst: Instrument, requested: int) -> Grant:
    """What a reqMktData for `inst` gets after reqMarketDataType(`requested`)."""
    allowed = permission(realism, inst.symbol)
    if allowed == "live":
        return Grant(FROZEN if requested == FROZEN else LIVE)
    wants_delayed = requested in (DELAYED, DELAYED_FROZEN)
    if allowed == "delayed":
        if wants_delayed:
            return Grant(requested, (10167, "Requested market data is not subscribed. "
                                            "Displaying delayed market data."))
        return Grant(0, (10089, (
            "Requested market data requires additional subscription for API. See link in "
            "'Market Data Connections' dialog for more details.Delayed market data is "
            f"available.{inst.symbol} {_venue(inst)}/TOP/ALL"
        )))
    if wants_delayed:
        return Grant(0, (10168, "Requested market data is not subscribed. Delayed market data "
                                "is not enabled."))
    return Grant(0, (354, "Requested market data is not subscribed."))


def history_refusal(realism: Realism, inst: Instrument) -> str | None:
    """Why historical bars are refused (the text after error 162's prefix), None if they are not:
    history needs a live subscription, delayed data does not give bars."""
    if permission(realism, inst.symbol) == "live":
        return None
    return f"No market data permissions for {inst.exchange} STK"
