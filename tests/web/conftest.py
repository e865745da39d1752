"""The web cockpit's rig: a real engine on the simulated gateway serving its control socket
(tests/engine/rig.py), and `weekly-er-tui web`'s server on a free loopback port."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.conftest import IbLogGuard
from tests.engine.rig import LINK_FAULT_LOGS, Rig, close_rig, et, open_rig
from weekly_er_tui.clock import ManualClock
from weekly_er_tui.web.access import Access
from weekly_er_tui.web.server import CockpitServer, WebOptions

WEEK = ["AAPL,2026-11-16,AMC,,"]
TOKEN = "a-test-token-of-the-web-page-0123456789"


@pytest.fixture
async def rig(tmp_path: Path, ib_log_guard: IbLogGuard) -> AsyncIterator[Rig]:
    for pattern in LINK_FAULT_LOGS:
        ib_log_guard.expect(pattern)
    r = await open_rig(tmp_path, ManualClock(et(2026, 11, 16, 9, 30)), WEEK)
    try:
        yield r
    finally:
        await close_rig(r)


@contextlib.asynccontextmanager
async def web_server(data_dir: Path, *, token: str | None = None, host: str = "127.0.0.1",
                     allow_control: bool = False) -> AsyncIterator[CockpitServer]:
    """The server `weekly-er-tui web` runs, on a free port of `host`."""
    from weekly_er_tui.web.access import is_loopback

    server = CockpitServer(WebOptions(data_dir=data_dir, allow_control=allow_control),
                           Access(token=token, loopback_only=is_loopback(host), port=0),
                           host, 0)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
