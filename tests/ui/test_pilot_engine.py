"""The app on the real engine against the simulated gateway over TCP: the keys act on the
simulated account, and the screen follows the connection."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Static

from tests.conftest import IbLogGuard
from tests.fixtures_sim import wait_until
from weekly_er_tui.broker.connection import ConnectionConfig
from weekly_er_tui.clock import ManualClock
from weekly_er_tui.config import AppConfig
from weekly_er_tui.engine import TradingEngine
from weekly_er_tui.model import ConnectionState, TradingState
from weekly_er_tui.sim import SimulatedGateway
from weekly_er_tui.ui.app import WeeklyERApp
from weekly_er_tui.ui.screens import FlattenConfirmScreen
from weekly_er_tui.ui.widgets.heartbeat import HeartbeatPanel
from weekly_er_tui.ui.widgets.positions import PositionsTable

SIZE = (160, 48)


@pytest.fixture
async def engine(gateway: SimulatedGateway, manual_clock: ManualClock, tmp_path: Path,
                 ib_log_guard: IbLogGuard) -> AsyncIterator[TradingEngine]:
    ib_log_guard.expect_link_faults()
    # The scenario's holdings are the trader's own: no orphan noise in these tests.
    config = AppConfig.model_validate({"safety_limits": {"orphan_ignore": ["AAPL", "JPM", "XOM"]}})
    # A drop here is a closed socket, seen at once; the heartbeat's timeout is generous so that a
    # loaded machine (4 test processes on 2 cores) does not drop a healthy link mid-test.
    eng = TradingEngine(
        config, data_dir=tmp_path, clock=manual_clock,
        connection=ConnectionConfig(port=gateway.port, heartbeat_interval=1.0,
                                    heartbeat_timeout=3.0, reconnect_delay=0.2,
                                    connect_timeout=2.0),
    )
    yield eng
    eng.close()


async def started(pilot: Pilot[None], app: WeeklyERApp, engine: TradingEngine) -> None:
    """Wait until the app's worker has the engine connected and the screen shows positions."""
    await wait_until(lambda: engine.monitor.state is ConnectionState.CONNECTED, timeout=10)
    await wait_until(lambda: app.query_one(PositionsTable).row_count == 3, timeout=5)
    await pilot.pause()


def make_app(engine: TradingEngine, clock: ManualClock) -> WeeklyERApp:
    app = WeeklyERApp(engine, clock=clock, limits=engine.config.safety_limits)
    app.animation_level = "none"
    return app


async def quit_app(pilot: Pilot[None], app: WeeklyERApp, engine: TradingEngine) -> None:
    await engine.stop()
    await wait_until(lambda: not engine.state.is_running, timeout=10)
    app.exit()
    await pilot.pause()


async def test_p_pauses_the_real_engine(engine: TradingEngine, manual_clock: ManualClock) -> None:
    app = make_app(engine, manual_clock)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, app, engine)
        await pilot.press("p")
        await wait_until(lambda: engine.safety.trading_state is TradingState.PAUSED)
        assert engine.store.trading_state()[0] is TradingState.PAUSED
        await quit_app(pilot, app, engine)


async def test_flatten_then_confirm_flattens_the_simulated_account(
    engine: TradingEngine, gateway: SimulatedGateway, manual_clock: ManualClock
) -> None:
    app = make_app(engine, manual_clock)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, app, engine)
        await pilot.press("F")
        await pilot.pause()
        assert isinstance(app.screen, FlattenConfirmScreen)
        await pilot.press("Y")
        await wait_until(lambda: not gateway.account.positions, timeout=15)
        await wait_until(lambda: app.query_one(PositionsTable).row_count == 0, timeout=5)
        assert gateway.open_orders() == []
        assert engine.safety.trading_state is TradingState.HALTED
        refs = gateway.order_refs_received
        assert len(refs) == 3 and len(set(refs)) == 3
        await quit_app(pilot, app, engine)


async def test_escape_cancels_the_flatten_with_nothing_sent(
    engine: TradingEngine, gateway: SimulatedGateway, manual_clock: ManualClock
) -> None:
    app = make_app(engine, manual_clock)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, app, engine)
        await pilot.press("F")
        await pilot.pause()
        assert isinstance(app.screen, FlattenConfirmScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, FlattenConfirmScreen)
        # Give any wrongly sent order every chance to arrive before looking.
        await asyncio.sleep(0.2)
        assert gateway.order_refs_received == []
        assert set(gateway.account.positions) == {"AAPL", "JPM", "XOM"}
        assert engine.safety.trading_state is TradingState.ACTIVE
        await quit_app(pilot, app, engine)


async def test_a_drop_shows_reconnecting_then_connected(
    engine: TradingEngine, gateway: SimulatedGateway, manual_clock: ManualClock
) -> None:
    app = make_app(engine, manual_clock)
    seen: list[str] = []
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, app, engine)
        panel = app.query_one(HeartbeatPanel)

        def shown() -> str:
            text = str(panel.render())
            if not seen or seen[-1] != text.split()[1]:
                seen.append(text.split()[1])
            return text

        gateway.refuse_connections()
        gateway.drop_all()
        await wait_until(lambda: "RECONNECTING" in shown() and panel.has_class("-trouble"),
                         timeout=5)
        gateway.accept_connections()
        await wait_until(lambda: "CONNECTED" in shown() and panel.has_class("-connected"),
                         timeout=10)
        assert "RECONNECTING" in seen and seen[-1] == "CONNECTED"
        await quit_app(pilot, app, engine)


async def test_the_account_arriving_on_connect_is_shown(
    engine: TradingEngine, manual_clock: ManualClock
) -> None:
    from weekly_er_tui.ui.widgets.header import AccountLabel

    app = make_app(engine, manual_clock)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, app, engine)
        label = app.query_one(AccountLabel)
        await wait_until(lambda: label.account == "DU1000001", timeout=5)
        await pilot.pause()
        assert label.size.width >= len("account DU1000001")
        await quit_app(pilot, app, engine)


async def test_a_drop_keeps_the_last_known_positions_marked_stale_and_flatten_lists_them(
    engine: TradingEngine, gateway: SimulatedGateway, manual_clock: ManualClock
) -> None:
    """The link drops: the positions stay listed (STALE, with their age), and the flatten
    confirmation names each of them (queued: they close on reconnect)."""
    app = make_app(engine, manual_clock)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, app, engine)
        table = app.query_one(PositionsTable)
        gateway.refuse_connections()
        gateway.drop_all()
        await wait_until(lambda: engine.monitor.state is not ConnectionState.CONNECTED, timeout=5)
        manual_clock.advance(42)
        # The title may already say STALE from a refresh before the clock moved: wait for
        # the refresh that shows the age on the advanced clock.
        await wait_until(lambda: "42s ago" in str(table.border_title), timeout=5)
        assert "STALE" in str(table.border_title)
        assert table.row_count == 3
        assert table.symbols == ["AAPL", "JPM", "XOM"]
        await pilot.press("F")
        await pilot.pause()
        assert isinstance(app.screen, FlattenConfirmScreen)
        text = " ".join(str(w.render()) for w in app.screen.query("Static"))
        for symbol in ("AAPL", "JPM", "XOM"):
            assert symbol in text
        assert "close 3 positions" in text
        assert "on reconnect" in text
        await pilot.press("escape")
        gateway.accept_connections()
        await quit_app(pilot, app, engine)


async def test_x_closes_the_one_position_under_the_cursor_through_the_closer(
    engine: TradingEngine, gateway: SimulatedGateway, manual_clock: ManualClock
) -> None:
    from weekly_er_tui.ui.screens.confirm import ActOnOneScreen

    app = make_app(engine, manual_clock)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, app, engine)
        table = app.query_one(PositionsTable)
        table.focus()
        await pilot.press("down")  # AAPL, JPM, XOM: JPM
        assert table.selected_symbol == "JPM"
        await pilot.press("x")
        await pilot.pause()
        assert isinstance(app.screen, ActOnOneScreen)
        text = str(app.screen.query_one("#act-text", Static).render())
        assert "Close JPM: SELL" in text and "Every other position stays" in text
        await pilot.press("y")
        await wait_until(lambda: "JPM" not in gateway.account.positions, timeout=15)
        assert set(gateway.account.positions) == {"AAPL", "XOM"}
        refs = gateway.order_refs_received
        assert len(refs) == 1 and refs[0].startswith("WER-") and "-JPM-MANUAL-" in refs[0]
        assert engine.safety.trading_state is TradingState.ACTIVE
        await quit_app(pilot, app, engine)


async def test_x_on_the_working_orders_cancels_that_one_order(
    engine: TradingEngine, gateway: SimulatedGateway, manual_clock: ManualClock,
    ib_log_guard: IbLogGuard,
) -> None:
    ib_log_guard.expect("Error 202")  # IB's answer to a cancel: "Order Canceled"
    from weekly_er_tui.broker.orders import make_intent
    from weekly_er_tui.ui.screens.confirm import ActOnOneScreen
    from weekly_er_tui.ui.widgets.orders import OrdersTable

    app = make_app(engine, manual_clock)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, app, engine)
        _bid, ask, _last = engine.portfolio.quote("AAPL")
        assert ask is not None
        far = make_intent("AAPL", "SELL", 10, "LMT", round(ask * 1.03, 2),
                          engine.executor.new_ref("MANUAL", "AAPL"), "MANUAL")
        result = await engine.executor.submit(far)
        assert result.sent, result
        orders = app.query_one(OrdersTable)
        await wait_until(lambda: orders.row_count == 1, timeout=5)
        assert "Working orders (1)" in str(orders.border_title)
        orders.focus()
        await pilot.press("x")
        await pilot.pause()
        assert isinstance(app.screen, ActOnOneScreen)
        text = str(app.screen.query_one("#act-text", Static).render())
        assert "SELL 10 AAPL LMT" in text and "No other order is touched" in text
        await pilot.press("y")
        await wait_until(lambda: gateway.open_orders() == [], timeout=10)
        await wait_until(lambda: orders.row_count == 0, timeout=5)
        assert set(gateway.account.positions) == {"AAPL", "JPM", "XOM"}
        await quit_app(pilot, app, engine)


async def test_a_working_orders_age_is_on_the_engines_clock(
    engine: TradingEngine, manual_clock: ManualClock, ib_log_guard: IbLogGuard,
) -> None:
    """The clock here is 2026-11-23 while the wall clock is whatever today is: an age from
    ib_async's own (wall-clock) log of the trade would read days off, or negative."""
    ib_log_guard.expect("Error 202")  # the order is cancelled at the engine's stop
    from weekly_er_tui.broker.orders import make_intent
    from weekly_er_tui.ui.widgets.orders import COLUMNS, OrdersTable

    age_column = [key for key, _ in COLUMNS].index("age")
    app = make_app(engine, manual_clock)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, app, engine)
        placed = manual_clock.now()
        _bid, ask, _last = engine.portfolio.quote("AAPL")
        assert ask is not None
        far = make_intent("AAPL", "SELL", 10, "LMT", round(ask * 1.03, 2),
                          engine.executor.new_ref("MANUAL", "AAPL"), "MANUAL")
        assert (await engine.executor.submit(far)).sent
        orders = app.query_one(OrdersTable)
        await wait_until(lambda: orders.row_count == 1, timeout=5)
        assert engine.state.orders[0].placed_at == placed

        def age() -> str:
            return str(orders.get_row_at(0)[age_column])

        assert age() == "0s", age()
        manual_clock.advance(75)
        await wait_until(lambda: age() == "1m15s", timeout=5)
        await quit_app(pilot, app, engine)
