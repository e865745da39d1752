"""Snapshots of the cockpit on the scenes recorded from the real engine on the simulated gateway
(weekly_er_tui/scenes/, `make scenes`): a stopped clock, no animation, fixed sizes; the screens
a key opens are opened by pressing it.

A changed snapshot is looked at before it is accepted (`pytest tests/ui --snapshot-update` only
after reading snapshot_report.html).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from textual.pilot import Pilot

from weekly_er_tui.ui.screenshots import LARGE, MIDDLE, SMALL, build_app

SnapCompare = Callable[..., bool]
SIZES = pytest.mark.parametrize(
    "size", [SMALL, MIDDLE, LARGE], ids=["80x24", "132x40", "160x48"]
)


def press(*keys: str) -> Callable[[Pilot[None]], object]:
    async def run_before(pilot: Pilot[None]) -> None:
        await pilot.pause()
        await pilot.press(*keys)
        await pilot.pause()

    return run_before


@SIZES
def test_before_the_first_connect(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    """The gateway is not up yet: no figure is shown as if it were known."""
    assert snap_compare(build_app("first-connect"), terminal_size=size)


@SIZES
def test_normal_session(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    """Tuesday of the demo account's week: twelve positions, two of this week's entries."""
    assert snap_compare(build_app("normal"), terminal_size=size)


@SIZES
def test_paused(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    assert snap_compare(build_app("paused"), terminal_size=size)


@SIZES
def test_degraded(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    """A market data farm is down (2103): connected, but DEGRADED."""
    assert snap_compare(build_app("degraded"), terminal_size=size)


@SIZES
def test_reconnecting(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    """The link dropped 47 s ago: the positions as last known, STALE with their age."""
    assert snap_compare(build_app("reconnecting"), terminal_size=size)


@SIZES
def test_working_orders(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    """An entry of ours filling in parts, and the trader's own order from TWS."""
    assert snap_compare(build_app("working-orders"), terminal_size=size)


@SIZES
def test_sector_over_limit(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    assert snap_compare(build_app("sector-over"), terminal_size=size)


@SIZES
def test_halted_after_emergency(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    """The market fell through the emergency stop: HALTED, the close working in parts."""
    assert snap_compare(build_app("halted"), terminal_size=size)


@SIZES
def test_friday_close_in_progress(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    assert snap_compare(build_app("friday-closing"), terminal_size=size)


@SIZES
def test_friday_close_done_flat(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    assert snap_compare(build_app("friday-flat"), terminal_size=size)


@SIZES
def test_flatten_confirmation(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    assert snap_compare(build_app("normal"), terminal_size=size, run_before=press("F"))


@SIZES
def test_help_screen(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    assert snap_compare(build_app("normal"), terminal_size=size, run_before=press("question_mark"))


def test_close_one_position_asks(snap_compare: SnapCompare) -> None:
    assert snap_compare(build_app("working-orders"), terminal_size=SMALL,
                        run_before=press("end", "x"))


def test_cancel_one_order_asks(snap_compare: SnapCompare) -> None:
    """x on our own order (the entry filling in parts, under the TWS order) asks what it will
    cancel."""
    assert snap_compare(build_app("working-orders"), terminal_size=MIDDLE,
                        run_before=press("tab", "down", "x"))


def test_flatten_queued_while_reconnecting(snap_compare: SnapCompare) -> None:
    """The flatten was confirmed while the connection was down: queued, and it says so."""
    assert snap_compare(build_app("flatten-queued"), terminal_size=SMALL)


def test_flatten_confirmation_while_disconnected(snap_compare: SnapCompare) -> None:
    assert snap_compare(build_app("reconnecting"), terminal_size=SMALL, run_before=press("F"))


def test_resume_from_halt_asks(snap_compare: SnapCompare) -> None:
    assert snap_compare(build_app("halted"), terminal_size=SMALL, run_before=press("r"))


def test_quit_with_positions_warns(snap_compare: SnapCompare) -> None:
    assert snap_compare(build_app("normal"), terminal_size=SMALL, run_before=press("q"))


def test_live_account(snap_compare: SnapCompare) -> None:
    assert snap_compare(build_app("live"), terminal_size=LARGE)


def test_no_color(snap_compare: SnapCompare, monkeypatch: pytest.MonkeyPatch) -> None:
    """NO_COLOR: every state still reads in words and glyphs."""
    monkeypatch.setenv("NO_COLOR", "1")
    assert snap_compare(build_app("halted"), terminal_size=SMALL)


def test_no_color_link_down(snap_compare: SnapCompare, monkeypatch: pytest.MonkeyPatch) -> None:
    """NO_COLOR: STALE positions say so in words."""
    monkeypatch.setenv("NO_COLOR", "1")
    assert snap_compare(build_app("reconnecting"), terminal_size=SMALL)
