"""The top line: PAPER or LIVE (and SHADOW), the account, the trading state badge and the ET
clock."""

from __future__ import annotations

from datetime import datetime

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.content import Content
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Static

from weekly_er_tui.model import TradingState
from weekly_er_tui.ui import formatting as fmt

TRADING_MARK = {
    TradingState.ACTIVE: "▶",
    TradingState.PAUSED: "‖",
    TradingState.REDUCING: "▼",
    TradingState.HALTED: "■",
}


class ModeBadge(Widget):
    """PAPER or LIVE: real money is never mistaken for paper. SHADOW in front when nothing is
    sent (shadow mode), so a shadow engine is never mistaken for one that trades."""

    live: reactive[bool] = reactive(False)
    shadow: reactive[bool] = reactive(False)

    def watch_live(self, live: bool) -> None:
        self.set_class(live, "-live")
        self.set_class(not live, "-paper")

    def watch_shadow(self, shadow: bool) -> None:
        self.set_class(shadow, "-shadow")

    def render(self) -> str:
        account = "LIVE" if self.live else "PAPER"
        return f" SHADOW · {account} " if self.shadow else f" {account} "


class TradingBadge(Widget):
    """ACTIVE, PAUSED, REDUCING or HALTED, in words and color."""

    trading_state: reactive[TradingState] = reactive(TradingState.ACTIVE)

    def watch_trading_state(self, state: TradingState) -> None:
        for each in TradingState:
            self.set_class(each is state, f"-{each.value.lower()}")

    def render(self) -> str:
        state = self.trading_state
        return f" {TRADING_MARK[state]} {state.value} "


class EtClock(Widget):
    """Market time (America/New_York), from the app's clock."""

    now: reactive[datetime | None] = reactive(None)

    def render(self) -> str:
        return fmt.et_clock(self.now) if self.now else ""


class AccountLabel(Widget):
    # layout=True: the label is sized to its text, and the account arrives after the first
    # render (on connect); without a new layout it stayed as wide as "—" and showed nothing.
    account: reactive[str] = reactive("", layout=True)

    def render(self) -> Content:
        return Content.assemble(("account ", "dim"), (self.account or "—", "bold"))


class CockpitHeader(Horizontal):
    """One line that says whose money, in what state, at what market time."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.mode = ModeBadge(id="mode")
        self.account = AccountLabel(id="account")
        self.trading = TradingBadge(id="trading")
        self.clock = EtClock(id="clock")

    def compose(self) -> ComposeResult:
        yield self.mode
        yield self.account
        yield self.trading
        yield Static(id="header-gap")
        yield self.clock

    def show(self, *, live: bool, account: str, trading_state: TradingState,
             shadow: bool = False) -> None:
        self.mode.live = live
        self.mode.shadow = shadow
        # Real money tints the whole line, not only the badge.
        self.set_class(live, "-live")
        self.account.account = account
        self.trading.trading_state = trading_state

    def tick(self, now: datetime) -> None:
        self.clock.now = now
