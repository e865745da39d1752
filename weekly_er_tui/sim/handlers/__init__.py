"""The gateway's request handlers, one module per topic.

Each topic is a small class built on the gateway (`gw`, whose state it reads and changes) that
names the incoming message ids it answers in `routes()`. The gateway merges every topic's routes
into one table and dispatches each client message through it:

- connection: startApi, reqIds, managed accounts, the current time;
- market_data: reqMktData and its ticks, reqMarketDataType;
- contract_details: contract details, head timestamp, historical bars;
- orders: placeOrder, cancels, open and completed orders, and what the book tells clients;
- executions: reqExecutions;
- the account streams (positions, account values, P&L) are `sim/account_stream.py`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Protocol

from weekly_er_tui.sim.market import Instrument, Market
from weekly_er_tui.sim.session import ClientSession, Cursor

Handler = Callable[[ClientSession, Cursor], None]


class Topic(Protocol):
    """A group of request handlers: the message ids it answers, each to its method."""

    def routes(self) -> dict[int, Handler]: ...


def route_table(topics: Iterable[Topic]) -> dict[int, Handler]:
    """Every topic's routes in one table; a message id claimed twice is a programming error."""
    table: dict[int, Handler] = {}
    for topic in topics:
        for msg_id, handler in topic.routes().items():
            if msg_id in table:
                raise ValueError(f"message {msg_id} is answered by two topics")
            table[msg_id] = handler
    return table


def stock(market: Market, contract: dict[str, Any]) -> Instrument | None:
    """The simulated stock a request's contract names (None: not a stock the market knows)."""
    if contract["sec_type"] not in ("STK", ""):
        return None
    return market.resolve(contract["symbol"], contract["con_id"])
