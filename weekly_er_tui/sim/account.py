"""The simulated account: cash, positions with average cost, P&L and the values IB reports.

Everything is computed from the ledger and the market at the current clock instant, so the account
stays consistent as prices move and orders fill. Daily P&L is measured from the previous session's
close: for each symbol, value now minus value at that close minus today's cash flows (fills and
commissions).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from weekly_er_tui.sim.market import Market

INIT_MARGIN = 0.25
MAINT_MARGIN = 0.25
LEVERAGE = 4.0


@dataclass(slots=True)
class Holding:
    quantity: float = 0.0
    avg_cost: float = 0.0
    realized_today: float = 0.0


@dataclass(frozen=True, slots=True)
class PnlSingle:
    position: float
    daily: float
    unrealized: float
    realized: float
    value: float


class SimAccount:
    """One account. `positions` maps symbol -> (quantity, avg_cost) for open positions."""

    def __init__(
        self,
        account_id: str,
        cash: float,
        market: Market,
        now: Callable[[], float],
        currency: str = "USD",
    ) -> None:
        self.account_id = account_id
        self.currency = currency
        self.market = market
        self._now = now
        self.cash = float(cash)
        self.holdings: dict[str, Holding] = {}
        self._day = market.sessions.trading_day(now())
        self._sod_cash = self.cash
        self._sod_qty: dict[str, float] = {}
        self._flow_today: dict[str, float] = {}

    # ledger

    def seed_position(self, symbol: str, quantity: float, avg_cost: float) -> None:
        """An opening position (held since before today's session)."""
        self.holdings[symbol] = Holding(float(quantity), float(avg_cost))
        self._sod_qty[symbol] = float(quantity)

    def roll(self, at: float | None = None) -> None:
        """Start a new trading day once the clock (or `at`) is past the previous close."""
        day = self.market.sessions.trading_day(self._now() if at is None else at)
        if day <= self._day:
            return
        self._day = day
        self._sod_cash = self.cash
        self._sod_qty = {s: h.quantity for s, h in self.holdings.items() if h.quantity}
        self._flow_today = {}
        for h in self.holdings.values():
            h.realized_today = 0.0
        self.holdings = {s: h for s, h in self.holdings.items() if h.quantity}

    def apply_fill(
        self, symbol: str, quantity: float, price: float, commission: float, at: float
    ) -> float | None:
        """Book a fill (quantity signed: + buy, - sell) made at epoch second `at`.

        Returns the realized P&L when the fill reduced a position, else None.
        """
        self.roll(at)
        h = self.holdings.setdefault(symbol, Holding())
        self.cash -= quantity * price + commission
        self._flow_today[symbol] = self._flow_today.get(symbol, 0.0) + quantity * price + commission
        old = h.quantity
        new = old + quantity
        realized: float | None = None
        if old == 0 or (old > 0) == (quantity > 0):
            # opening or adding: commission goes into the cost basis
            sign = 1.0 if quantity > 0 else -1.0
            basis = abs(old) * h.avg_cost + abs(quantity) * price + sign * commission
            h.avg_cost = basis / abs(new)
        else:
            closed = min(abs(quantity), abs(old))
            direction = 1.0 if old > 0 else -1.0
            realized = closed * (price - h.avg_cost) * direction - commission
            h.realized_today += realized
            if new == 0:
                h.avg_cost = 0.0
            elif (new > 0) != (old > 0):
                h.avg_cost = price  # flipped: the rest opens at the fill price
        h.quantity = new
        return realized

    # views

    @property
    def positions(self) -> dict[str, tuple[float, float]]:
        return {s: (h.quantity, h.avg_cost) for s, h in self.holdings.items() if h.quantity}

    def price(self, symbol: str) -> float:
        return self.market.price(symbol, self._now())

    def market_value(self, symbol: str) -> float:
        h = self.holdings.get(symbol)
        return h.quantity * self.price(symbol) if h and h.quantity else 0.0

    @property
    def gross_position_value(self) -> float:
        return sum(abs(self.market_value(s)) for s in self.holdings)

    @property
    def net_liquidation(self) -> float:
        return self.cash + sum(self.market_value(s) for s in self.holdings)

    def unrealized(self, symbol: str) -> float:
        h = self.holdings.get(symbol)
        if not h or not h.quantity:
            return 0.0
        return h.quantity * (self.price(symbol) - h.avg_cost)

    def realized(self, symbol: str) -> float:
        self.roll()
        h = self.holdings.get(symbol)
        return h.realized_today if h else 0.0

    def daily(self, symbol: str) -> float:
        self.roll()
        now = self._now()
        sod = self._sod_qty.get(symbol, 0.0)
        before = sod * self.market.prev_close(symbol, now) if sod else 0.0
        return self.market_value(symbol) - before - self._flow_today.get(symbol, 0.0)

    @property
    def unrealized_pnl(self) -> float:
        return sum(self.unrealized(s) for s in self.holdings)

    @property
    def realized_pnl(self) -> float:
        self.roll()
        return sum(h.realized_today for h in self.holdings.values())

    @property
    def daily_pnl(self) -> float:
        self.roll()
        symbols = set(self.holdings) | set(self._sod_qty) | set(self._flow_today)
        return sum(self.daily(s) for s in symbols)

    def pnl_single(self, symbol: str) -> PnlSingle:
        h = self.holdings.get(symbol)
        qty = h.quantity if h else 0.0
        return PnlSingle(
            position=qty,
            daily=self.daily(symbol),
            unrealized=self.unrealized(symbol),
            realized=self.realized(symbol),
            value=self.market_value(symbol),
        )

    def margin_ok(self, symbol: str, quantity: float, price: float) -> bool:
        """Whether the account can carry this order's extra exposure (initial margin)."""
        h = self.holdings.get(symbol)
        old = h.quantity if h else 0.0
        extra = max(0.0, abs(old + quantity) - abs(old)) * price
        if extra == 0:
            return True
        need = INIT_MARGIN * (self.gross_position_value + extra)
        return need <= self.net_liquidation

    def values(self) -> dict[str, float]:
        """The account values IB reports with reqAccountUpdates (all in the base currency)."""
        nlv = self.net_liquidation
        gpv = self.gross_position_value
        init = INIT_MARGIN * gpv
        maint = MAINT_MARGIN * gpv
        available = nlv - init
        excess = nlv - maint
        return {
            "NetLiquidation": nlv,
            "TotalCashValue": self.cash,
            "CashBalance": self.cash,
            "SettledCash": self.cash,
            "GrossPositionValue": gpv,
            "StockMarketValue": sum(self.market_value(s) for s in self.holdings),
            "EquityWithLoanValue": nlv,
            "InitMarginReq": init,
            "MaintMarginReq": maint,
            "FullInitMarginReq": init,
            "FullMaintMarginReq": maint,
            "AvailableFunds": available,
            "FullAvailableFunds": available,
            "ExcessLiquidity": excess,
            "FullExcessLiquidity": excess,
            "BuyingPower": max(0.0, available * LEVERAGE),
            "Cushion": excess / nlv if nlv else 0.0,
            "Leverage": gpv / nlv if nlv else 0.0,
            "UnrealizedPnL": self.unrealized_pnl,
            "RealizedPnL": self.realized_pnl,
            "DailyPnL": self.daily_pnl,
        }
