"""A price from IB's delayed data shows DELAYED in the positions table (STALE wins over it)."""

from __future__ import annotations

from weekly_er_tui.model import Position
from weekly_er_tui.ui.widgets.positions import PositionsTable


def test_a_delayed_price_is_marked_delayed() -> None:
    table = PositionsTable()
    delayed = Position("MSFT", 10, 400.0, 401.0, 4010.0, 10.0, delayed=True)
    live = Position("MSFT", 10, 400.0, 401.0, 4010.0, 10.0)
    assert table._row(delayed, 0.1, False, False, "")[4][0] == "401.00 DELAYED"
    assert table._row(live, 0.1, False, False, "")[4][0] == "401.00"
    assert table._row(delayed, 0.1, True, False, "")[4][0] == "401.00 STALE"
