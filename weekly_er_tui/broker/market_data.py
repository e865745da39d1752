"""Which market data the account can get: live, or delayed when live is not permitted.

`market_data_type` in config.json: `auto` (the default) asks for live data and, at the first
sign that the account has no subscription for a symbol (IB's 10089, 354, 10167 or 10168), asks
for delayed data (reqMarketDataType(3)) and requests the refused symbols again; `live` never
falls back (a refused symbol has no price, and that is said once); `delayed` and
`delayed_frozen` ask for delayed data from the start. IB sends live data where a subscription
exists whatever type was asked, so the fallback costs nothing for subscribed symbols.

A delayed price is 15-20 minutes old: each symbol's data type comes from IB's marketDataType
message, and the snapshot, the journal and the alerts mark such prices DELAYED. Every problem
is said once (an event and an alert naming IB's code): the fallback, a symbol with no data at
all, a competing session (10197), historical bars refused (162), so a new paper account never
fails silently.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Literal

from ib_async import IB

from weekly_er_tui.clock import Clock
from weekly_er_tui.journal import Journal
from weekly_er_tui.model import Alert, EventType, Severity

log = logging.getLogger("weekly_er_tui.market_data")

MarketDataType = Literal["auto", "live", "delayed", "delayed_frozen"]
LIVE, DELAYED, DELAYED_FROZEN = 1, 3, 4
TYPE_CODES: dict[str, int] = {"auto": LIVE, "live": LIVE, "delayed": DELAYED,
                              "delayed_frozen": DELAYED_FROZEN}
# IB's "this account may not have live data for that symbol" codes.
NOT_PERMITTED = frozenset({10089, 354, 10167, 10168})
NO_DELAYED_EITHER = frozenset({10168})
COMPETING_SESSION = 10197
HISTORY_ERROR = 162

AlertSink = Callable[[Alert], None]


class HistoryUnavailable(ValueError):
    """IB refused historical bars for a symbol (no subscription): the reason is IB's text."""


class MarketDataFeed:
    """The market data type asked of IB, the fallback to delayed, and why data is missing."""

    def __init__(self, mode: MarketDataType = "auto", *, journal: Journal | None = None,
                 alert: AlertSink | None = None, clock: Clock | None = None) -> None:
        self.mode: MarketDataType = mode
        self._journal = journal
        self._alert = alert
        self._clock = clock
        self.fell_back = False  # auto mode asks for delayed data since a refusal
        self._said: set[str] = set()
        self.no_data: dict[str, str] = {}  # symbol -> why it has no price at all
        self.history_refused: dict[str, str] = {}  # symbol -> IB's reason
        self.competing_session = False

    @property
    def requested_type(self) -> int:
        """What reqMarketDataType is sent before every request (1 live, 3 delayed, 4 frozen)."""
        if self.mode == "auto":
            return DELAYED if self.fell_back else LIVE
        return TYPE_CODES[self.mode]

    def apply(self, ib: IB) -> None:
        """Tell TWS which data type to send; TWS forgets it with the connection."""
        ib.reqMarketDataType(self.requested_type)

    def on_refusal(self, symbol: str, code: int, message: str, asked: int) -> bool:
        """IB refused market data for `symbol` (asked with type `asked`). True when it should
        be requested again (the feed just switched to, or already is on, delayed data)."""
        if self.mode == "auto" and asked == LIVE:
            if not self.fell_back:
                self.fell_back = True
                self._say(
                    "fallback", Severity.MEDIUM,
                    f"Live market data is not permitted (IB {code}: {message}): using DELAYED "
                    "data (15-20 minutes old) for every symbol without a subscription",
                    "Prices without a subscription are DELAYED: the pre-trade gate values "
                    "entries on them at the far edge of limit_price_collar. Subscribe to "
                    "market data in IBKR's Client Portal for live prices.",
                    {"code": code, "symbol": symbol, "market_data_type": self.mode},
                )
            return code not in NO_DELAYED_EITHER
        why = f"IB {code}: {message}"
        self.no_data[symbol] = why
        fix = ("set market_data_type to \"auto\" or \"delayed\" in config.json, or subscribe to "
               "market data in IBKR's Client Portal" if self.mode == "live"
               else "enable delayed data or subscribe to market data in IBKR's Client Portal")
        self._say(
            f"no_data:{code}", Severity.HIGH,
            f"No market data for {symbol} (market_data_type {self.mode}; {why}): it has no "
            f"price, so entries in it wait and are skipped; {fix}",
            f"Symbols without a price are STALE and not traded. Fix: {fix}.",
            {"code": code, "symbol": symbol, "market_data_type": self.mode},
        )
        return False

    def on_competing_session(self, message: str, active: bool = True) -> None:
        """10197: another session (TWS on another machine, the mobile app) holds the data."""
        if active and not self.competing_session:
            self._said.discard("competing_session")
            self._say(
                "competing_session", Severity.HIGH,
                f"No market data: a competing live session holds it (IB {COMPETING_SESSION}: "
                f"{message}); prices go STALE and entries wait until it is logged out",
                "Log out the other IBKR session (TWS on another machine, the mobile app or "
                "Client Portal) that uses this username; prices resume on their own.",
                {"code": COMPETING_SESSION},
            )
        self.competing_session = active

    def on_history_refused(self, symbol: str, message: str) -> None:
        self.history_refused[symbol] = message
        self._say(
            "history", Severity.MEDIUM,
            f"Historical bars are not available (IB {HISTORY_ERROR}: {message}, first for "
            f"{symbol}): volatility sizing uses the fixed notional_per_position and the "
            "correlation groups leave such symbols out",
            "Without a market-data subscription IB gives no historical bars. Sizing falls back "
            "to strategy.notional_per_position; correlated exposure is not checked for those "
            "symbols.",
            {"code": HISTORY_ERROR, "symbol": symbol},
        )

    def _say(self, what: str, severity: Severity, message: str, body: str,
             details: dict[str, Any]) -> None:
        """One event and one alert per kind of problem (per run), never a flood per symbol."""
        if what in self._said:
            return
        self._said.add(what)
        log.warning("%s", message)
        if self._journal is not None:
            self._journal.event(EventType.MARKET_DATA, severity, message, details)
        if self._alert is not None:
            try:
                self._alert(Alert(
                    key=f"market_data:{what}", priority=severity, kind="trading",
                    title=message, body=body, facts={k: str(v) for k, v in details.items()},
                    timestamp=self._clock.now() if self._clock is not None else None,
                ))
            except Exception:
                log.exception("alert sink failed for market_data:%s", what)
