"""The Bid×Ask column comes back with the link.

A drop marks every position STALE ("231.10 STALE" is wider than "231.10"), so on a pane that was
just wide enough the quote column gives way. When the link returns and the marks go, it must come
back, and the table must read exactly as before the drop: the same columns, the same rows, the
same cells. The states are the engine's: the recorded normal Tuesday, and the same book as the
engine shows it with the link down (each position stale, `last_known_at` set).
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from tests.ui.test_pilot import until_rendered
from weekly_er_tui.model import ConnectionState, EngineState
from weekly_er_tui.ui.app import WeeklyERApp
from weekly_er_tui.ui.screenshots import LARGE, build_app
from weekly_er_tui.ui.static_engine import StaticEngine
from weekly_er_tui.ui.widgets.positions import PositionsTable

WIDE = (200, 50)  # wide enough for every column, STALE marks and all


def link_down(state: EngineState) -> EngineState:
    """What the engine publishes when the link drops: the positions last known, each stale."""
    p = state.portfolio
    assert p is not None
    stale = tuple(replace(x, stale=True) for x in p.positions)
    return replace(state, connection=replace(state.connection,
                                             state=ConnectionState.RECONNECTING),
                   portfolio=replace(p, positions=stale, last_known_at=p.timestamp))


def table_text(app: WeeklyERApp) -> tuple[tuple[str, ...], tuple[tuple[str, ...], ...]]:
    table = app.query_one(PositionsTable)
    columns = tuple(str(k.value) for k in table.columns)
    rows = tuple(tuple(cell.plain for cell in table.get_row(row.key))
                 for row in table.ordered_rows)
    return columns, rows


@pytest.mark.parametrize("size", [LARGE, WIDE], ids=["160x48", "200x50"])
async def test_the_quote_column_returns_with_the_link_and_the_rows_are_as_before(
    size: tuple[int, int]
) -> None:
    app = build_app("normal")
    engine = app.engine
    assert isinstance(engine, StaticEngine)
    normal = engine.state
    async with app.run_test(size=size) as pilot:
        await until_rendered(pilot, app, normal.version)
        before = table_text(app)
        assert "quote" in before[0], before[0]  # 132 columns and fewer never show it

        down = engine.publish(link_down(normal))
        await until_rendered(pilot, app, down.version)
        assert any("STALE" in cell for row in table_text(app)[1] for cell in row)

        # The link is back: the engine shows the account fresh again while the banner still
        # reads RECONNECTING (the resync), so the pane is not resized: the figures alone must
        # bring the column back, not a resize that happens to come with them.
        fresh = engine.publish(replace(normal, connection=down.connection))
        await until_rendered(pilot, app, fresh.version)
        during = table_text(app)

        back = engine.publish(normal)
        await until_rendered(pilot, app, back.version)
        after = table_text(app)
    assert during == before  # the quote column is back, every row and cell as before the drop
    assert after == before
