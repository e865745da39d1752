"""Snapshots of the cockpit: fixed states, a stopped clock, no animation, fixed sizes.

A changed snapshot is looked at before it is accepted (`pytest tests/ui --snapshot-update` only
after reading snapshot_report.html).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from textual.pilot import Pilot

from weekly_er_tui.ui.screenshots import LARGE, MIDDLE, SMALL, build_app, scene_app

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
def test_normal_session(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    assert snap_compare(build_app("normal"), terminal_size=size)


@SIZES
def test_recorded_normal_session(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    """Tuesday of the demo account's week, as the real engine published it on the simulator."""
    assert snap_compare(scene_app("normal"), terminal_size=size)


@SIZES
def test_paused(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    assert snap_compare(build_app("paused"), terminal_size=size)


@SIZES
def test_halted_after_emergency(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    assert snap_compare(build_app("halted"), terminal_size=size)


@SIZES
def test_reconnecting(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    assert snap_compare(build_app("reconnecting"), terminal_size=size)


@SIZES
def test_sector_over_limit(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    assert snap_compare(build_app("sector_over_limit"), terminal_size=size)


@SIZES
def test_working_orders(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    """Ours and another client's, with filled/left, age and orderRef."""
    assert snap_compare(build_app("working_orders"), terminal_size=size)


def test_close_one_position_asks(snap_compare: SnapCompare) -> None:
    assert snap_compare(build_app("working_orders"), terminal_size=SMALL,
                        run_before=press("end", "x"))


def test_cancel_one_order_asks(snap_compare: SnapCompare) -> None:
    assert snap_compare(build_app("working_orders"), terminal_size=MIDDLE,
                        run_before=press("tab", "x"))


@SIZES
def test_flatten_confirmation(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    assert snap_compare(build_app("normal"), terminal_size=size, run_before=press("F"))


@SIZES
def test_help_screen(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    assert snap_compare(build_app("normal"), terminal_size=size, run_before=press("question_mark"))


def test_flatten_queued_while_reconnecting(snap_compare: SnapCompare) -> None:
    """The flatten was confirmed while the connection was down: queued, and it says so."""
    assert snap_compare(build_app("flatten_queued"), terminal_size=SMALL)


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
