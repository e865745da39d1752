"""The scenes the snapshots and screenshots show are the engine's own: recorded from the real
engine on the simulated gateway (weekly_er_tui/scenes/record.py), never written by hand.

One scene (the normal Tuesday, the longest chain a short test can afford: the first connect,
two days of entries) is recorded again here and must be the committed fixture, field for
field: a fixture edited by hand, or an engine change that moves what it shows, fails here until
`make scenes` re-records them (then look at the snapshots). `python -m
weekly_er_tui.scenes.record --check` compares every scene the same way.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import IbLogGuard
from weekly_er_tui.control.codec import to_plain
from weekly_er_tui.model import EngineState
from weekly_er_tui.scenes.fixtures import SCENES_DIR, load_scene, scene_names
from weekly_er_tui.scenes.record import FLOAT_TOLERANCE, SCENE_NAMES, differences, record


def committed(name: str) -> dict[str, object]:
    data: dict[str, object] = json.loads((SCENES_DIR / f"{name}.json").read_text())
    return data


async def test_the_normal_scene_recorded_again_is_the_committed_one(
    ib_log_guard: IbLogGuard,
) -> None:
    ib_log_guard.expect_link_faults()
    ib_log_guard.expect("Connect call failed")  # the first connect, refused on purpose
    recorded = await record(["normal"])
    assert list(recorded) == ["normal"]
    assert differences(recorded["normal"], committed("normal")) == []


def test_a_hand_edit_is_a_difference() -> None:
    fixture = committed("normal")
    edited = json.loads(json.dumps(fixture))
    edited["state"]["portfolio"]["positions"][0]["quantity"] = 131.0
    assert differences(edited, fixture) == [
        "state.portfolio.positions[0].quantity: 131.0 != 130.0 (more than 0.0005 apart)"]


def test_a_figure_is_the_same_within_the_tolerance_and_nothing_else_is_loosened() -> None:
    """Recorded again on a loaded machine, a float may differ in its last digits (1e-4 seen): that
    is the same figure. A count, a text, a state or one alert more is never the same."""
    fixture = committed("normal")

    def edited(change: Callable[[dict[str, Any]], None]) -> list[str]:
        copy = json.loads(json.dumps(fixture))
        change(copy["state"])
        return differences(copy, fixture)

    def nudge(by: float) -> Callable[[dict[str, Any]], None]:
        def change(state: dict[str, Any]) -> None:
            state["portfolio"]["positions"][0]["market_price"] += by
            state["safety"]["sector_weights"][0][1] += by
        return change

    assert edited(nudge(1e-4)) == []
    assert edited(nudge(-FLOAT_TOLERANCE * 0.99)) == []
    assert len(edited(nudge(FLOAT_TOLERANCE * 2))) == 2
    assert len(edited(nudge(0.01))) == 2  # a cent on a price, a hundredth of a weight

    def one_alert_more(state: dict[str, Any]) -> None:
        state["alerts"].append({**state["alerts"][0], "title": "Connection lost to IBKR"})

    [said] = edited(one_alert_more)
    n = len(fixture["state"]["alerts"])  # type: ignore[index]
    assert said.startswith(f"state.alerts: {n + 1} items recorded, {n} in the file; only "
                           f"recorded: "), said
    assert "Connection lost to IBKR" in said  # what the extra alert was, for the next look

    def texts(state: dict[str, Any]) -> None:
        state["plan"][0]["note"] += "!"
        state["connection"]["reconnect_attempts"] += 1  # an int: exact
        state["trading_state"] = "PAUSED"

    assert len(edited(texts)) == 3


def test_every_scene_of_the_recorder_is_committed_and_nothing_else() -> None:
    assert sorted(SCENE_NAMES) == list(scene_names())


@pytest.mark.parametrize("name", SCENE_NAMES)
def test_each_fixture_is_exactly_what_the_codec_writes(name: str) -> None:
    """No field the engine's state does not have, none missing, no value the codec would not
    write back the same: a hand-added or hand-typed field shows here."""
    scene = load_scene(name)
    assert isinstance(scene.state, EngineState)
    assert to_plain(scene.state) == committed(name)["state"]
