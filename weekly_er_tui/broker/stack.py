"""The broker's parts over one IB connection, wired in one place: the portfolio tracker, the
fill recorder, the sender (live, or shadow mode's journal of would-be orders) and the order
executor over them.

The engine, `flatten --yes` with no engine running, and the guide's standalone
`emergency_close_all_positions` each need the same stack; they differ only in what they pass
(an engine's clock-driven session and connection waits, the command line's HALT). The closer
(safety/closer.py) sits above broker/ and is built by the engine over `executor`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ib_async import IB

from weekly_er_tui.clock import Clock
from weekly_er_tui.config import SafetyLimits
from weekly_er_tui.journal import Journal
from weekly_er_tui.model import Alert, TradingState
from weekly_er_tui.store import Store

from .fills import FillRecorder
from .market_data import MarketDataFeed
from .orders import OrderExecutor
from .other_fills import OtherSystemFills
from .portfolio import PortfolioTracker
from .sender import ShadowSender


@dataclass(frozen=True, slots=True)
class BrokerStack:
    portfolio: PortfolioTracker
    # Shadow mode: the account's executions are the other system's (journaled as such, never
    # counted as ours); else our fills.
    fills: FillRecorder | OtherSystemFills
    executor: OrderExecutor
    shadow_sender: ShadowSender | None  # shadow mode: nothing is sent, every order journaled

    def close(self) -> None:
        """Stop following fills (a row waiting for its commission is written now) and close
        the shadow journal; the tracker stays with its owner (`detach` it when done with ib)."""
        self.fills.close()
        if self.shadow_sender is not None:
            self.shadow_sender.close()


def build_broker_stack(
    ib: IB,
    clock: Clock,
    store: Store,
    journal: Journal,
    limits: SafetyLimits,
    *,
    trading_state: Callable[[], TradingState],
    market_open: Callable[[], bool],
    closed_until: Callable[[], datetime | None] = lambda: None,
    account: str = "",
    portfolio: PortfolioTracker | None = None,
    feed: MarketDataFeed | None = None,
    shadow_dir: Path | None = None,
    other_system_fills: bool | None = None,
    alert: Callable[[Alert], None] | None = None,
    wait_connected: Callable[[], Awaitable[None]] | None = None,
    correlated_groups: Callable[[], Sequence[tuple[str, ...]]] = lambda: (),
) -> BrokerStack:
    """The stack on `ib`. `portfolio`: a tracker already following `ib` (else one is made for
    `account` with the limits' sector overrides and stale-price age); `shadow_dir`: shadow mode,
    the data directory whose logs/shadow_orders.csv takes every order instead of IB;
    `other_system_fills`: the account's fills are another system's (default: in shadow mode)."""
    if portfolio is None:
        portfolio = PortfolioTracker(
            ib, clock, account=account, sector_overrides=limits.sector_overrides,
            stale_after=limits.stale_price_seconds, feed=feed, store=store,
        )
    if other_system_fills is None:
        other_system_fills = shadow_dir is not None
    fills: FillRecorder | OtherSystemFills = (
        OtherSystemFills(ib, journal, clock) if other_system_fills
        else FillRecorder(ib, journal, store, clock))
    sender = (ShadowSender.in_data_dir(shadow_dir, store, clock, portfolio)
              if shadow_dir is not None else None)
    executor = OrderExecutor(
        ib, portfolio, store, journal, clock, limits,
        trading_state=trading_state, market_open=market_open, closed_until=closed_until,
        alert=alert, wait_connected=wait_connected, correlated_groups=correlated_groups,
        sender=sender,
    )
    return BrokerStack(portfolio, fills, executor, sender)
