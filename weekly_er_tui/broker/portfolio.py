"""Folds ib_async's positions, portfolio, account values, PnL and ticks into PortfolioSnapshot.

No ib_async object leaks past this module. Prices come from streaming market data when it is
fresh, so the safety rules see a price shock at once rather than at TWS's next account push
(every few minutes); net liquidation is cash plus live market values for the same reason.
A price that has not updated for `stale_after` real seconds is flagged stale. Which data type
is asked (live, or delayed when the account has no subscription) is broker/market_data.py's.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from ib_async import IB, Stock, Ticker

from weekly_er_tui.broker.market_data import (
    COMPETING_SESSION,
    HISTORY_ERROR,
    LIVE,
    NOT_PERMITTED,
    HistoryUnavailable,
    MarketDataFeed,
)
from weekly_er_tui.broker.pacing import RequestPacer
from weekly_er_tui.broker.sectors import SectorBook
from weekly_er_tui.clock import Clock
from weekly_er_tui.listeners import notify
from weekly_er_tui.model import PortfolioSnapshot, Position
from weekly_er_tui.risk.confirm import AccountEvidence
from weekly_er_tui.risk.rules import UNKNOWN_SECTOR
from weekly_er_tui.store import Store

log = logging.getLogger("weekly_er_tui.portfolio")

__all__ = ["UNKNOWN_SECTOR", "PortfolioTracker"]

FIRST_PNL_TIMEOUT = 2.0  # real seconds a resync waits for IB's answer to reqPnL
# The account values without which cash plus positions is no figure of the account.
SYNC_VALUES = ("TotalCashValue", "NetLiquidation")


def _num(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) or math.isinf(f) or abs(f) >= 1e300 else f


class PortfolioTracker:
    def __init__(
        self,
        ib: IB,
        clock: Clock,
        *,
        account: str = "",
        sector_overrides: dict[str, str] | None = None,
        stale_after: float = 120.0,
        feed: MarketDataFeed | None = None,
        store: Store | None = None,
        pacer: RequestPacer | None = None,
    ) -> None:
        self.ib = ib
        self.clock = clock
        self.account = account
        self.sector_overrides = dict(sector_overrides or {})
        self.stale_after = stale_after
        self.feed = feed if feed is not None else MarketDataFeed()
        self._asked: dict[str, int] = {}  # symbol -> the market data type it was requested with
        self._type_sent = 0  # the reqMarketDataType TWS has on this connection (0: none yet)
        # Every request of a sync waits for a slot here, so the heartbeat never queues behind.
        self.pacer = pacer if pacer is not None else RequestPacer()
        self.sectors = SectorBook(ib, clock, self.pacer, store=store,
                                  overrides=self.sector_overrides)
        self._tickers: dict[str, Ticker] = {}
        # Symbols streamed on request (watch_symbols: the strategy's plan), held or not: every
        # (re)connect and every 1101 streams them again.
        self._wanted: list[str] = []
        self._price_seen: dict[str, tuple[float, datetime]] = {}
        self._listeners: list[Callable[[], None]] = []
        self._pending: set[asyncio.Task[Any]] = set()
        self._attached = False
        # Account PnL updates received, and how many had arrived at the latest execution (or
        # reqPnL): the daily P&L is current once an update came after that.
        self.pnl_updates = 0
        self._pnl_mark = 0
        self._pnl_arrived = asyncio.Event()
        # The account's first download after the latest (re)connect: counted per connect (the
        # safety check's gate tells connects apart by it), latched once it has all arrived.
        self.sync_epoch = 0
        self._synced = False

    # -- wiring ----------------------------------------------------------------------------
    def attach(self) -> None:
        if self._attached:
            return
        self._attached = True
        ib = self.ib
        ib.pendingTickersEvent += self._on_tickers
        ib.updatePortfolioEvent += self._on_update
        ib.positionEvent += self._on_position
        ib.pnlEvent += self._on_pnl
        ib.pnlSingleEvent += self._on_update
        ib.accountValueEvent += self._on_update
        ib.execDetailsEvent += self._on_exec
        ib.errorEvent += self._on_error

    def detach(self) -> None:
        if not self._attached:
            return
        self._attached = False
        ib = self.ib
        ib.pendingTickersEvent -= self._on_tickers
        ib.updatePortfolioEvent -= self._on_update
        ib.positionEvent -= self._on_position
        ib.pnlEvent -= self._on_pnl
        ib.pnlSingleEvent -= self._on_update
        ib.accountValueEvent -= self._on_update
        ib.execDetailsEvent -= self._on_exec
        ib.errorEvent -= self._on_error
        for task in self._pending:
            task.cancel()

    def on_change(self, fn: Callable[[], None]) -> None:
        """Call `fn` on every portfolio, PnL, account or price change (callers coalesce)."""
        self._listeners.append(fn)

    def _changed(self) -> None:
        notify(self._listeners, what="portfolio", logger=log)

    def _on_update(self, *args: Any) -> None:
        self._changed()

    def _on_pnl(self, *args: Any) -> None:
        self.pnl_updates += 1
        self._pnl_arrived.set()
        self._changed()

    def _on_exec(self, *args: Any) -> None:
        self._pnl_mark = self.pnl_updates

    @property
    def pnl_current(self) -> bool:
        """Whether an account PnL update arrived after the latest execution (and reqPnL)."""
        return self.pnl_updates > self._pnl_mark

    async def wait_pnl_current(self, timeout: float, figure: bool = False) -> bool:
        """Wait (real seconds) until the daily P&L reflects the latest fill (with `figure`: and
        is a number, not IB's unset max-double). IB sends PnL on its own schedule (about once a
        second), after the position message, so a snapshot taken as soon as a position is gone
        still shows the day's P&L from before the fill."""

        def ready() -> bool:
            if not self.pnl_current:
                return False
            pnl = self.ib.pnl(self.account)
            return not figure or (bool(pnl) and _num(pnl[0].dailyPnL) is not None)

        try:
            async with asyncio.timeout(timeout):
                while not ready():
                    self._pnl_arrived.clear()
                    await self._pnl_arrived.wait()
        except TimeoutError:
            return False
        return True

    def _on_position(self, pos: Any) -> None:
        symbol, con_id = pos.contract.symbol, pos.contract.conId
        self.sectors.note_con_id(symbol, con_id)
        if pos.position != 0 and self.ib.isConnected() and (
                symbol not in self._tickers or self._needs_pnl(con_id)):
            self._spawn(self._follow_new(symbol, con_id))
        self._changed()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _follow_new(self, symbol: str, con_id: int) -> None:
        """A position that was not there: its price, its sector and its PnL."""
        await self._watch(symbol)
        await self.sectors.learn([symbol])
        await self._pnl_single(con_id)

    def _on_tickers(self, tickers: set[Ticker]) -> None:
        if self.feed.competing_session and tickers:
            self.feed.on_competing_session("", active=False)  # data flows again
        now_real, now_clock = time.monotonic(), self.clock.now()
        for t in tickers:
            if t.contract is not None and _num(t.marketPrice()) is not None:
                self._price_seen[t.contract.symbol] = (now_real, now_clock)
        self._changed()

    def _on_error(self, req_id: int, code: int, message: str, contract: Any) -> None:
        symbol = getattr(contract, "symbol", "") if contract is not None else ""
        if code == COMPETING_SESSION:
            self.feed.on_competing_session(message)
        elif code == HISTORY_ERROR and symbol and "permission" in message.lower():
            self.feed.on_history_refused(symbol, message)
        elif code in NOT_PERMITTED and symbol in self._tickers:
            asked = self._asked.get(symbol, LIVE)
            if code == 10167 and asked != LIVE:
                return  # IB's notice that the delayed data asked for is what comes
            if self.feed.on_refusal(symbol, code, message, asked) and self.ib.isConnected():
                self._spawn(self._request_again(symbol))

    async def _request_again(self, symbol: str) -> None:
        """Stream a refused symbol again, now with the feed's (delayed) data type."""
        ticker = self._tickers.get(symbol)
        if ticker is None or ticker.contract is None:
            return
        if self._asked.get(symbol) == self.feed.requested_type:
            return
        self._asked[symbol] = self.feed.requested_type
        await self.pacer.slot()
        if not self.ib.isConnected() or self._tickers.get(symbol) is not ticker:
            return
        self.ib.cancelMktData(ticker.contract)
        self._apply_type()
        self._tickers[symbol] = self.ib.reqMktData(ticker.contract, "", False, False)

    def _apply_type(self) -> None:
        if self._type_sent != self.feed.requested_type:
            self.feed.apply(self.ib)
            self._type_sent = self.feed.requested_type

    def is_delayed(self, symbol: str) -> bool:
        """Whether the symbol's price is IB's delayed data (marketDataType 3 or 4)."""
        t = self._tickers.get(symbol)
        return t is not None and t.marketDataType in (3, 4)

    # -- resync (a ConnectionMonitor hook) -------------------------------------------------
    async def resync(self, ib: IB) -> dict[str, Any]:
        """After every (re)connect: PnL subscriptions, sectors and market data for every
        position. ib_async cleared its subscriptions on the disconnect, so all are new."""
        self.attach()
        self.sync_epoch += 1
        self._synced = False
        self._tickers.clear()
        self._type_sent = 0  # TWS forgot the data type with the connection
        self._apply_type()
        if not self.account:
            accounts = ib.managedAccounts()
            self.account = accounts[0] if accounts else ""
        # ib_async allows one PnL subscription per account (a second reqPnL asserts); one made
        # before (by another tracker on this connection) is live already.
        new_pnl = bool(self.account) and (self.account, "") not in ib.wrapper.pnlKey2ReqId
        if new_pnl:
            self._pnl_mark = self.pnl_updates
            ib.reqPnL(self.account)
        await self._stream_all()
        # The first check after a (re)connect must not run blind on the day's P&L: the session
        # baseline is net liquidation minus it, and max_daily_loss reads it. IB's first answer
        # is unset (max-double, notes row 16): the figure follows about a second later.
        if new_pnl and not await self.wait_pnl_current(FIRST_PNL_TIMEOUT, figure=True):
            log.warning("No P&L figure from IB within %gs of reqPnL", FIRST_PNL_TIMEOUT)
        self._changed()
        return {
            "market_data": len(self._tickers),
            "sectors_unknown": sorted(
                s for s in self._tickers if self.sectors.known(s) == UNKNOWN_SECTOR),
        }

    async def resubscribe(self, ib: IB) -> dict[str, Any]:
        """On 1101 (restored, market data lost): cancel and request every subscription again."""
        symbols = list(self._tickers)
        for symbol in symbols:
            ticker = self._tickers.pop(symbol)
            if ticker.contract is not None:
                ib.cancelMktData(ticker.contract)
        await self._stream_all()
        return {"resubscribed": sorted(self._tickers)}

    async def watch_symbols(self, symbols: Sequence[str]) -> None:
        """Stream prices (and learn sectors) for symbols not held yet: the strategy's plan, so
        the pre-trade gate can price an entry before it is sent. The symbols are remembered
        (replacing the last call's): after a reconnect or a 1101 they are streamed again, so an
        entry after a drop is not refused for want of a quote."""
        self._wanted = list(dict.fromkeys(symbols))
        if not self.ib.isConnected():
            return
        # Shielded: a caller that stops waiting (the strategy's timeout) leaves the paced
        # requests going; 500 symbols take about 25 s.
        task = asyncio.ensure_future(self._watch_wanted())
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)
        await asyncio.shield(task)

    async def _watch_wanted(self) -> None:
        await self.sectors.learn(self._wanted)  # the conId too: a ticker is keyed by it
        await asyncio.gather(*(self._watch(s) for s in self._wanted))

    async def _stream_all(self) -> None:
        """Market data for every position and wanted symbol, their sectors, PnL per position;
        every request paced (broker/pacing.py). Held positions' prices come first: the safety
        rules read them; then every sector, then the plan's prices, then (after) PnL per
        position."""
        held = [p.contract for p in self.ib.positions() if p.position != 0]
        for c in held:
            self.sectors.note_con_id(c.symbol, c.conId)
        await asyncio.gather(*(self._watch(c.symbol) for c in held))
        await self.sectors.learn([*(c.symbol for c in held), *self._wanted])
        await asyncio.gather(*(self._watch(s) for s in self._wanted))
        # PnL per position only ranks the daily-loss closures (unrealized stands in until it
        # comes): it follows after the resync, so 500 positions are CONNECTED sooner.
        self._spawn(self._pnl_singles([c.conId for c in held]))

    async def _pnl_singles(self, con_ids: list[int]) -> None:
        await asyncio.gather(*(self._pnl_single(i) for i in con_ids))

    async def _watch(self, symbol: str) -> None:
        """Stream one symbol's price (it needs its conId: ib_async keys a ticker by it)."""
        if symbol in self._tickers:
            return
        con_id = self.sectors.con_id(symbol)
        if not con_id:
            log.warning("No conId for %s (%s): no price for it yet", symbol,
                        self.sectors.why_unknown.get(symbol, "no contract details"))
            return
        await self.pacer.slot()
        if symbol in self._tickers or not self.ib.isConnected():
            return
        stock = Stock(symbol, "SMART", "USD")
        stock.conId = con_id
        self._apply_type()
        self._asked[symbol] = self.feed.requested_type
        self._tickers[symbol] = self.ib.reqMktData(stock, "", False, False)

    def _needs_pnl(self, con_id: int) -> bool:
        return bool(self.account and con_id) and (
            (self.account, "", con_id) not in self.ib.wrapper.pnlSingleKey2ReqId)

    async def _pnl_single(self, con_id: int) -> None:
        if not self._needs_pnl(con_id):
            return
        await self.pacer.slot()
        if self._needs_pnl(con_id) and self.ib.isConnected():
            self.ib.reqPnLSingle(self.account, "", con_id)

    async def sector_of(self, symbol: str) -> str:
        """The symbol's sector, asking IB's contract details first if it is not known yet."""
        return await self.sectors.sector_of(symbol)

    async def daily_closes(self, symbol: str, timeout: float = 10.0) -> list[float]:
        """About two months of daily closes, oldest first (for volatility sizing). Raises
        HistoryUnavailable when IB refuses the bars (no market-data subscription); a refused
        symbol is not asked again in this run (a permission does not come by itself)."""
        if symbol in self.feed.history_refused:
            raise HistoryUnavailable(
                f"IB refused daily bars for {symbol}: {self.feed.history_refused[symbol]}")
        await self.pacer.slot()
        bars = await asyncio.wait_for(
            self.ib.reqHistoricalDataAsync(
                Stock(symbol, "SMART", "USD"), endDateTime="", durationStr="2 M",
                barSizeSetting="1 day", whatToShow="TRADES", useRTH=True,
            ),
            timeout,
        )
        if not bars and symbol in self.feed.history_refused:
            raise HistoryUnavailable(
                f"IB refused daily bars for {symbol}: {self.feed.history_refused[symbol]}")
        return [float(b.close) for b in bars]

    def known_sector(self, symbol: str) -> str:
        return self.sectors.known(symbol)

    # -- reading ---------------------------------------------------------------------------
    def quote(self, symbol: str) -> tuple[float | None, float | None, float | None]:
        """(bid, ask, last) from streaming data, None where unknown."""
        t = self._tickers.get(symbol)
        if t is None:
            return None, None, None
        return _num(t.bid), _num(t.ask), _num(t.last) or _num(t.marketPrice())

    def price(self, symbol: str) -> float | None:
        t = self._tickers.get(symbol)
        return _num(t.marketPrice()) if t is not None else None

    def account_value(self, tag: str) -> float | None:
        for v in self.ib.accountValues(self.account):
            if v.tag == tag and v.currency in ("USD", "BASE", ""):
                return _num(v.value)
        return None

    def unmatched_positions(self) -> tuple[str, ...]:
        """Positions on which the position stream and the account stream (whose portfolio rows
        come with the cash) differ, as "AAPL: position 0, account stream 130": while there are
        any, cash plus positions is not a figure of the account."""
        held = {p.contract.symbol: float(p.position) for p in self.ib.positions(self.account)
                if p.position}  # fmt: skip
        reported = {i.contract.symbol: float(i.position) for i in self.ib.portfolio(self.account)
                    if i.position}  # fmt: skip
        return tuple(
            f"{sym}: position {held.get(sym, 0.0):g}, account stream {reported.get(sym, 0.0):g}"
            for sym in sorted(held.keys() | reported.keys())
            if held.get(sym, 0.0) != reported.get(sym, 0.0)
        )

    def initial_sync_missing(self) -> tuple[str, ...]:
        """What of the account's first download since the latest (re)connect has not arrived,
        in words; empty once the positions, their portfolio rows and the account values are
        all in. ib_async gives up waiting for a slow account download after its connect
        timeout: the positions are there, the cash not. Once complete it stays so until the
        next connect (a stream lagging a fill later is risk/confirm.py's)."""
        if self._synced:
            return ()
        missing: list[str] = []
        absent = [t for t in SYNC_VALUES if self.account_value(t) is None]
        if absent:
            missing.append(f"the account values ({', '.join(absent)})")
        if unmatched := self.unmatched_positions():
            missing.append(f"the portfolio rows of the positions ({'; '.join(unmatched)})")
        self._synced = not missing
        return tuple(missing)

    def account_evidence(self) -> AccountEvidence:
        """What each of the account's streams says now, for risk/confirm.py: the snapshot's net
        liquidation, positions on which the position stream and the account stream (portfolio
        rows, which come with the cash) differ, IB's own NetLiquidation and daily P&L."""
        snap = self.snapshot()
        return AccountEvidence(
            net_liquidation=snap.net_liquidation,
            unmatched_positions=self.unmatched_positions(),
            ib_net_liquidation=self.account_value("NetLiquidation"),
            daily_pnl=snap.daily_pnl,
            pnl_current=self.pnl_current,
        )

    def snapshot(self) -> PortfolioSnapshot:
        now_real, now = time.monotonic(), self.clock.now()
        items = {p.contract.symbol: p for p in self.ib.portfolio(self.account)}
        pnl_single = {p.conId: p for p in self.ib.wrapper.reqId2PnlSingle.values()}
        positions: list[Position] = []
        for pos in self.ib.positions(self.account):
            if pos.position == 0:
                continue
            symbol = pos.contract.symbol
            qty = float(pos.position)
            avg = float(pos.avgCost)
            item = items.get(symbol)
            price = self.price(symbol)
            seen = self._price_seen.get(symbol)
            if price is None and item is not None:
                price = _num(item.marketPrice)
            price = price if price is not None else avg
            single = pnl_single.get(pos.contract.conId)
            fresh = seen is not None and now_real - seen[0] <= self.stale_after
            ticker = self._tickers.get(symbol)
            # Freshness is judged in real seconds (data flow is a network matter); a fresh price
            # is "as of now" on the engine's clock, so clock-based rules agree at any clock speed.
            positions.append(Position(
                symbol=symbol,
                quantity=qty,
                avg_cost=avg,
                market_price=price,
                market_value=qty * price,
                unrealized_pnl=qty * (price - avg),
                realized_pnl=_num(item.realizedPNL) or 0.0 if item is not None else 0.0,
                sector=self.known_sector(symbol),
                con_id=pos.contract.conId,
                daily_pnl=_num(single.dailyPnL) if single is not None else None,
                price_time=now if fresh else (seen[1] if seen else None),
                stale=not fresh,
                delayed=self.is_delayed(symbol),
                bid=_num(ticker.bid) if ticker is not None else None,
                ask=_num(ticker.ask) if ticker is not None else None,
                prev_close=_num(ticker.close) if ticker is not None else None,
            ))
        positions.sort(key=lambda p: p.symbol)
        cash = self.account_value("TotalCashValue") or 0.0
        gross = sum(abs(p.market_value) for p in positions)
        net = cash + sum(p.market_value for p in positions)
        if not self.ib.accountValues(self.account):
            net = self.account_value("NetLiquidation") or net
        pnl = self.ib.pnl(self.account)
        daily = _num(pnl[0].dailyPnL) if pnl else None
        realized = _num(pnl[0].realizedPnL) if pnl else None
        return PortfolioSnapshot(
            timestamp=now,
            account=self.account,
            net_liquidation=net,
            total_cash=cash,
            gross_position_value=gross,
            buying_power=self.account_value("BuyingPower") or 0.0,
            available_funds=self.account_value("AvailableFunds") or 0.0,
            daily_pnl=daily,
            unrealized_pnl=sum(p.unrealized_pnl for p in positions),
            realized_pnl=realized or 0.0,
            positions=tuple(positions),
        )
