"""What a host (the Textual app, the headless runner) needs of the engine.

The UI is written against this protocol, not against TradingEngine's internals, so it can be
tested on a fixed state and run on the real engine alike.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from weekly_er_tui.model import EngineState


class EngineHandle(Protocol):
    @property
    def state(self) -> EngineState:
        """The latest published state (immutable; replaced, never mutated)."""

    def subscribe(self, fn: Callable[[EngineState], None]) -> Callable[[], None]:
        """Call `fn` on every new state; returns an unsubscribe function. Hosts that render on a
        fixed tick can ignore this and read `state` on each tick."""

    async def run(self) -> None:
        """Run every long-running part (connection, safety monitor, strategy, alert sender)
        until `stop()`; the host runs it as a worker."""

    async def stop(self) -> None:
        """Stop cleanly: journals flushed, orders left as they are, disconnect."""

    async def pause(self, reason: str = "manual") -> None: ...

    async def resume(self, reason: str = "manual") -> None: ...

    async def flatten(self, reason: str = "manual") -> None:
        """Emergency flatten: cancel all orders and close every position. Queued (and shown as
        queued in the state) while the connection is down; runs on reconnect."""

    async def reconnect(self) -> None: ...

    async def cancel_order(self, order_id: int, reason: str = "manual") -> None:
        """Cancel one working order of this app; ValueError (nothing sent) when it cannot."""

    async def close_position(self, symbol: str, reason: str = "manual") -> None:
        """Close one position at market through the one closer; ValueError when it cannot."""

    async def check_now(self) -> None:
        """Run a safety check at once."""
