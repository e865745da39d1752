"""A scenario with several mistakes is answered with all of them at once, each naming its
place in the file, the value found and what to write instead; nothing runs. (A cross-reference,
such as a position in a symbol the scenario does not list, used to wait for every field to be
right first: four mistakes took four runs.)"""

from __future__ import annotations

import copy
import io
import json
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures_sim import small_scenario_data
from weekly_er_tui import cli
from weekly_er_tui.sim import ScenarioError, parse_scenario


def four_mistakes() -> dict[str, Any]:
    data = copy.deepcopy(small_scenario_data())
    data["account"]["cash"] = -5  # a field out of range
    data["symbols"]["MSFT"]["volatilty"] = 0.2  # a misspelt key
    data["positions"][0]["symbol"] = "APPL"  # a cross-reference to a symbol not listed
    data["timeline"] = [{"at": "+5m", "action": "stal"}]  # a misspelt action
    return data


def problems(data: dict[str, Any]) -> list[str]:
    with pytest.raises(ScenarioError) as info:
        parse_scenario(data)
    return info.value.problems


def test_four_mistakes_are_four_problems_in_one_answer() -> None:
    assert problems(four_mistakes()) == [
        "account.cash must be at least 0 (got -5)",
        "symbols.MSFT.volatilty: unknown field (did you mean 'volatility'?)",
        "timeline[0].action: unknown action 'stal' (did you mean 'stall'?)",
        "positions[0].symbol: unknown symbol 'APPL' (not in symbols) (did you mean 'AAPL'?)",
    ]


def test_each_problem_names_the_value_and_the_fix() -> None:
    data = copy.deepcopy(small_scenario_data())
    data["symbols"]["AAPL"]["price"] = 0
    data["symbols"]["JPM"]["volatility"] = 9
    data["positions"][1]["quantity"] = "ten"
    data["earnings"] = [{"symbol": "MSFT", "weekday": "tue", "timing": "after"}]
    found = problems(data)
    assert "symbols.AAPL.price must be greater than 0 (got 0)" in found
    assert "symbols.JPM.volatility must be at most 5 (got 9)" in found
    assert "positions[1].quantity must be a number (got 'ten')" in found
    assert "earnings[0].timing must be one of 'BMO', 'AMC' or '' (got 'after')" in found


def test_the_demo_lists_them_all_and_runs_nothing(tmp_path: Path) -> None:
    scenario = tmp_path / "four.json"
    scenario.write_text(json.dumps(four_mistakes()))
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(["demo", "--headless", "--scenario", str(scenario), "--data-dir",
                     str(tmp_path / "demo-data"), "--run-for", "1s"], out=out, err=err)
    said = err.getvalue()
    assert code == 2
    assert "Traceback" not in said and "4 problem" in said, said
    for where in ("account.cash", "symbols.MSFT.volatilty", "timeline[0].action",
                  "positions[0].symbol"):
        assert where in said, said
    assert not (tmp_path / "demo-data").exists()
