"""`weekly-er-tui attach` on a real engine (on the simulated gateway, serving its socket): the
same cockpit shows the engine's positions, its keys act on that engine, several cockpits can
watch at once, and `--read-only` shows everything and refuses every key that acts."""

from __future__ import annotations

import asyncio
import io

from textual.pilot import Pilot

from tests.engine.rig import Rig
from tests.fixtures_sim import wait_until
from weekly_er_tui import cli
from weekly_er_tui.cli.attach import attached_app, find_engine
from weekly_er_tui.control.client import RemoteEngine
from weekly_er_tui.model import TradingState
from weekly_er_tui.ui.app import WeeklyERApp
from weekly_er_tui.ui.screens import FlattenConfirmScreen
from weekly_er_tui.ui.widgets.positions import PositionsTable

SIZE = (160, 48)
WEEK = ["AAPL,2026-11-16,AMC,,"]


async def attach(rig: Rig, read_only: bool = False) -> tuple[WeeklyERApp, list[str]]:
    remote = await find_engine(rig.data_dir)
    assert remote is not None
    app = attached_app(remote, rig.config.safety_limits, read_only)
    app.animation_level = "none"
    told: list[str] = []
    notify = app.notify

    def spy(message: str, **kw: object) -> None:
        told.append(message)
        notify(message, **kw)  # type: ignore[arg-type]

    app.notify = spy  # type: ignore[method-assign]
    return app, told


async def shows_positions(pilot: Pilot[None], app: WeeklyERApp, n: int) -> None:
    await wait_until(lambda: app.query_one(PositionsTable).row_count == n, timeout=10)
    await pilot.pause()


async def test_attach_shows_the_positions_and_its_keys_act_on_the_engine(rig: Rig) -> None:
    engine = await rig.start_engine()
    app, told = await attach(rig)
    async with app.run_test(size=SIZE) as pilot:
        await shows_positions(pilot, app, 1)  # the trader's KO
        assert "KO" in str(app.query_one(PositionsTable).get_row_at(0))
        assert app.title.startswith("Weekly ER — attached to pid")

        await pilot.press("p")
        await wait_until(lambda: engine.safety.trading_state is TradingState.PAUSED)
        assert engine.store.trading_state()[0] is TradingState.PAUSED
        # The cockpit follows the engine's state over the socket.
        await wait_until(lambda: app.rendered is not None
                         and app.rendered.trading_state is TradingState.PAUSED, timeout=5)

        await pilot.press("F")
        await pilot.pause()
        assert isinstance(app.screen, FlattenConfirmScreen)
        await pilot.press("Y")
        await rig.until(lambda: rig.sim_position("KO") == 0, timeout=15)
        assert engine.safety.trading_state is TradingState.HALTED
        await shows_positions(pilot, app, 0)

        # Quitting detaches; the engine goes on.
        await pilot.press("q")
        await wait_until(lambda: not app.is_running, timeout=10)
    assert engine.state.is_running and engine.monitor.is_connected
    assert any("Flatten sent" in m or "Flatten" in m for m in told), told


async def test_read_only_shows_everything_and_refuses_every_key_that_acts(rig: Rig) -> None:
    engine = await rig.start_engine()
    watcher, told = await attach(rig, read_only=True)
    actor, _ = await attach(rig)
    async with watcher.run_test(size=SIZE) as pilot:
        await shows_positions(pilot, watcher, 1)
        assert "READ-ONLY" in watcher.title
        for key, name in (("p", "pause"), ("r", "resume"), ("F", "flatten"),
                          ("c", "reconnect"), ("s", "check")):
            await pilot.press(key)
            await pilot.pause()
            assert told and f"({name}) refused" in told[-1] and "--read-only" in told[-1], told
        assert not isinstance(watcher.screen, FlattenConfirmScreen)
        assert engine.safety.trading_state is TradingState.ACTIVE
        assert rig.gw.order_refs_received == []

        # A second cockpit, attached at the same time, acts; the read-only one sees it.
        async with actor.run_test(size=SIZE) as actor_pilot:
            await shows_positions(actor_pilot, actor, 1)
            await actor_pilot.press("p")
            await wait_until(lambda: engine.safety.trading_state is TradingState.PAUSED)
            await wait_until(lambda: watcher.rendered is not None
                             and watcher.rendered.trading_state is TradingState.PAUSED,
                             timeout=5)
            actor.exit()
        watcher.exit()


async def test_several_remote_handles_follow_one_engine_and_see_it_stop(rig: Rig) -> None:
    engine = await rig.start_engine()
    remotes = [await RemoteEngine.connect(rig.eng.control.path) for _ in range(3)]
    runs = [asyncio.create_task(r.run()) for r in remotes]
    await engine.pause("paused to see it everywhere")
    await wait_until(lambda: all(r.state.trading_state is TradingState.PAUSED
                                 for r in remotes), timeout=5)
    await rig.stop_engine()
    await asyncio.wait_for(asyncio.gather(*runs), 10)
    assert all(not r.state.is_running for r in remotes)


async def test_attach_with_no_engine_running_says_how_to_start_one(rig: Rig) -> None:
    out, err = io.StringIO(), io.StringIO()
    code = await asyncio.to_thread(cli.main, ["attach", "--data-dir", str(rig.data_dir)],
                                   out, err)
    assert code == 1
    assert "No engine is running" in err.getvalue() and "run --headless" in err.getvalue()
