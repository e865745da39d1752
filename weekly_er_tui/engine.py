"""TradingEngine: wires connection, safety, strategy, alerts, journal and store; owns EngineState.

Hosts (the Textual app, the headless runner) call `run()` as one long-running task and the
commands pause, resume, flatten, reconnect and check_now. The engine publishes one immutable
EngineState; it is rebuilt lazily when something changed, so a burst of 1,000 ticks costs the
host one rebuild per frame it asks for, not 1,000.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from weekly_er_tui.alerts import AlertManager
from weekly_er_tui.broker.closing import CloseRequest
from weekly_er_tui.broker.connection import ConnectionConfig, ConnectionMonitor
from weekly_er_tui.broker.market_data import MarketDataFeed
from weekly_er_tui.broker.rebuild import LostStateRebuild
from weekly_er_tui.broker.stack import build_broker_stack
from weekly_er_tui.broker.working_orders import OrderAges, find_cancellable, working_orders
from weekly_er_tui.clock import ET, Clock, WallClock
from weekly_er_tui.config import AppConfig
from weekly_er_tui.control.lock import AccountLock, AccountLocked
from weekly_er_tui.control.protocol import socket_path
from weekly_er_tui.control.server import ControlServer, SocketInUse
from weekly_er_tui.event_alerts import EventAlerts
from weekly_er_tui.journal import Fill, Journal
from weekly_er_tui.listeners import notify
from weekly_er_tui.model import (
    Alert,
    EngineState,
    EventType,
    PortfolioSnapshot,
    Severity,
    TradingState,
    WorkingOrder,
)
from weekly_er_tui.records import RecordsWatch
from weekly_er_tui.safety import PositionSafetyManager
from weekly_er_tui.safety.closer import Closer
from weekly_er_tui.stop_alert import REFUSED, stop_words
from weekly_er_tui.store import Store
from weekly_er_tui.strategy.base import Strategy
from weekly_er_tui.strategy.calendars import MarketCalendar, market_calendar
from weekly_er_tui.strategy.weekly_er import WeeklyERStrategy

log = logging.getLogger("weekly_er_tui.engine")

StateListener = Callable[[EngineState], None]


class TradingEngine:
    def __init__(
        self,
        config: AppConfig,
        *,
        data_dir: Path | str = ".",
        clock: Clock | None = None,
        connection: ConnectionConfig | None = None,
        journal: Journal | None = None,
        store: Store | None = None,
        alerts: AlertManager | None = None,
        strategy: Strategy | None = None,
        calendar: MarketCalendar | None = None,
    ) -> None:
        self.config = config
        self.clock: Clock = clock or WallClock()
        self.data_dir = Path(data_dir)
        # Shadow mode: the same engine, but no order, cancel or change of one reaches IB
        # (broker/sender.py); its state database is its own and the account's positions are
        # the other system's (README "Shadow mode").
        self.shadow = config.shadow
        self.journal = journal or Journal(self.data_dir, self.clock)
        self.store = store or Store.in_data_dir(self.data_dir, shadow=self.shadow)
        self.alerts = alerts or AlertManager(
            config.alerts, self.journal, self.clock, account=config.account or ""
        )
        self.calendar = calendar or market_calendar()
        self.records = RecordsWatch(self.journal, self.store, self.alert)
        limits = config.safety_limits
        self.monitor = ConnectionMonitor(
            connection or ConnectionConfig.from_config(config),
            journal=self.journal, alert=self.alert, clock=self.clock,
        )
        self.ib = self.monitor.ib
        self.broker = build_broker_stack(
            self.ib, self.clock, self.store, self.journal, limits,
            trading_state=lambda: self.safety.trading_state,
            market_open=lambda: self.calendar.is_open(self.clock.now()),
            closed_until=lambda: self.calendar.closed_until(self.clock.now()),
            account=config.account or "",
            feed=MarketDataFeed(config.market_data_type, journal=self.journal,
                                alert=self.alert, clock=self.clock),
            shadow_dir=self.data_dir if self.shadow else None,
            alert=self.alert, wait_connected=self.monitor.wait_connected,
            correlated_groups=lambda: self.safety.correlated_groups,
        )
        self.portfolio = self.broker.portfolio
        self.fills = self.broker.fills
        self.shadow_sender = self.broker.shadow_sender
        self.executor = self.broker.executor
        self.safety = PositionSafetyManager(
            limits, store=self.store, journal=self.journal, alert=self.alert, clock=self.clock,
            portfolio=self.portfolio,
            check_interval=config.connection_monitoring.safety_check_interval,
            is_connected=lambda: self.monitor.is_connected, shadow=self.shadow,
        )
        self.safety.executor = self.executor
        # Every closing action (the trader's flatten, the emergency stop, the daily-loss
        # reduction, the Friday close and its backup) goes through this one closer.
        self.closer = Closer(self.executor, self.journal, self.clock, alert=self.alert,
                             on_change=self._changed)
        self.safety.closer = self.closer
        self.strategy = WeeklyERStrategy(
            config, clock=self.clock, journal=self.journal, store=self.store,
            executor=self.executor, portfolio=self.portfolio, closer=self.closer,
            trading_state=lambda: self.safety.trading_state,
            is_connected=lambda: self.monitor.is_connected,
            wait_connected=self.monitor.wait_connected,
            alert=self.alert, strategy=strategy, calendar=self.calendar,
            history=self._daily_closes, on_change=self._changed,
            watch_symbols=self.portfolio.watch_symbols,
        )
        # After every (re)connect, in this order: the account's lock (when the config names no
        # account), prices and PnL, missed fills, our intents, then a queued flatten and a
        # safety check.
        # A shadow engine sends nothing, so it takes no lock, refuses no other engine and has
        # nothing at IB to rebuild or adopt: every order there is the other system's.
        if not self.shadow:
            self.monitor.add_resync_hook(self._claim_connected_account)
            self.monitor.add_resync_hook(self._refuse_if_another_engine_trades)
        self.monitor.add_resync_hook(self.portfolio.resync)
        self.monitor.add_resync_hook(self.fills.resync)
        if not self.shadow:
            self.monitor.add_resync_hook(LostStateRebuild(
                self.store, self.journal, self.clock, self.alert, config.account or "").resync)
            self.monitor.add_resync_hook(self.executor.reconcile)
        self.monitor.add_resync_hook(self._after_resync)
        self.monitor.add_data_lost_hook(self.portfolio.resubscribe)
        self.monitor.add_listener(lambda _stats: self._changed())
        self.portfolio.on_change(self._on_portfolio_change)
        self.fills.on_fill(self._on_fill)
        # The working-orders pane follows every order's status, ours and other clients'.
        self.ib.orderStatusEvent += lambda _trade: self._changed()
        self.ib.openOrderEvent += lambda _trade: self._changed()
        self.safety.add_listener(self._changed)
        self.alerts.subscribe(lambda _record: self._changed())
        # Fills, the closes' verdicts and IB's farms, from the journal's events.
        self.journal.subscribe(EventAlerts(self.store, self.alert).on_event)
        self.alerts.set_context(account=config.account or "",
                                positions_summary_fn=self._positions_summary,
                                tag="SHADOW" if self.shadow else None)

        self._version = 0
        self._state: EngineState | None = None
        self._listeners: list[StateListener] = []
        self._notify_scheduled = False
        self._running = False
        self._stop = asyncio.Event()
        self._stopped_by: str | None = None  # who asked for the stop; None: nobody did
        self._tasks: list[asyncio.Task[Any]] = []
        self._flatten_pending = False
        self._flatten_running = False
        self._flatten_task: asyncio.Task[Any] | None = None
        self._correlation_task: asyncio.Future[None] | None = None
        self._correlation_again = False
        self._closes_cache: dict[tuple[str, str], list[float]] = {}
        self._last_known: PortfolioSnapshot | None = None
        self._last_orders: tuple[WorkingOrder, ...] = ()
        self._order_ages = OrderAges(self.ib, self.clock)  # the pane's age, on the Clock
        # One engine per account on this machine; `refused` says why this one does not trade.
        self.refused = ""
        self._locks: dict[str, AccountLock] = {}
        self.control = ControlServer(
            self, socket_path(self.data_dir), self.data_dir,
            about=lambda: {"limits": limits.model_dump(mode="json"),
                           "clock_speed": self.clock.speed, "title": "Weekly ER"},
            journal=lambda message, details: self.journal.event(
                EventType.SYSTEM, Severity.INFO, message, details),
        )

    # -- state -----------------------------------------------------------------------------
    def _changed(self) -> None:
        self._version += 1
        self._state = None
        if self._listeners and not self._notify_scheduled:
            self._notify_scheduled = True
            with contextlib.suppress(RuntimeError):  # no running loop: nobody to notify yet
                asyncio.get_running_loop().call_soon(self._notify)

    def _notify(self) -> None:
        self._notify_scheduled = False
        state = self.state
        notify(self._listeners, state, what="engine state", logger=log)

    def _on_portfolio_change(self) -> None:
        self.safety.request_check()
        self._changed()

    def _on_fill(self, fill: Fill) -> None:
        self.strategy.on_fill(fill)
        self._refresh_correlations_soon()
        self._changed()

    def _refresh_correlations_soon(self) -> None:
        """Regroup the held and planned symbols by correlation (after a resync or a fill); one
        refresh at a time: a burst of fills costs one."""
        if self._correlation_task is not None and not self._correlation_task.done():
            self._correlation_again = True
            return
        self._correlation_again = False
        self._correlation_task = asyncio.ensure_future(self._refresh_correlations())

    async def _refresh_correlations(self) -> None:
        try:
            while True:
                snap = self.portfolio.snapshot()
                symbols = [p.symbol for p in snap.open_positions]
                symbols += [e.symbol for e in self.strategy.plan]
                await self.safety.refresh_correlations(symbols, self._daily_closes)
                if not self._correlation_again:
                    return
                self._correlation_again = False
        except Exception:
            log.exception("correlation refresh failed")

    @property
    def state(self) -> EngineState:
        if self._state is None:
            self._state = self._build_state()
        return self._state

    def _snapshot(self) -> PortfolioSnapshot | None:
        # Positions without their cash (a connect's account download not in) are no account.
        if ((not self.ib.isConnected() and not self.ib.positions())
                or self.safety.initial_sync_waiting()):
            return None
        return self.portfolio.snapshot()

    def _shown_portfolio(self) -> PortfolioSnapshot | None:
        """The account now; while the link is down, the positions as last known (each marked
        stale, `last_known_at` saying since when): a drop must not look like a flat account,
        and a queued flatten closes exactly these on reconnect."""
        snap = self._snapshot()
        if snap is not None:
            self._last_known = snap
            return snap
        last = self._last_known
        if last is None or not last.open_positions:
            return None
        return replace(last, positions=tuple(replace(p, stale=True) for p in last.positions),
                       last_known_at=last.timestamp)

    def _shown_orders(self) -> tuple[WorkingOrder, ...]:
        """The working orders; while the link is down, those last known."""
        if self.ib.isConnected():
            self._last_orders = working_orders(self.ib, self.ib.client.clientId,
                                               self._order_ages)
        return self._last_orders

    def _build_state(self) -> EngineState:
        return EngineState(
            timestamp=self.clock.now(),
            account=self.portfolio.account or self.config.account or "",
            live=(self.config.live if self.monitor.account_live is None
                  else self.monitor.account_live),
            shadow=self.shadow,
            is_running=self._running,
            trading_state=self.safety.trading_state,
            trading_state_reason=self.safety.trading_state_reason,
            connection=self.monitor.stats(),
            portfolio=self._shown_portfolio(),
            safety=self.safety.last_report,
            last_safety_check=self.safety.last_check,
            plan=self.strategy.plan,
            alerts=self.alerts.records[:200],
            flatten_pending=self._flatten_pending,
            flatten_in_progress=self._flatten_running or self.closer.running,
            closing=self.closer.progress,
            orders=self._shown_orders(),
            friday_close=self.strategy.friday_close_state,
            strategy_note=self.strategy.note,
            strategy_error=self.strategy.error,
            version=self._version,
        )

    def subscribe(self, fn: StateListener) -> Callable[[], None]:
        self._listeners.append(fn)
        return lambda: self._listeners.remove(fn) if fn in self._listeners else None

    # -- running ---------------------------------------------------------------------------
    async def run(self) -> None:
        """Run everything until stop(). Returns after a clean shutdown, or at once (with
        `refused` set) when another engine trades the account or serves this data directory."""
        if not await self._claim(self.config.account or ""):
            return
        self._running = True
        self._changed()  # hosts wait for this: the account and the socket are this engine's
        self._stop.clear()
        cm = self.monitor.config
        self.journal.event(
            EventType.SYSTEM, Severity.INFO,
            f"Engine started: IBKR {cm.address} clientId {cm.client_id} "
            f"({'LIVE' if self.config.live else 'paper'}), trading state "
            f"{self.safety.trading_state.value}"
            + ("; SHADOW mode: every order is journaled in logs/shadow_orders.csv and NONE is "
               "sent" if self.shadow else ""),
            {"data_dir": str(self.data_dir), "host": socket.gethostname()},
        )
        if self.safety.trading_state is TradingState.HALTED:
            self.journal.event(
                EventType.TRADING_HALTED, Severity.HIGH,
                f"Still HALTED from before the restart: {self.safety.trading_state_reason}",
                {},
            )
        error = self.strategy.load()
        if error:
            log.error("Strategy not started: %s", error)
        self._tasks = [
            asyncio.create_task(self.alerts.run(), name="alerts"),
            asyncio.create_task(self._guard("safety monitor", self.safety.monitor()),
                                name="safety"),
        ]
        await self.monitor.start()
        if self.monitor.refusal:  # a live account without allow_live: said and alerted
            self.refused = self.monitor.refusal
            self._stopped_by = REFUSED
            self._stop.set()
        if not error and not self.refused:
            self._tasks.append(
                asyncio.create_task(self._guard("strategy", self.strategy.run()),
                                    name="strategy")
            )
        self._changed()
        try:
            await self._stop.wait()
        finally:
            await self._shutdown()

    async def _guard(self, name: str, coro: Any) -> None:
        """A long-running part that dies is loud: event, alert, and the rest keeps running."""
        try:
            await coro
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("%s stopped", name)
            self.journal.event(EventType.SYSTEM, Severity.CRITICAL,
                               f"The {name} stopped with an error: {exc!r}", {"part": name})
            self.alert(Alert(key=f"monitoring_stopped:{name}", priority=Severity.CRITICAL,
                             kind="system", title=f"The {name} stopped: {exc!r}",
                             body="Restart weekly-er-tui; until then this part is not running."))

    async def stop(self, by: str = "the trader") -> None:
        """Stop (deliberately: `by` names who asked, for the "monitoring stopped" alert)."""
        self._stopped_by = self._stopped_by or by
        self._stop.set()

    async def _shutdown(self) -> None:
        """Journal flushed, orders left as they are (never a surprise flatten), a 'monitoring
        stopped' alert sent, disconnect."""
        shown = self._shown_portfolio()  # while the link is down: the positions last known
        positions = len(shown.open_positions) if shown is not None else 0
        words = stop_words(positions, self._stopped_by)
        self.journal.event(EventType.SYSTEM, words.severity, words.message,
                           {"positions": positions, "stopped_by": self._stopped_by})
        self.alert(words.alert)
        for task in self._tasks:
            if task.get_name() != "alerts":
                task.cancel()
        await self.closer.stop()  # a close under way stops; its orders stay as they are
        for extra in (self._flatten_task, self._correlation_task):
            if extra is not None:
                extra.cancel()
        for task in self._tasks:
            if task.get_name() != "alerts":
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        await self.alerts.drain(10.0)
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.monitor.stop()
        self.fills.close()
        self.portfolio.detach()
        self._running = False
        self._changed()
        await self._release()

    def close(self) -> None:
        """Close the files (after run() returned)."""
        self.journal.close()
        self.store.close()
        if self.shadow_sender is not None:
            self.shadow_sender.close()

    # -- commands --------------------------------------------------------------------------
    async def pause(self, reason: str = "paused by the trader") -> None:
        self.safety.pause(reason)

    async def resume(self, reason: str = "resumed by the trader") -> None:
        self.safety.resume(reason)

    async def check_now(self) -> None:
        await self.safety.check("manual")

    async def reconnect(self) -> None:
        await self.monitor.reconnect_now()

    async def flatten(self, reason: str = "emergency flatten by the trader") -> None:
        """Halt, cancel every order and close every position. While the link is down the
        flatten is queued (and shown as queued) and runs right after the next resync."""
        self.safety.set_trading_state(TradingState.HALTED, reason)
        if not self.monitor.is_connected:
            if not self._flatten_pending:
                self._flatten_pending = True
                self.journal.event(EventType.EMERGENCY_CLOSE, Severity.CRITICAL,
                                   f"Emergency close QUEUED ({reason}): not connected; it runs "
                                   f"as soon as the connection is back", {"reason": reason})
            self._changed()
            return
        await self._run_flatten(reason)

    async def cancel_order(self, order_id: int, reason: str = "cancelled by the trader") -> None:
        """Cancel one working order of this app (ValueError, nothing sent, when it is gone,
        done or another client's)."""
        if not self.monitor.is_connected:
            raise ValueError("not connected: nothing sent (the order stays as it is at IB)")
        trade = find_cancellable(self.ib, order_id, self.ib.client.clientId)
        self.journal.event(EventType.ORDER_CANCELLED, Severity.MEDIUM,
                           f"Cancel asked ({reason}): order {order_id} {trade.order.action} "
                           f"{trade.order.totalQuantity:g} {trade.contract.symbol}",
                           {"order_id": order_id, "order_ref": trade.order.orderRef})
        await self.executor.cancel_orders([trade])

    async def close_position(self, symbol: str, reason: str = "closed by the trader") -> None:
        """Close one position at market through the closer (its gate, the never-oversell
        rule, its verdict); the symbol's working orders are cancelled first."""
        if not self.monitor.is_connected:
            raise ValueError(f"not connected: nothing sent for {symbol} (F queues a flatten "
                             f"of every position for the reconnect)")
        if symbol not in self.executor.open_positions([symbol]):
            raise ValueError(f"no open position in {symbol}: nothing sent")
        await self.closer.close(CloseRequest(reason="MANUAL", why=f"{reason}: {symbol}",
                                             symbols=(symbol,)))

    async def _run_flatten(self, reason: str) -> None:
        if self._flatten_running:
            return
        self._flatten_running = True
        self._flatten_pending = False
        self._changed()
        try:
            await self.safety.emergency_close("EMERGENCY", reason)
        finally:
            self._flatten_running = False
            self._changed()

    async def _daily_closes(self, symbol: str) -> list[float]:
        """Daily closes, fetched once per symbol and ET day: IB paces historical data requests
        (about 60 per 10 minutes), and the grouping does not need today's last tick."""
        key = (symbol, self.clock.now().astimezone(ET).date().isoformat())
        if key not in self._closes_cache:
            self._closes_cache[key] = await self.portfolio.daily_closes(symbol)
        return self._closes_cache[key]

    async def _after_resync(self, ib: Any) -> dict[str, Any]:
        self._refresh_correlations_soon()
        if self._flatten_pending:
            self._flatten_task = asyncio.create_task(
                self._run_flatten("queued emergency flatten, run on reconnect"),
                name="queued flatten",
            )
        self.safety.request_check()
        return {"flatten_queued": self._flatten_pending}

    # -- one engine per account, and its control socket ------------------------------------
    async def _claim(self, account: str) -> bool:
        """Lock the account (when known) and serve the control socket; False (and `refused`,
        journaled and alerted) when another engine holds either."""
        try:
            if account and not self.shadow:
                self._lock(account)
            if not self.control.serving:
                await self.control.start()
        except (AccountLocked, SocketInUse) as exc:
            await self._release()
            self._refuse(str(exc))
            return False
        except OSError as exc:  # the data directory cannot hold a socket: trade without it
            log.warning("control socket not served: %s", exc)
            self.journal.event(EventType.SYSTEM, Severity.MEDIUM,
                               f"Control socket not served ({exc}): attach, status and "
                               f"commands from the command line do not reach this engine", {})
        return True

    def _lock(self, account: str) -> None:
        lock = self._locks.get(account) or AccountLock(account, self.data_dir)
        lock.acquire()
        self._locks[account] = lock

    def _refuse(self, why: str) -> None:
        self.refused = why
        log.critical("%s", why)
        self._stopped_by = self._stopped_by or REFUSED
        self.journal.event(EventType.SYSTEM, Severity.CRITICAL, f"Not trading: {why}", {})
        self.alert(Alert(key="engine_refused", priority=Severity.HIGH, kind="system",
                         title="A second weekly-er-tui engine refused to trade", body=why))

    async def _claim_connected_account(self, ib: Any) -> dict[str, Any]:
        """With no account configured, the login's account is known only now: lock it before
        anything can trade, or drop the link and stop."""
        accounts = ib.managedAccounts()
        account = self.config.account or (accounts[0] if accounts else "")
        if account:
            self.alerts.set_context(account=account)  # every alert names it from now on
        if not account or account in self._locks:
            return {}
        try:
            self._lock(account)
        except AccountLocked as exc:
            self._refuse(str(exc))
            self._stop.set()
            ib.disconnect()  # resync ends here: the link is never CONNECTED, nothing is sent
        return {}

    async def _refuse_if_another_engine_trades(self, ib: Any) -> dict[str, Any]:
        """At every connect, before anything is rebuilt, adopted or sent: our orderRefs working
        at IB that this data directory never sent mean another engine trades the account."""
        if self.refused:
            return {}
        foreign = await self.executor.foreign_working_orders()
        if not foreign:
            return {}
        self._refuse(
            f"working orders with this app's orderRefs that this data directory "
            f"({self.data_dir.absolute()}) never sent are at IB: {', '.join(foreign)}. Another "
            f"weekly-er-tui engine trades this account (on another machine, or from another data "
            f"directory), or this data directory lost its state database. This engine does not "
            f"trade: stop the other engine (or cancel those orders in TWS), then start again."
        )
        self._stop.set()
        ib.disconnect()  # resync ends here: the link is never CONNECTED, nothing is sent
        return {"foreign_orders": foreign}

    async def _release(self) -> None:
        await self.control.stop()
        for lock in self._locks.values():
            lock.release()
        self._locks.clear()

    async def get_system_status(self) -> dict[str, Any]:
        """The documented status dict."""
        st = self.state
        return {
            "mode": "shadow" if self.shadow else "trade",
            "is_running": st.is_running,
            "trading_paused": st.trading_state is not TradingState.ACTIVE,
            "trading_state": st.trading_state.value,
            "trading_state_reason": st.trading_state_reason,
            "last_safety_check": st.last_safety_check.isoformat()
            if st.last_safety_check else None,
            "connection_state": st.connection.state.value,
            "connection": st.connection.to_dict(),
            "risk_score": st.safety.overall_risk_score if st.safety else None,
            "positions": len(st.portfolio.open_positions) if st.portfolio else 0,
            "flatten_pending": st.flatten_pending,
            "strategy_error": st.strategy_error,
        }

    # -- helpers ---------------------------------------------------------------------------
    def alert(self, alert: Alert) -> None:
        if self.refused and alert.key != "engine_refused":
            # A refused engine's link drop and stop are no news: the engine holding the
            # account still monitors it.
            log.info("not alerted (this engine refused to trade): %s", alert.title)
            return
        self.alerts.alert(alert if alert.timestamp else replace(alert, timestamp=self.clock.now()))

    def _positions_summary(self) -> str:
        snap = self._snapshot()
        if snap is None:
            return "(not connected)"
        lines = [f"Net liquidation ${snap.net_liquidation:,.0f}; day P&L "
                 + (f"${snap.daily_pnl:,.0f}" if snap.daily_pnl is not None else "unknown")]
        for p in snap.open_positions[:15]:
            lines.append(f"{p.symbol:<6} {p.quantity:>8g} @ {p.market_price:,.2f}  "
                         f"P&L {p.unrealized_pnl:+,.0f}" + ("  DELAYED" if p.delayed else ""))
        if len(snap.open_positions) > 15:
            lines.append(f"... and {len(snap.open_positions) - 15} more")
        return "\n".join(lines)
