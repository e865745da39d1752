"""Fuzz the four doors a person's input comes through (the config loader, the earnings calendar
reader, the scenario loader, the command line): whatever comes in, the answer is a value or the
documented refusal (exit 0 or 2), never a traceback. Bounded so `make test` stays fast."""

from __future__ import annotations

import io
import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.hardening.conftest import FUZZ_CASES
from weekly_er_tui import cli
from weekly_er_tui.cli.values import OneLineParser
from weekly_er_tui.config import AppConfig, ConfigError, load_config, parse_config
from weekly_er_tui.sim.scenario import Scenario, ScenarioError, load_scenario
from weekly_er_tui.strategy.calendars import CalendarError, load_calendar, market_calendar

FAST = settings(max_examples=150, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

SECTIONS = {name: list(field.annotation.model_fields)  # type: ignore[union-attr]
            for name, field in AppConfig.model_fields.items()
            if isinstance(field.annotation, type) and hasattr(field.annotation, "model_fields")}
TOP = list(AppConfig.model_fields)

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20),
    st.sampled_from(["", " ", "\x00", "127.0.0.1", "CRITICAL", "10:00", "1e999", "Infinity"]),
)
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12)


@st.composite
def configs(draw: st.DrawFn) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for key in draw(st.lists(st.sampled_from(TOP), max_size=5, unique=True)):
        if key in SECTIONS and draw(st.booleans()):
            fields = draw(st.lists(st.sampled_from(SECTIONS[key]), max_size=5, unique=True))
            data[key] = {f: draw(values) for f in fields}
        else:
            data[key] = draw(values)
    return data


def as_text(data: Any, cut: int | None) -> str:
    text = json.dumps(data, default=str)
    return text[:cut] if cut is not None else text


@FAST
@given(configs(), st.one_of(st.none(), st.integers(min_value=0, max_value=200)))
def test_the_config_loader_answers_a_config_or_its_problems(data: dict[str, Any],
                                                            cut: int | None) -> None:
    FUZZ_CASES["config"] += 1
    try:
        parse_config(as_text(data, cut), "config.json", env={})
    except ConfigError as exc:
        assert exc.problems and all(isinstance(p, str) and p for p in exc.problems)


@FAST
@given(st.binary(max_size=300))
def test_the_config_loader_takes_any_bytes(raw: bytes) -> None:
    FUZZ_CASES["config bytes"] += 1
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "config.json"
        path.write_bytes(raw)
        try:
            load_config(path, env={})
        except ConfigError as exc:
            assert exc.problems


ROW_PARTS = st.sampled_from([
    "AAPL", "MSFT", "", " ", "2026-11-19", "2026-13-40", "1800-01-01", "9999-12-31", "AMC",
    "BMO", "xyz", "long", "short", "1e999", "nan", "-5", "10000", '"', '"a,b"', "\x00", "é",
])


@st.composite
def calendars(draw: st.DrawFn) -> str:
    header = draw(st.sampled_from(["symbol,report_date,timing", "symbol,report_date,timing,"
                                   "side,notional", "", "report_date,symbol", "a,b,c"]))
    rows = draw(st.lists(st.lists(ROW_PARTS, min_size=0, max_size=6).map(",".join),
                         max_size=8))
    noise = draw(st.text(max_size=10))
    return "\n".join([header, *rows]) + noise


@pytest.fixture(scope="module", autouse=True)
def _calendar_built() -> None:
    market_calendar()  # built once (0.5 s), not inside a timed example


@FAST
@given(st.one_of(calendars().map(lambda t: t.encode("utf-8")), st.binary(max_size=200)))
def test_the_calendar_reader_answers_rows_or_every_bad_one(raw: bytes) -> None:
    FUZZ_CASES["calendar"] += 1
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "calendar.csv"
        path.write_bytes(raw)
        try:
            rows = load_calendar(path)
        except CalendarError as exc:
            assert exc.problems
        else:
            assert isinstance(rows, list)


SCENARIO_KEYS = ["name", "account", "symbols", "positions", "earnings", "timeline", "seed",
                 "realism"]


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    data: dict[str, Any] = {"account": {"cash": draw(st.one_of(
        st.floats(allow_nan=True, allow_infinity=True), st.integers(), st.booleans()))}}
    if draw(st.booleans()):
        data["symbols"] = {"AAPL": {"price": draw(st.one_of(
            st.floats(allow_nan=True, allow_infinity=True), st.integers(), st.text(max_size=4))),
            "sector": draw(st.text(max_size=6))}}
    for key in draw(st.lists(st.sampled_from(SCENARIO_KEYS), max_size=3, unique=True)):
        data[key] = draw(values)
    return data


@FAST
@given(scenarios(), st.one_of(st.none(), st.integers(min_value=0, max_value=120)))
def test_the_scenario_loader_answers_a_scenario_or_its_problems(data: dict[str, Any],
                                                                cut: int | None) -> None:
    FUZZ_CASES["scenario"] += 1
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "scenario.json"
        path.write_text(as_text(data, cut))
        try:
            got = load_scenario(path)
        except ScenarioError as exc:
            assert str(exc)
        else:
            assert isinstance(got, Scenario)


FLAGS = {
    "demo": ["--clock-speed", "--clock-start", "--run-for", "--scenario", "--data-dir",
             "--log-level"],
    "sim": ["--port", "--host", "--clock-speed", "--clock-start"],
    "flatten": ["--client-id", "--data-dir"],
    "check-config": ["--log-level"],
}
FLAG_VALUES = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["nan", "inf", "-inf", "1e12", "1e999", "0", "-1", "65536", "99999",
                     "1800-01-01T10:00", "2026-11-23T10:00", "9999-12-31", "5d", "0s", "90m",
                     "true", "", "\x00", "2147483648"]),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(min_value=-(2**40), max_value=2**40).map(str),
)


@st.composite
def command_lines(draw: st.DrawFn) -> list[str]:
    command = draw(st.sampled_from(sorted(FLAGS)))
    argv = [command]
    for flag in draw(st.lists(st.sampled_from(FLAGS[command]), max_size=3, unique=True)):
        argv += [flag, draw(FLAG_VALUES)]
    return argv


@FAST
@given(command_lines())
def test_the_command_line_parses_or_exits_2(argv: list[str]) -> None:
    FUZZ_CASES["command line"] += 1
    parser = cli.build_parser()
    assert isinstance(parser, OneLineParser)
    try:
        parser.parse_args(argv)
    except SystemExit as exc:
        assert exc.code == 2, argv


@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(configs())
def test_check_config_exits_0_or_2(data: dict[str, Any]) -> None:
    FUZZ_CASES["check-config"] += 1
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "config.json"
        path.write_text(json.dumps(data, default=str))
        out, err = io.StringIO(), io.StringIO()
        code = cli.main(["check-config", str(path)], out=out, err=err)
    assert code in (0, 2), err.getvalue()
    assert "Traceback" not in err.getvalue()
