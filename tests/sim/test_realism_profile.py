"""The realism profile: a scenario picks it, a bad one is named at load."""

from __future__ import annotations

import pytest

from weekly_er_tui.sim.realism import Realism
from weekly_er_tui.sim.scenario import ScenarioError, demo_scenario, parse_scenario


def test_a_scenario_without_realism_is_the_kind_simulator() -> None:
    assert demo_scenario().realism_profile() == Realism.kind()


def test_a_scenario_names_the_real_profile() -> None:
    data = demo_scenario().model_dump()
    data["realism"] = {"profile": "real"}
    assert parse_scenario(data).realism_profile().profile == "real"


def test_an_unknown_realism_switch_is_named() -> None:
    data = demo_scenario().model_dump()
    data["realism"] = {"profile": "real", "no_such_switch": 1}
    with pytest.raises(ScenarioError) as err:
        parse_scenario(data)
    assert "no_such_switch" in str(err.value)
