"""The positions table marks orphans (and the banner names them as such), and its sort
reverses with O."""

from __future__ import annotations

from dataclasses import replace

from tests.ui.hand_states import normal_session
from tests.ui.test_pilot import banner_text, make_app, settle
from weekly_er_tui.model import Severity, Violation
from weekly_er_tui.risk.rules import ORPHANED_POSITION
from weekly_er_tui.ui.widgets.positions import PositionsTable

SIZE = (160, 48)


def with_orphan() -> object:
    state = normal_session()
    assert state.safety is not None
    orphan = Violation(ORPHANED_POSITION, Severity.MEDIUM, 1.0, 0.0,
                       "1 position not opened by the strategy: XOM 90 shares", ("XOM",))
    return replace(state, safety=replace(state.safety, violations=(orphan,)))


async def test_an_orphan_is_marked_in_the_table_and_not_called_over_limit() -> None:
    app, _, _ = make_app(with_orphan())  # type: ignore[arg-type]
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        table = app.query_one(PositionsTable)
        assert str(table.get_cell("XOM", "symbol")) == "XOM ORPHAN"
        assert str(table.get_cell("AAPL", "symbol")) == "AAPL"
        assert "ORPHANED" in banner_text(app)
        assert "OVER LIMIT" not in banner_text(app)


async def test_shift_o_reverses_the_sort() -> None:
    app, _, _ = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        table = app.query_one(PositionsTable)
        ascending = table.symbols
        assert ascending == sorted(ascending)
        await pilot.press("O")
        await pilot.pause()
        assert table.symbols == ascending[::-1]
        assert table.sort_reverse
        await pilot.press("O")
        await pilot.pause()
        assert table.symbols == ascending


async def test_no_color_losses_are_not_the_darkest_text(monkeypatch: object) -> None:
    """Under NO_COLOR the theme's colours turn to greys and a loss was the darkest text of all
    (240 on 235): gains and losses are told by their sign, in the normal text colour."""
    import pytest

    assert isinstance(monkeypatch, pytest.MonkeyPatch)
    monkeypatch.setenv("NO_COLOR", "1")
    app, _, _ = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        table = app.query_one(PositionsTable)
        loss = table.get_cell("UNH", "pnl")
        assert loss.plain.startswith("-")
        assert str(loss.style) in ("", "bold")
