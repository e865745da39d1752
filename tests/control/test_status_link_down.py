"""`weekly-er-tui status` while the link is down lists the positions as last known and says so,
with their age: they are not the account now (a fill or a close may have happened since)."""

from __future__ import annotations

from tests.control.test_socket_and_status import status
from tests.engine.rig import Rig
from tests.fixtures_sim import wait_until
from weekly_er_tui.model import ConnectionState

WEEK = ["AAPL,2026-11-16,AMC,,"]


async def test_status_with_the_link_down_says_the_positions_are_last_known(rig: Rig) -> None:
    engine = await rig.start_engine()
    await rig.until(lambda: engine.portfolio.snapshot().positions)
    code, text = await status(rig.data_dir)
    assert code == 0 and "Positions: 1" in text and "last known" not in text, text

    rig.gw.refuse_connections()
    rig.gw.drop_all()
    await wait_until(lambda: engine.monitor.state is not ConnectionState.CONNECTED, timeout=5)
    rig.manual.advance(150)
    code, text = await status(rig.data_dir)
    assert code == 0, text
    line = next(x for x in text.splitlines() if x.startswith("Positions:"))
    assert "as last known at Mon 2026-11-16 09:30" in line and "2m 30s ago" in line, text
    assert "KO" in text
