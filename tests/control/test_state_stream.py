"""The attached cockpit's state stream at 500 positions: the whole state once, then only what
moved, and the state the cockpit rebuilds is the engine's own (the p95 target itself is in
bench/bench_attach.py, against the hosted app in the same run)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from tests.ui.hand_states import normal_session
from weekly_er_tui.control.client import RemoteEngine
from weekly_er_tui.control.delta import apply, diff
from weekly_er_tui.control.protocol import LINE_LIMIT, encode, short_address, socket_path
from weekly_er_tui.control.server import ControlServer
from weekly_er_tui.model import EngineState, TradingState
from weekly_er_tui.ui.static_engine import StaticEngine, large_book, with_price


class Engine(StaticEngine):
    async def get_system_status(self) -> dict[str, Any]:
        return {}


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[Engine, ControlServer]]:
    engine = Engine(large_book(normal_session(), 500))
    server = ControlServer(engine, socket_path(tmp_path), tmp_path)
    await server.start()
    try:
        yield engine, server
    finally:
        await server.stop()


async def subscribe(path: Path) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    with short_address(path) as address:
        reader, writer = await asyncio.open_unix_connection(address, limit=LINE_LIMIT)
    writer.write(encode({"cmd": "subscribe"}))
    await writer.drain()
    return reader, writer


async def test_after_the_whole_state_only_what_moved_is_sent(
        served: tuple[Engine, ControlServer]) -> None:
    """Before: every line carried all 500 positions (~25 times a second), which the attached
    cockpit decoded on its UI loop: its p95 refresh was 1.28-1.55x the hosted app's."""
    engine, server = served
    reader, writer = await subscribe(server.path)
    try:
        first = await reader.readline()
        assert len(json.loads(first)["state"]["portfolio"]["positions"]) == 500
        engine.publish(with_price(engine.state, 3, 123.45))
        line = await asyncio.wait_for(reader.readline(), 5)
        message = json.loads(line)
        assert "state" not in message, "the whole state again, for one price"
        assert len(line) < len(first) / 50, (len(line), len(first))
        moved = message["change"]["sub"]["portfolio"]["items"]["positions"]["at"]
        assert list(moved) == ["3"] and moved["3"]["market_price"] == 123.45
    finally:
        writer.close()


async def test_the_attached_state_is_the_engines_through_every_kind_of_change(
        served: tuple[Engine, ControlServer]) -> None:
    engine, server = served
    remote = await RemoteEngine.connect(server.path)
    follow = asyncio.create_task(remote.run())
    try:
        async def caught_up() -> None:
            async with asyncio.timeout(10):
                while remote.state != engine.state:
                    await asyncio.sleep(0.01)

        await caught_up()
        state = engine.state
        assert state.portfolio is not None
        positions = state.portfolio.positions
        steps: list[EngineState] = [
            with_price(state, 0, 1.5),  # one price
            replace(state, trading_state=TradingState.PAUSED, trading_state_reason="p key"),
            replace(state, portfolio=replace(state.portfolio, positions=positions[:-7])),  # sold
            replace(state, portfolio=replace(state.portfolio,
                                             positions=(*positions, replace(positions[0],
                                                                            symbol="NEW")))),
            replace(state, portfolio=None),  # the account not yet known
            normal_session(),  # everything else at once
            large_book(normal_session(), 500, seed=3),
        ]
        for step in steps:
            engine.publish(step)
            await caught_up()
        # Several changes between two ticks: the cockpit may skip states, never a change.
        for i in range(40):
            engine.publish(with_price(engine.state, i % 5, 100 + i))
        await caught_up()
        assert remote.states_received < 10 + len(steps) + 40
    finally:
        await remote.stop()
        follow.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await follow


async def test_a_subscriber_that_stops_reading_holds_nobody_back(
        served: tuple[Engine, ControlServer]) -> None:
    """A cockpit whose link stalls (its socket buffer full) gets, when it reads again, a change
    from the last state it was sent to the newest: the others are never held back."""
    engine, server = served
    stalled_reader, stalled_writer = await subscribe(server.path)
    remote = await RemoteEngine.connect(server.path)
    follow = asyncio.create_task(remote.run())
    try:
        first = json.loads(await stalled_reader.readline())["state"]
        base = apply(engine.state, {})  # the same state back: nothing to apply
        assert base is engine.state
        for i in range(200):  # far more than the stalled socket takes unread
            engine.publish(replace(large_book(normal_session(), 500, seed=i), version=0))
            await asyncio.sleep(0.005)
        async with asyncio.timeout(10):
            while remote.state != engine.state:
                await asyncio.sleep(0.01)
        # Now it reads: every line applies in turn, and it ends at the engine's state.
        from weekly_er_tui.control.codec import from_plain

        state = from_plain(EngineState, first)
        async with asyncio.timeout(20):
            while state != engine.state:
                message = json.loads(await stalled_reader.readline())
                assert message["from"] == state.version
                state = apply(state, message["change"])
    finally:
        stalled_writer.close()
        await remote.stop()
        follow.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await follow


def test_a_change_from_a_state_to_itself_is_empty() -> None:
    state = large_book(normal_session(), 50)
    assert diff(state, state) == {}
    assert diff(state, replace(state)) == {}


async def test_a_listener_that_raises_is_logged_and_the_others_still_hear_every_state(
        served: tuple[Engine, ControlServer], caplog: pytest.LogCaptureFixture) -> None:
    """One screen's listener failing must not leave another (the web page's, the alert log's)
    on an old state, nor end the stream: logged, and the others go on."""
    engine, server = served
    remote = await RemoteEngine.connect(server.path)
    heard: list[EngineState] = []

    def broken(_state: EngineState) -> None:
        raise RuntimeError("a broken pane")

    remote.subscribe(broken)
    remote.subscribe(heard.append)
    follow = asyncio.create_task(remote.run())
    try:
        moved = with_price(engine.state, 0, 77.7)
        engine.publish(moved)
        async with asyncio.timeout(10):
            while not heard or heard[-1] != moved:
                await asyncio.sleep(0.01)
        engine.publish(with_price(moved, 1, 88.8))
        async with asyncio.timeout(10):
            while heard[-1] == moved:
                await asyncio.sleep(0.01)
        assert not follow.done(), "the stream ended on a listener's error"
        assert "attached state listener" in caplog.text and "a broken pane" in caplog.text
    finally:
        await remote.stop()
        follow.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await follow
