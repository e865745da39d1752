"""Pilot tests: the keys reach the engine, the screen follows the engine's state.

They run on `StaticEngine` (fixed states, commands recorded). The same behaviours against the
simulated gateway belong with the real engine.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest
from textual.message import Message
from textual.pilot import Pilot

from tests.ui.hand_states import (
    DEMO_LIMITS,
    DEMO_NOW,
    STATES,
    halted_after_emergency,
    normal_session,
    reconnecting_session,
)
from weekly_er_tui.clock import ManualClock
from weekly_er_tui.model import EngineState, Position, TradingState
from weekly_er_tui.ui.app import WeeklyERApp
from weekly_er_tui.ui.messages import CommandDone, StateRendered
from weekly_er_tui.ui.screens import (
    FlattenConfirmScreen,
    HelpScreen,
    QuitConfirmScreen,
    ResumeConfirmScreen,
)
from weekly_er_tui.ui.static_engine import StaticEngine
from weekly_er_tui.ui.widgets.banner import StatusBanner
from weekly_er_tui.ui.widgets.header import EtClock, TradingBadge
from weekly_er_tui.ui.widgets.heartbeat import HeartbeatPanel
from weekly_er_tui.ui.widgets.positions import PositionsTable

SIZE = (120, 40)


def make_app(
    state: EngineState | None = None, **kwargs: object
) -> tuple[WeeklyERApp, StaticEngine, ManualClock]:
    engine = StaticEngine(state or normal_session())
    clock = ManualClock(DEMO_NOW)
    app = WeeklyERApp(engine, clock=clock, limits=DEMO_LIMITS, **kwargs)  # type: ignore[arg-type]
    app.animation_level = "none"
    return app, engine, clock


async def until_rendered(pilot: Pilot[None], app: WeeklyERApp, version: int) -> None:
    """Wait for the refresh tick (not a direct call) to show `version`."""
    for _ in range(100):
        if app.rendered is not None and app.rendered.version >= version:
            await pilot.pause()
            return
        await pilot.pause(0.02)
    at = app.rendered.version if app.rendered else None
    raise AssertionError(f"version {version} never rendered (showing {at})")


async def settle(pilot: Pilot[None], app: WeeklyERApp) -> None:
    """Let the keys' command workers finish (the engine's own worker runs until quit)."""
    await pilot.pause()
    commands = [w for w in app.workers if w.group != "engine"]
    if commands:
        await app.workers.wait_for_complete(commands)
    await pilot.pause()


def banner_text(app: WeeklyERApp) -> str:
    return " | ".join(f"{line.label} {line.text}" for line in app.query_one(StatusBanner).lines)


def sent(engine: StaticEngine) -> list[str]:
    return [name for name, _ in engine.commands]


# -- the engine as a worker ---------------------------------------------------------------------


async def test_engine_runs_as_a_worker_and_stops_on_quit() -> None:
    app, engine, _ = make_app(replace(normal_session(), portfolio=None))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert engine.running
        workers = [w for w in app.workers if w.group == "engine"]
        assert len(workers) == 1 and "engine" in workers[0].description
        await pilot.press("q")  # no positions: no question
        await pilot.pause()
    assert sent(engine) == ["stop"]
    assert not engine.running


async def test_a_view_only_app_does_not_run_the_engine() -> None:
    app, engine, _ = make_app(host_engine=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert not engine.running
        assert not [w for w in app.workers if w.group == "engine"]


async def test_an_engine_that_dies_is_unmistakable() -> None:
    class BrokenEngine(StaticEngine):
        async def run(self) -> None:
            raise RuntimeError("safety monitor crashed")

    engine = BrokenEngine(normal_session())
    app = WeeklyERApp(engine, clock=ManualClock(DEMO_NOW), limits=DEMO_LIMITS)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        assert "ENGINE STOPPED" in banner_text(app)
        assert "safety monitor crashed" in banner_text(app)
        assert app.query_one(StatusBanner).has_class("-danger")


async def test_an_engine_that_returns_on_its_own_is_unmistakable() -> None:
    class Quitter(StaticEngine):
        async def run(self) -> None:
            return

    engine = Quitter(normal_session())
    app = WeeklyERApp(engine, clock=ManualClock(DEMO_NOW), limits=DEMO_LIMITS)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        assert "ENGINE STOPPED" in banner_text(app)


# -- rendering on a fixed tick ------------------------------------------------------------------


async def test_renders_on_the_tick_only_when_the_version_moves() -> None:
    app, engine, _ = make_app(refresh_hz=20)
    rendered: list[int] = []

    def hook(message: Message) -> None:
        if isinstance(message, StateRendered):
            rendered.append(message.version)

    async with app.run_test(size=SIZE, message_hook=hook) as pilot:
        await pilot.pause(0.3)  # ~6 ticks, nothing new
        assert rendered == [1]
        # A burst of 200 states between two ticks costs one render of the newest.
        state = engine.state
        for i in range(200):
            state = engine.publish(replace(state, trading_state_reason=str(i)))
        await until_rendered(pilot, app, state.version)
        await pilot.pause(0.2)
        assert rendered == [1, state.version]


async def test_the_clock_ticks_without_engine_changes() -> None:
    app, _, clock = make_app(refresh_hz=20)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        clock_widget = app.query_one(EtClock)
        assert "10:30:00 ET" in str(clock_widget.render())
        heartbeat = app.query_one(HeartbeatPanel)
        pulse = heartbeat.has_class("-pulse")
        clock.advance(61)
        await pilot.pause(0.2)
        assert "10:31:01 ET" in str(clock_widget.render())
        # The mark alternates with the clock's seconds, so a stopped clock stands still.
        assert heartbeat.has_class("-pulse") is not pulse
        assert "1m05s ago" in str(heartbeat.render())


async def test_reconnecting_then_connected_is_rendered() -> None:
    app, engine, _ = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        heartbeat = app.query_one(HeartbeatPanel)
        assert heartbeat.has_class("-connected")
        assert banner_text(app) == ""

        state = engine.publish(reconnecting_session())
        await until_rendered(pilot, app, state.version)
        assert heartbeat.has_class("-reconnecting") and heartbeat.has_class("-trouble")
        assert "RECONNECTING" in str(heartbeat.render())
        assert "CONNECTION LOST" in banner_text(app)
        assert "STALE" in str(app.query_one(PositionsTable).get_row_at(0))

        state = engine.publish(normal_session())
        await until_rendered(pilot, app, state.version)
        assert heartbeat.has_class("-connected") and not heartbeat.has_class("-trouble")
        assert "CONNECTED" in str(heartbeat.render())
        assert banner_text(app) == ""
        assert "STALE" not in str(app.query_one(PositionsTable).get_row_at(0))


# -- keys ---------------------------------------------------------------------------------------


async def test_p_pauses_the_engine() -> None:
    app, engine, _ = make_app()
    done: list[CommandDone] = []
    async with app.run_test(
        size=SIZE, message_hook=lambda m: done.append(m) if isinstance(m, CommandDone) else None
    ) as pilot:
        await pilot.press("p")
        await settle(pilot, app)
        assert sent(engine) == ["pause"]
        assert done and done[0].command == "pause" and done[0].ok
        await until_rendered(pilot, app, engine.state.version)
        assert app.query_one(TradingBadge).trading_state is TradingState.PAUSED
        assert "PAUSED" in banner_text(app)
        # Paused: p sends nothing (and says so); r resumes without a question.
        await pilot.press("p")
        await settle(pilot, app)
        assert sent(engine) == ["pause"]
        await pilot.press("r")
        await settle(pilot, app)
        assert sent(engine) == ["pause", "resume"]
        assert not isinstance(app.screen, ResumeConfirmScreen)


async def test_flatten_then_confirm_flattens_the_account() -> None:
    app, engine, _ = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("F")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, FlattenConfirmScreen)
        assert {p.symbol for p in screen.positions} == {
            p.symbol
            for p in normal_session().portfolio.open_positions  # type: ignore[union-attr]
        }
        assert sent(engine) == []
        await pilot.press("Y")
        await settle(pilot, app)
        assert sent(engine) == ["flatten"]
        assert engine.state.portfolio is not None
        assert engine.state.portfolio.open_positions == ()
        await until_rendered(pilot, app, engine.state.version)
        assert app.query_one(PositionsTable).row_count == 0


async def test_escape_cancels_the_flatten_with_nothing_sent() -> None:
    app, engine, _ = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("F")
        await pilot.pause()
        assert isinstance(app.screen, FlattenConfirmScreen)
        await pilot.press("escape")
        await settle(pilot, app)
        assert not isinstance(app.screen, FlattenConfirmScreen)
        assert sent(engine) == []
        assert app.query_one(PositionsTable).row_count == 10


@pytest.mark.parametrize("key", ["enter", "y", "space", "F"])
async def test_only_the_deliberate_key_confirms_the_flatten(key: str) -> None:
    app, engine, _ = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("F")
        await pilot.pause()
        await pilot.press(key)
        await settle(pilot, app)
        assert isinstance(app.screen, FlattenConfirmScreen)
        assert sent(engine) == []


async def test_flatten_while_disconnected_is_queued_and_runs_on_reconnect() -> None:
    app, engine, _ = make_app(reconnecting_session())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("F")
        await pilot.pause()
        assert isinstance(app.screen, FlattenConfirmScreen)
        assert app.screen.query_one("#flatten-queued-note")
        await pilot.press("Y")
        await settle(pilot, app)
        assert sent(engine) == ["flatten"]
        await until_rendered(pilot, app, engine.state.version)
        assert "FLATTEN QUEUED" in banner_text(app)
        assert "runs on reconnect" in banner_text(app)
        assert app.query_one(PositionsTable).row_count == 10
        # A second F says it is already queued rather than asking again.
        await pilot.press("F")
        await pilot.pause()
        assert not isinstance(app.screen, FlattenConfirmScreen)

        engine.connect()
        await until_rendered(pilot, app, engine.state.version)
        assert "FLATTEN QUEUED" not in banner_text(app)
        assert app.query_one(PositionsTable).row_count == 0


async def test_resume_from_halt_asks_first() -> None:
    app, engine, _ = make_app(halted_after_emergency())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("r")
        await pilot.pause()
        assert isinstance(app.screen, ResumeConfirmScreen)
        await pilot.press("escape")
        await settle(pilot, app)
        assert sent(engine) == []
        await pilot.press("r")
        await pilot.pause()
        await pilot.press("y")
        await settle(pilot, app)
        assert sent(engine) == ["resume"]
        await until_rendered(pilot, app, engine.state.version)
        assert app.query_one(TradingBadge).trading_state is TradingState.ACTIVE


async def test_quit_with_positions_open_warns() -> None:
    app, engine, _ = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("q")
        await pilot.pause()
        assert isinstance(app.screen, QuitConfirmScreen)
        assert "Monitoring stops" in str(app.screen.query_one(".dialog-text").render())
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, QuitConfirmScreen)
        assert app.is_running
        await pilot.press("ctrl+q")  # the default quit key goes through the same question
        await pilot.pause()
        assert isinstance(app.screen, QuitConfirmScreen)
        await pilot.press("y")
        await settle(pilot, app)
    assert sent(engine) == ["stop"]


async def test_reconnect_and_check_now_keys() -> None:
    app, engine, _ = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("c", "s")
        await settle(pilot, app)
        assert sent(engine) == ["reconnect", "check_now"]


async def test_a_failing_command_is_reported() -> None:
    class Refusing(StaticEngine):
        async def pause(self, reason: str = "manual") -> None:
            raise ConnectionError("not connected")

    engine = Refusing(normal_session())
    app = WeeklyERApp(engine, clock=ManualClock(DEMO_NOW), limits=DEMO_LIMITS)
    done: list[CommandDone] = []
    async with app.run_test(
        size=SIZE, message_hook=lambda m: done.append(m) if isinstance(m, CommandDone) else None
    ) as pilot:
        await pilot.press("p")
        await settle(pilot, app)
        assert [(d.command, d.ok) for d in done] == [("pause", False)]
        assert "not connected" in done[0].detail


async def test_help_lists_every_key() -> None:
    app, _, _ = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, HelpScreen)
        keys = {k.key for k in screen.keys}
        assert {"p", "r", "F", "c", "s", "o", "?", "q"} <= keys
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, HelpScreen)


async def test_footer_shows_pause_and_flatten() -> None:
    app, _, _ = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        shown = {b.binding.id for b in app.active_bindings.values() if b.binding.show}
        assert {"pause", "flatten", "resume", "reconnect", "check_now", "help", "quit"} <= shown


# -- the positions table ------------------------------------------------------------------------


def _repriced(
    state: EngineState, moves: dict[str, float], extra: tuple[Position, ...] = ()
) -> EngineState:
    assert state.portfolio is not None
    positions = tuple(
        replace(
            p,
            market_price=moves[p.symbol],
            market_value=p.quantity * moves[p.symbol],
            unrealized_pnl=p.quantity * (moves[p.symbol] - p.avg_cost),
        )
        if p.symbol in moves
        else p
        for p in state.portfolio.positions
    )
    portfolio = replace(state.portfolio, positions=positions + extra)
    return replace(state, portfolio=portfolio, safety=None)


async def test_positions_update_in_place_and_keep_the_cursor() -> None:
    app, engine, _ = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        table = app.query_one(PositionsTable)

        def no_clear(*args: object, **kwargs: object) -> None:
            raise AssertionError("the positions table must not be cleared and refilled")

        table.clear = no_clear  # type: ignore[method-assign]
        await pilot.press("down", "down", "down")
        assert table.symbols[table.cursor_row] == "JNJ"

        new = Position("AAA", 10, 50.0, 51.0, 510.0, 10.0, sector="Materials")
        state = engine.publish(_repriced(engine.state, {"JNJ": 160.0, "AAPL": 240.0}, (new,)))
        await until_rendered(pilot, app, state.version)
        assert table.row_count == 11
        assert table.symbols[0] == "AAA"
        assert table.symbols[table.cursor_row] == "JNJ"
        assert "160.00" in str(table.get_row("JNJ")[4])

        # A symbol that goes away is removed; the cursor stays on JNJ.
        gone = replace(
            engine.state,
            portfolio=replace(
                engine.state.portfolio,  # type: ignore[arg-type]
                positions=tuple(p for p in engine.state.portfolio.positions if p.symbol != "AAA"),  # type: ignore[union-attr]
            ),
        )
        state = engine.publish(gone)
        await until_rendered(pilot, app, state.version)
        assert table.row_count == 10
        assert table.symbols[table.cursor_row] == "JNJ"


async def test_positions_are_sortable_and_the_cursor_follows() -> None:
    app, engine, _ = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        table = app.query_one(PositionsTable)
        assert table.symbols == sorted(table.symbols)
        await pilot.press("down")  # GS
        await pilot.press("o")  # sector
        assert table.sort_column == "sector"
        by_symbol = {p.symbol: p for p in engine.state.portfolio.positions}  # type: ignore[union-attr]
        sectors = [by_symbol[s].sector for s in table.symbols]
        assert sectors == sorted(sectors)
        assert table.symbols[table.cursor_row] == "GS"
        for _ in range(5):  # qty, avg, last, quote, value
            await pilot.press("o")
        assert table.sort_column == "value"
        values = {p.symbol: abs(p.market_value) for p in engine.state.portfolio.positions}  # type: ignore[union-attr]
        assert [values[s] for s in table.symbols] == sorted(values.values(), reverse=True)
        assert table.symbols[table.cursor_row] == "GS"
        # A price move re-sorts by value; the cursor still follows GS.
        state = engine.publish(_repriced(engine.state, {"GS": 900.0}))
        await until_rendered(pilot, app, state.version)
        assert table.symbols[0] == "GS"
        assert table.symbols[table.cursor_row] == "GS"


async def test_rows_off_screen_catch_up_when_scrolled_to() -> None:
    from weekly_er_tui.ui.static_engine import large_book, with_price

    app, engine, _ = make_app(large_book(normal_session(), 100))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        table = app.query_one(PositionsTable)
        table.focus()
        last = engine.state.portfolio.positions[99]  # type: ignore[union-attr]
        assert last.symbol == "S0099"
        state = engine.publish(with_price(engine.state, 99, 1234.5))
        await until_rendered(pilot, app, state.version)
        await pilot.press("ctrl+end")  # the cursor to the last row scrolls it into view
        await pilot.pause()
        assert table.symbols[table.cursor_row] == "S0099"
        assert "1,234.50" in str(table.get_cell("S0099", "last"))


async def test_stale_prices_are_marked_from_the_clock() -> None:
    app, _, clock = make_app(refresh_hz=20)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        table = app.query_one(PositionsTable)
        assert "STALE" not in str(table.get_row("AAPL")[4])
        clock.advance(DEMO_LIMITS.stale_price_seconds + 1)
        # Staleness is judged when the engine publishes: nudge it.
        engine = app.engine
        assert isinstance(engine, StaticEngine)
        state = engine.publish(engine.state)
        await until_rendered(pilot, app, state.version)
        assert "STALE" in str(table.get_row("AAPL")[4])


async def test_no_color_is_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    app, _, _ = make_app(STATES["halted"]())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.no_color and app.has_class("-no-color")
        assert app.query_one(TradingBadge).render() == " ■ HALTED "


async def test_a_large_book_renders_quickly() -> None:
    from weekly_er_tui.ui.static_engine import large_book

    app, _, _ = make_app(large_book(normal_session(), 500))
    async with app.run_test(size=(160, 48)) as pilot:
        loop = asyncio.get_running_loop()
        started = loop.time()
        await pilot.pause()
        assert app.query_one(PositionsTable).row_count == 500
        assert loop.time() - started < 5
