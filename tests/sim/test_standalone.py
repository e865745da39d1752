"""The standalone gateway (`python -m weekly_er_tui.sim --port N`), used as a person would."""

from __future__ import annotations

import asyncio
import io
import os
import signal
import socket
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from ib_async import IB, MarketOrder, Stock

from tests.conftest import IbLogGuard
from tests.fixtures_sim import wait_until
from weekly_er_tui.sim.standalone import run_standalone

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def read_until(stream: asyncio.StreamReader, needle: str, timeout: float = 20.0) -> str:
    seen = ""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while needle not in seen:
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise AssertionError(f"{needle!r} not printed within {timeout}s; got:\n{seen}")
        line = await asyncio.wait_for(stream.readline(), remaining)
        if not line:
            raise AssertionError(f"process ended before printing {needle!r}; got:\n{seen}")
        seen += line.decode()
    return seen


async def test_python_m_sim_serves_a_separate_ib_async_client() -> None:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "weekly_er_tui.sim", "--port", str(port),
        "--clock-start", "2026-11-23T10:00", "--clock-speed", "1",
        cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    assert proc.stdout is not None
    ib = IB()
    try:
        banner = await read_until(proc.stdout, "listening on")
        assert f"127.0.0.1:{port}" in banner and "DU7654321" in banner
        await ib.connectAsync("127.0.0.1", port, clientId=3, timeout=10)
        assert len(ib.positions()) == 10  # the demo account
        await read_until(proc.stdout, "client 3 connected")
        trade = ib.placeOrder(Stock("AAPL", "SMART", "USD"), MarketOrder("BUY", 1, orderRef="x"))
        await wait_until(trade.isDone, timeout=10)
        assert trade.orderStatus.status == "Filled"
        printed = await read_until(proc.stdout, "fill 3/")
        assert "order 3/" in printed and "ref=x" in printed
        ib.disconnect()
        await read_until(proc.stdout, "client 3 disconnected")
        proc.send_signal(signal.SIGINT)
        await read_until(proc.stdout, "gateway stopped")
        assert await asyncio.wait_for(proc.wait(), 10) == 0
    finally:
        ib.disconnect()
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_run_standalone_stops_cleanly_on_request() -> None:
    out = io.StringIO()
    stop = asyncio.Event()
    port = free_port()
    task = asyncio.create_task(
        run_standalone(
            "127.0.0.1", port, "demo", datetime(2026, 11, 23, 15, tzinfo=UTC), 60.0, out, stop=stop
        )
    )
    await wait_until(lambda: "listening" in out.getvalue())
    assert "x60" in out.getvalue() and "2026-11-23 10:00" in out.getvalue()
    client = IB()
    await client.connectAsync("127.0.0.1", port, clientId=9, timeout=5)
    await wait_until(lambda: "client 9 connected" in out.getvalue())
    client.disconnect()
    stop.set()
    assert await asyncio.wait_for(task, 5) == 0
    assert out.getvalue().rstrip().endswith("gateway stopped")


async def test_run_standalone_reports_a_bad_scenario(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"account": {"cash": 1}, "symbols": {"AAPL": {"price": -1, "sector": "T"}}}')
    out = io.StringIO()
    assert await run_standalone("127.0.0.1", 0, str(bad), None, 1.0, out) == 2
    assert "symbols.AAPL.price" in out.getvalue()
    out = io.StringIO()
    assert await run_standalone("127.0.0.1", 0, "nope", None, 1.0, out) == 2
    assert "unknown scenario 'nope'" in out.getvalue()


async def test_run_standalone_reports_a_busy_port(ib_log_guard: IbLogGuard) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        out = io.StringIO()
        assert await run_standalone("127.0.0.1", port, "demo", None, 1.0, out) == 1
    assert f"cannot listen on 127.0.0.1:{port}" in out.getvalue()
    assert "--port" in out.getvalue()
