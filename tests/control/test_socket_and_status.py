"""The control socket is its owner's alone, and `weekly-er-tui status` reads the running engine:
the guide's get_system_status() fields in words (ET times, units) or as JSON."""

from __future__ import annotations

import asyncio
import io
import json
import os
import socket
import stat
from pathlib import Path

import pytest

from tests.engine.rig import ACCOUNT, Rig
from weekly_er_tui import cli
from weekly_er_tui.control.client import NoEngine, request
from weekly_er_tui.control.protocol import short_address, socket_path

WEEK = ["AAPL,2026-11-16,AMC,,"]


async def status(data_dir: Path, *extra: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    code = await asyncio.to_thread(cli.main, ["status", "--data-dir", str(data_dir), *extra],
                                   out, err)
    return code, out.getvalue() + err.getvalue()


async def test_the_socket_is_the_owners_only_and_goes_with_the_engine(rig: Rig) -> None:
    await rig.start_engine()
    path = socket_path(rig.data_dir)
    info = path.lstat()
    assert stat.S_ISSOCK(info.st_mode)
    assert stat.S_IMODE(info.st_mode) == 0o600  # rw for the owner; nothing for group or others
    assert info.st_uid == os.getuid()
    # Unix only: no TCP port is opened for it.
    probe = socket.socket(socket.AF_UNIX)
    with short_address(path) as address:
        probe.connect(address)
    probe.close()
    reply = await request(path, "nonsense")
    assert reply["ok"] is False and "status" in reply["error"]
    await rig.stop_engine()
    assert not path.exists()
    with pytest.raises(NoEngine):
        await request(path, "status")


async def test_status_in_words_and_as_json(rig: Rig) -> None:
    engine = await rig.start_engine()
    await rig.until(lambda: engine.safety.last_check is not None
                    and engine.monitor.stats().last_heartbeat is not None)
    code, text = await status(rig.data_dir)
    assert code == 0, text
    assert f"pid {os.getpid()}" in text
    assert "Engine: running" in text and "Trading state: ACTIVE" in text
    assert "Last safety check: Mon 2026-11-16 09:30:00 ET" in text
    assert "Risk score: " in text and "/100" in text
    assert "Connection: CONNECTED to 127.0.0.1" in text and "latency last" in text and " ms" in text
    assert "Positions: 1" in text and "KO" in text and "100 sh" in text

    code, text = await status(rig.data_dir, "--json")
    assert code == 0, text
    data = json.loads(text)
    for key in ("is_running", "trading_state", "last_safety_check", "connection", "risk_score",
                "positions"):
        assert key in data, key
    assert data["is_running"] is True and data["positions"] == 1
    assert data["state"]["account"] == ACCOUNT

    await rig.stop_engine()
    code, text = await status(rig.data_dir)
    assert code == 1 and "No engine is running" in text


async def test_status_from_elsewhere_finds_the_only_engine_running(rig: Rig,
                                                                    tmp_path: Path) -> None:
    """The "screen lost" alert says `attach` without a directory: run from anywhere, watching
    commands find the one engine of this machine (commands that act never guess)."""
    await rig.start_engine()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    code, text = await status(elsewhere)
    assert code == 0 and f"data directory {rig.data_dir.absolute()}" in text, text
    from weekly_er_tui.control.commands import candidate_sockets

    assert socket_path(rig.data_dir) not in candidate_sockets(elsewhere)  # e.g. flatten's
    assert socket_path(rig.data_dir) in candidate_sockets(elsewhere, any_engine=True)


async def test_the_socket_closes_one_position_and_cancels_one_order(rig: Rig) -> None:
    """What the cockpit's x key sends reaches an attached engine too: a refusal comes back as
    its sentence, and a close of one position closes that one."""
    await rig.start_engine()
    path = socket_path(rig.data_dir)
    reply = await request(path, "close_position", symbol="NOPE")
    assert reply["ok"] is False and reply["error"] == "no open position in NOPE: nothing sent"
    reply = await request(path, "cancel_order", order_id=987654)
    assert reply["ok"] is False and "order 987654 is not working at IB" in reply["error"]
    reply = await request(path, "close_position", symbol="KO", reason="from attach")
    assert reply["ok"] is True, reply
    await rig.until(lambda: "KO" not in rig.gw.account.positions)
    await rig.stop_engine()
