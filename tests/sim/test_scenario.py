"""Scenario files: the built-in demo, and errors that name the entry and the field."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures_sim import small_scenario_data
from weekly_er_tui.sim import ScenarioError, load_scenario, parse_scenario
from weekly_er_tui.sim.scenario import parse_span


def problems(data: dict[str, Any]) -> list[str]:
    with pytest.raises(ScenarioError) as info:
        parse_scenario(data)
    return info.value.problems


def test_demo_is_a_realistic_account() -> None:
    demo = load_scenario("demo")
    assert 8 <= len(demo.positions) <= 12
    value: dict[str, float] = {}
    for p in demo.positions:
        spec = demo.symbols[p.symbol]
        value[spec.sector] = value.get(spec.sector, 0.0) + p.quantity * spec.price
    assert len(value) >= 4
    nlv = demo.account.cash + sum(value.values())
    weights = sorted((v / nlv for v in value.values()), reverse=True)
    assert 0.26 <= weights[0] < 0.30  # one sector near its 30% concentration limit
    assert weights[1] < 0.2
    # earnings candidates are not all held
    assert {e.symbol for e in demo.earnings} - {p.symbol for p in demo.positions}


@pytest.mark.parametrize(
    ("now", "monday"),
    [
        (datetime(2026, 11, 25, 15, tzinfo=UTC), "2026-11-23"),  # Wednesday
        (datetime(2026, 11, 28, 15, tzinfo=UTC), "2026-11-30"),  # Saturday: the coming week
        (datetime(2027, 3, 1, 15, tzinfo=UTC), "2027-03-01"),  # any week
    ],
)
def test_demo_earnings_are_in_the_clocks_week(now: datetime, monday: str) -> None:
    events = load_scenario("demo").earnings_for_week(now)
    dates = sorted({e.date.isoformat() for e in events})
    assert dates[0] == monday
    assert all(e.date.weekday() < 5 for e in events)
    assert max(e.date for e in events).toordinal() - min(e.date for e in events).toordinal() < 5
    csv = load_scenario("demo").earnings_csv(now)
    assert csv.splitlines()[0] == "symbol,date,timing"
    assert len(csv.splitlines()) == len(events) + 1


@pytest.mark.parametrize(
    ("now", "weekday", "expected"),
    [
        (datetime(2026, 11, 23, 15, tzinfo=UTC), "thu", "2026-11-25"),  # Thanksgiving -> Wed
        (datetime(2027, 1, 19, 15, tzinfo=UTC), "mon", "2027-01-19"),  # MLK day -> Tue
        (datetime(2026, 11, 23, 15, tzinfo=UTC), "tue", "2026-11-24"),  # a normal day stays
    ],
)
def test_weekday_earnings_avoid_holidays(now: datetime, weekday: str, expected: str) -> None:
    data = small_scenario_data()
    data["earnings"] = [{"symbol": "MSFT", "weekday": weekday, "timing": "AMC"}]
    [event] = parse_scenario(data).earnings_for_week(now)
    assert event.date.isoformat() == expected


def test_the_demo_calendar_is_all_trading_days_in_thanksgiving_week() -> None:
    from weekly_er_tui.sim.nyse import nyse_sessions

    events = load_scenario("demo").earnings_for_week(datetime(2026, 11, 23, 15, tzinfo=UTC))
    assert all(nyse_sessions().index_of_date(e.date) is not None for e in events)


def test_the_small_scenario_loads_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text(json.dumps(small_scenario_data()))
    sc = load_scenario(str(path))
    assert sc.account.id == "DU1000001"
    assert [i.symbol for i in sc.instruments()][:2] == ["AAPL", "MSFT"]
    assert sc.instruments()[0].sector == "Technology"


def test_misspelt_action_names_the_entry_and_suggests() -> None:
    data = small_scenario_data()
    data["timeline"] = [
        {"at": "+1m", "action": "drop"},
        {"at": "+2m", "action": "drop"},
        {"at": "+3m", "action": "drop"},
        {"at": "+90s", "action": "stal"},
    ]
    assert problems(data) == ["timeline[3].action: unknown action 'stal' (did you mean 'stall'?)"]


def test_every_problem_is_listed_with_its_place() -> None:
    data = copy.deepcopy(small_scenario_data())
    data["account"]["cash"] = -5
    data["symbols"]["AAPL"]["price"] = 0
    data["symbols"]["MSFT"]["volatilty"] = 0.2
    data["positions"].append({"symbol": "AAPLE", "quantity": 5, "avg_cost": 1})
    data["timeline"] = [
        {"at": "+1m", "action": "price_shock", "symbol": "AAPL"},
        {"at": "soon", "action": "stall"},
        {"at": "+1m", "action": "stall", "code": 1100},
        {"at": "+1m", "action": "connectivity", "code": 1234},
    ]
    found = problems(data)
    assert "account.cash must be at least 0 (got -5)" in found
    assert "symbols.AAPL.price must be greater than 0 (got 0)" in found
    assert "symbols.MSFT.volatilty: unknown field (did you mean 'volatility'?)" in found
    assert "timeline[0].pct: required for action 'price_shock'" in found
    assert any(p.startswith("timeline[1].at: 'soon' is not an ISO 8601 instant") for p in found)
    assert "timeline[2].code: not a parameter of 'stall' (it takes duration)" in found
    assert any(p.startswith("timeline[3].code: 1234 is not a connectivity code") for p in found)
    with pytest.raises(ScenarioError) as info:
        parse_scenario(data)
    assert str(info.value).count("\n") == len(found)


def test_cross_references_are_checked() -> None:
    data = small_scenario_data()
    data["positions"].append({"symbol": "AAPLE", "quantity": 5, "avg_cost": 1})
    data["earnings"].append({"symbol": "ZZZ", "weekday": "mon"})
    data["timeline"] = [{"at": "+1m", "action": "price_shock", "sector": "Tech", "pct": -5}]
    assert problems(data) == [
        "positions[3].symbol: unknown symbol 'AAPLE' (not in symbols) (did you mean 'AAPL'?)",
        "earnings[1].symbol: unknown symbol 'ZZZ' (not in symbols)",
        "timeline[0].sector: unknown sector 'Tech' (the scenario has Energy, Financials, "
        "Healthcare, Technology)",
    ]


def test_missing_sections_and_bad_json(tmp_path: Path) -> None:
    assert problems({"symbols": {}}) == [
        "account: required",
        "symbols must have at least 1 entry (got {})",
    ]
    path = tmp_path / "broken.json"
    path.write_text('{"account": {"cash": 1},\n "symbols": }')
    with pytest.raises(ScenarioError, match=r"not valid JSON: .* at line 2 column 13"):
        load_scenario(str(path))
    with pytest.raises(ScenarioError, match=r"unknown scenario 'demo2'.*built-in \(demo\)"):
        load_scenario("demo2")


def test_spans() -> None:
    assert parse_span("90s") == 90 and parse_span("1h30m") == 5400 and parse_span(12) == 12
    assert parse_span("2d") == 172800 and parse_span("1.5m") == 90
    for bad in ("", "90x", "h", -1):
        with pytest.raises(ValueError):
            parse_span(bad)


def test_timeline_instants() -> None:
    data = small_scenario_data()
    data["timeline"] = [
        {"at": "+90s", "action": "drop"},
        {"at": "2026-11-23T10:30:00-05:00", "action": "drop"},
        {"at": "2026-11-23T10:45", "action": "drop"},
    ]
    sc = parse_scenario(data)
    start = datetime(2026, 11, 23, 15, tzinfo=UTC)
    got = [e.instant(start).isoformat() for e in sc.timeline]
    assert got == [
        "2026-11-23T15:01:30+00:00",
        "2026-11-23T15:30:00+00:00",
        "2026-11-23T15:45:00+00:00",  # a naive instant is US Eastern time
    ]


def test_the_documented_example_is_valid() -> None:
    doc = (Path(__file__).resolve().parents[2] / "weekly_er_tui/sim/SCENARIOS.md").read_text()
    example = doc.split("```json\n", 1)[1].split("```", 1)[0]
    sc = parse_scenario(json.loads(example), "SCENARIOS.md")
    assert sc.name == "friday-early-close" and len(sc.timeline) == 6
    assert {e.action for e in sc.timeline} >= {"stall", "refuse", "price_shock", "reject"}
