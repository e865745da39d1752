"""The engine rig these tests share: the module's WEEK of reports, the engine started Monday
2026-11-16 09:30 ET, before its entries."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.conftest import IbLogGuard
from tests.engine.rig import LINK_FAULT_LOGS, Rig, close_rig, et, open_rig
from weekly_er_tui.clock import ManualClock


@pytest.fixture
async def rig(request: pytest.FixtureRequest, tmp_path: Path,
              ib_log_guard: IbLogGuard) -> AsyncIterator[Rig]:
    for pattern in LINK_FAULT_LOGS:
        ib_log_guard.expect(pattern)
    r = await open_rig(tmp_path, ManualClock(et(2026, 11, 16, 9, 30)), request.module.WEEK)
    try:
        yield r
    finally:
        await close_rig(r)
