"""`weekly-er-tui flatten --yes` from another terminal while an engine runs: the running engine
is the one that flattens (its one closer), it is HALTED at once in memory and on disk, and it
sends none of the week's entries afterwards. With no engine running, the direct path flattens
and says so."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

import pytest

from tests.engine.rig import ACCOUNT, CLIENT_ID, Rig, et
from weekly_er_tui import cli
from weekly_er_tui.model import EventType, TradingState
from weekly_er_tui.store import Store
from weekly_er_tui.strategy.calendars import MarketCalendar

# Two entries Monday 10:00 ET; the engine starts at 09:30, before them.
WEEK = ["AAPL,2026-11-16,AMC,,", "MSFT,2026-11-17,BMO,,"]


def config_file(rig: Rig) -> Path:
    path = rig.data_dir.parent / "config.json"
    path.write_text(json.dumps({
        "ib_host": "127.0.0.1", "ib_port": rig.gw.port, "ib_client_id": CLIENT_ID,
        "account": ACCOUNT,
        "connection_monitoring": {"heartbeat_interval": 1, "heartbeat_timeout": 3,
                                  "connect_timeout": 3},
    }))
    return path


async def run_cli(*argv: str) -> tuple[int, str, str]:
    """The CLI as the trader types it, in a thread (it runs its own event loop)."""
    out, err = io.StringIO(), io.StringIO()
    code = await asyncio.to_thread(cli.main, list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


async def test_flatten_yes_halts_the_running_engine_and_no_entry_follows(rig: Rig) -> None:
    engine = await rig.start_engine()
    assert engine.safety.trading_state is TradingState.ACTIVE
    code, out, err = await run_cli("flatten", "--yes", "--config", str(config_file(rig)),
                                   "--data-dir", str(rig.data_dir))
    assert code == 0, out + err
    # HALTED at once, in memory and on disk.
    assert engine.safety.trading_state is TradingState.HALTED
    assert "through the running engine" in out, out + err
    store = Store.in_data_dir(rig.data_dir)
    try:
        assert store.trading_state()[0] is TradingState.HALTED
    finally:
        store.close()
    # The engine's own closer ran: the trader's KO is closed by the engine's clientId.
    await rig.until(lambda: rig.sim_position("KO") == 0)
    assert {x.client_id for x in rig.gw.executions} == {CLIENT_ID}

    # The entries' instant comes: the engine says why it waits and sends nothing.
    rig.manual.set(et(2026, 11, 16, 10, 0, 1))
    await rig.until(lambda: sum("entry waiting: trading is HALTED" in e["message"]
                                for e in rig.events(EventType.STRATEGY)) == 2)
    assert not [r for r in rig.gw.order_refs_received if "entry" in r.lower()
                or r in {e.order_ref for e in rig.plan()}]


async def test_flatten_yes_with_no_engine_running_takes_the_direct_path_and_says_so(
    rig: Rig, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The direct path runs on the wall clock, the gateway on the test's: at night by the wall
    # clock it would rightly send nothing (notes row 10). IB's hours are not this test's subject.
    monkeypatch.setattr(MarketCalendar, "closed_until", lambda self, at: None)
    code, out, err = await run_cli("flatten", "--yes", "--config", str(config_file(rig)),
                                   "--data-dir", str(rig.data_dir))
    assert code == 0, out + err
    assert "No engine is running" in out and "directly" in out, out
    assert rig.sim_position("KO") == 0
    assert {x.client_id for x in rig.gw.executions} == {CLIENT_ID + 50}


async def test_pause_and_resume_act_through_the_running_engine(rig: Rig) -> None:
    engine = await rig.start_engine()
    config = str(config_file(rig))
    code, out, err = await run_cli("pause", "--config", config, "--data-dir", str(rig.data_dir))
    assert code == 0 and "through the running engine" in out, out + err
    assert engine.safety.trading_state is TradingState.PAUSED
    code, out, err = await run_cli("resume", "--config", config, "--data-dir", str(rig.data_dir))
    assert code == 0 and "Trading state now: ACTIVE" in out, out + err
    assert engine.safety.trading_state is TradingState.ACTIVE


async def test_pause_with_no_engine_running_is_written_for_the_next_engine(rig: Rig) -> None:
    code, out, err = await run_cli("pause", "--config", str(config_file(rig)),
                                   "--data-dir", str(rig.data_dir))
    assert code == 0 and "No engine is running" in out, out + err
    engine = await rig.start_engine()
    assert engine.safety.trading_state is TradingState.PAUSED


async def test_an_engine_that_died_leaves_a_socket_the_next_one_replaces(rig: Rig) -> None:
    import socket as sockets

    from weekly_er_tui.control.protocol import short_address, socket_path

    path = socket_path(rig.data_dir)
    path.parent.mkdir(parents=True)
    dead = sockets.socket(sockets.AF_UNIX)
    with short_address(path) as address:
        dead.bind(address)
    dead.close()  # bound, never unlinked: what a killed engine leaves
    assert path.exists()
    engine = await rig.start_engine()
    code, out, err = await run_cli("status", "--data-dir", str(rig.data_dir))
    assert code == 0 and "Engine: running" in out, out + err
    assert engine.control.serving
