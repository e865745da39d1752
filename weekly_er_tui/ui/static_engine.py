"""An engine handle over a fixed state, for the snapshot tests, the screenshots, the pilot tests
and the UI benchmark; and a large synthetic book (a load) for the benchmark.

The states the screenshots and snapshots show are recorded from the real engine
(weekly_er_tui/scenes/); `StaticEngine` holds one, records the commands it is sent and applies
their obvious effect, so the app can be driven without a broker.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import replace

from weekly_er_tui.model import ConnectionState, EngineState, Position, TradingState


class StaticEngine:
    """An `EngineHandle` over a fixed state: it records every command it is sent.

    With `apply_commands` (the default) a command also has its obvious effect on the state (pause
    pauses, flatten closes everything or, while disconnected, is queued), so a pilot test can
    show the result. `publish()` replaces the state as the engine would.
    """

    def __init__(self, state: EngineState, *, apply_commands: bool = True) -> None:
        self._state = state
        self.apply_commands = apply_commands
        self.commands: list[tuple[str, str]] = []
        self.running = False
        self._stop = asyncio.Event()
        self._subscribers: list[Callable[[EngineState], None]] = []

    @property
    def state(self) -> EngineState:
        return self._state

    def publish(self, state: EngineState) -> EngineState:
        """Make `state` the latest, with a version above the current one."""
        self._state = replace(state, version=max(state.version, self._state.version + 1))
        for fn in list(self._subscribers):
            fn(self._state)
        return self._state

    def update(self, **changes: object) -> EngineState:
        return self.publish(replace(self._state, **changes))  # type: ignore[arg-type]

    def subscribe(self, fn: Callable[[EngineState], None]) -> Callable[[], None]:
        self._subscribers.append(fn)

        def unsubscribe() -> None:
            if fn in self._subscribers:
                self._subscribers.remove(fn)

        return unsubscribe

    async def run(self) -> None:
        self.running = True
        try:
            await self._stop.wait()
        finally:
            self.running = False

    async def stop(self) -> None:
        self.commands.append(("stop", ""))
        self._stop.set()

    async def pause(self, reason: str = "manual") -> None:
        self.commands.append(("pause", reason))
        if self.apply_commands and self._state.trading_state is TradingState.ACTIVE:
            self.update(trading_state=TradingState.PAUSED, trading_state_reason=reason)

    async def resume(self, reason: str = "manual") -> None:
        self.commands.append(("resume", reason))
        if self.apply_commands:
            self.update(trading_state=TradingState.ACTIVE, trading_state_reason="")

    async def flatten(self, reason: str = "manual") -> None:
        self.commands.append(("flatten", reason))
        if not self.apply_commands:
            return
        if self._state.connection.state is not ConnectionState.CONNECTED:
            self.update(flatten_pending=True)
            return
        self._flatten_now()

    def _flatten_now(self) -> None:
        state = self._state
        portfolio = state.portfolio
        if portfolio is not None:
            portfolio = replace(portfolio, positions=(), gross_position_value=0.0,
                                last_known_at=None)
        self.update(portfolio=portfolio, safety=None, orders=(), flatten_pending=False,
                    flatten_in_progress=False)

    async def reconnect(self) -> None:
        self.commands.append(("reconnect", ""))

    async def check_now(self) -> None:
        self.commands.append(("check_now", ""))

    async def cancel_order(self, order_id: int, reason: str = "manual") -> None:
        self.commands.append(("cancel_order", str(order_id)))
        if self.apply_commands:
            self.update(orders=tuple(o for o in self._state.orders if o.order_id != order_id))

    async def close_position(self, symbol: str, reason: str = "manual") -> None:
        self.commands.append(("close_position", symbol))
        if self.apply_commands and self._state.portfolio is not None:
            p = self._state.portfolio
            kept = tuple(x for x in p.positions if x.symbol != symbol)
            self.update(portfolio=replace(p, positions=kept))

    def connect(self) -> None:
        """The connection came back (as the engine would report it); a queued flatten runs."""
        self.update(connection=replace(self._state.connection, state=ConnectionState.CONNECTED))
        if self.apply_commands and self._state.flatten_pending:
            self._flatten_now()


# -- a large book, for the benchmark and the tests of many rows ----------------------------------

_SECTORS = (
    "Technology", "Healthcare", "Financials", "Consumer Discretionary", "Energy",
    "Industrials", "Utilities", "Materials", "Real Estate", "Communication",
)


def large_book(base: EngineState, n: int = 500, *, seed: int = 7) -> EngineState:
    """`base` (a recorded scene) holding `n` made-up positions (S0000...) over ten sectors
    instead of its own: a load, not a scene (no risk report, no plan)."""
    rng = random.Random(seed)
    positions = []
    for i in range(n):
        last = round(rng.uniform(20, 600), 2)
        avg = round(last * rng.uniform(0.9, 1.1), 2)
        qty = float(max(1, round(2_000 / last)))
        positions.append(Position(
            symbol=f"S{i:04d}", quantity=qty, avg_cost=avg, market_price=last,
            market_value=round(qty * last, 2), unrealized_pnl=round(qty * (last - avg), 2),
            sector=_SECTORS[i % len(_SECTORS)], daily_pnl=0.0, price_time=base.timestamp,
        ))
    book = tuple(positions)
    gross = sum(p.market_value for p in book)
    assert base.portfolio is not None
    portfolio = replace(base.portfolio, positions=book, gross_position_value=gross,
                        net_liquidation=round(gross * 1.25, 2),
                        total_cash=round(gross * 0.25, 2))
    return replace(base, portfolio=portfolio, safety=None, plan=(), version=1)


def with_price(state: EngineState, index: int, new_price: float) -> EngineState:
    """`state` with position `index` repriced (a market tick), as the engine would republish it."""
    assert state.portfolio is not None
    positions = list(state.portfolio.positions)
    p = positions[index]
    positions[index] = replace(
        p, market_price=new_price, market_value=round(p.quantity * new_price, 2),
        unrealized_pnl=round(p.quantity * (new_price - p.avg_cost), 2),
    )
    portfolio = replace(state.portfolio, positions=tuple(positions))
    return replace(state, portfolio=portfolio, version=state.version + 1)
