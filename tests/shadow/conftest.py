"""A shadow engine beside an "original system": the engine rig (tests/engine/rig.py) with
`"mode": "shadow"`, and a plain ib_async client with its own clientId that trades the account."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from ib_async import IB, MarketOrder, Stock, Trade

from tests.engine.rig import CLIENT_ID, Rig, close_rig, et, open_rig
from tests.fixtures_sim import wait_until
from weekly_er_tui.clock import ManualClock
from weekly_er_tui.journal import read_csv
from weekly_er_tui.sim import SimulatedGateway

OTHER_CLIENT_ID = 99  # the original system
ORDER_EVENTS = ("order", "cancel", "reject", "fill")

# The week of Monday 2026-11-23 (Thanksgiving Thursday; Friday closes at 13:00): entries Monday
# (AAPL) and Tuesday (JPM short, XOM) at 10:00 ET.
WEEK = [
    "AAPL,2026-11-23,AMC,,",
    "JPM,2026-11-24,AMC,short,",
    "XOM,2026-11-25,BMO,,5000",
]


class GatewayRecord:
    """What the simulator received from each client: its book's record of every placeOrder
    and cancelOrder, and its events (orders, cancels, global cancels, rejects, fills)."""

    def __init__(self, gw: SimulatedGateway) -> None:
        self.gw = gw
        self.events: list[tuple[int | None, str, str]] = []
        gw.add_listener(lambda ev: self.events.append((ev.client_id, ev.kind, ev.text)))

    def of(self, client_id: int) -> list[tuple[str, str]]:
        asked = [(kind, what) for cid, kind, what in self.gw.book.requests if cid == client_id]
        seen = [(kind, text) for cid, kind, text in self.events
                if cid == client_id and kind in ORDER_EVENTS]
        return asked + seen

    def events_of_orders(self) -> list[tuple[int | None, str, str]]:
        """Every order, cancel, global cancel, reject or fill the simulator saw, any client."""
        return [e for e in self.events if e[1] in ORDER_EVENTS]


def shadow_rows(rig: Rig, kind: str | None = None) -> list[dict[str, str]]:
    path = rig.data_dir / "logs" / "shadow_orders.csv"
    rows = read_csv(path) if path.exists() else []
    return [r for r in rows if kind is None or r["kind"] == kind]


def other_fills(rig: Rig) -> list[dict[str, str]]:
    return [r for r in rig.trades() if r["reason"] == "OTHER_SYSTEM"]


class OtherSystem:
    """The original system: a plain ib_async client trading the same account."""

    def __init__(self, rig: Rig) -> None:
        self.rig = rig
        self.ib = IB()
        self.trades: list[Trade] = []

    async def connect(self) -> None:
        await self.ib.connectAsync("127.0.0.1", self.rig.gw.port, clientId=OTHER_CLIENT_ID,
                                   timeout=5)

    async def trade(self, symbol: str, side: str, quantity: float) -> Trade:
        """A market order, followed until it is filled and the shadow engine journaled it."""
        order = MarketOrder(side, quantity)
        order.orderRef = f"orig-{symbol}-{len(self.trades)}"
        trade = self.ib.placeOrder(Stock(symbol, "SMART", "USD"), order)
        self.trades.append(trade)
        await wait_until(lambda: trade.orderStatus.status == "Filled", timeout=10)
        ids = {f.execution.execId for f in trade.fills}
        await wait_until(lambda: ids <= {r["exec_id"] for r in other_fills(self.rig)},
                         timeout=10)
        return trade


def shadow_config(rig: Rig, **changes: Any) -> None:
    rig.config = rig.config.model_copy(update={"mode": "shadow", **changes})


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    r = await open_rig(tmp_path, ManualClock(et(2026, 11, 23, 9, 0)), WEEK)
    shadow_config(r)
    try:
        yield r
    finally:
        await close_rig(r)


@pytest.fixture
def record(rig: Rig) -> GatewayRecord:
    return GatewayRecord(rig.gw)


@pytest.fixture
async def other(rig: Rig) -> AsyncIterator[OtherSystem]:
    o = OtherSystem(rig)
    await o.connect()
    try:
        yield o
    finally:
        o.ib.disconnect()


__all__ = ["CLIENT_ID", "OTHER_CLIENT_ID", "WEEK", "GatewayRecord", "OtherSystem",
           "other_fills", "shadow_config", "shadow_rows"]
