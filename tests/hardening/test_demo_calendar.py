"""A `calendar_file` in the demo's `--config` is not used: the simulated gateway knows only the
scenario's symbols, so the demo trades the scenario's calendar. It says so, naming the file, at
start-up and in the alert log (the cockpit's), never silently."""

from __future__ import annotations

import io
import json
from pathlib import Path

from weekly_er_tui import cli
from weekly_er_tui.journal import read_csv


def demo(tmp_path: Path, config: dict[str, object]) -> tuple[str, list[dict[str, str]]]:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    data = tmp_path / "demo-data"
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(["demo", "--headless", "--config", str(path), "--data-dir", str(data),
                     "--run-for", "1s"], out=out, err=err)
    assert code == 0, err.getvalue()
    return err.getvalue(), read_csv(data / "logs" / "events_log.csv")


def test_the_demo_says_the_scenarios_calendar_replaces_the_configs(tmp_path: Path) -> None:
    mine = tmp_path / "my_calendar.csv"
    mine.write_text("symbol,report_date,timing\nORCL,2026-12-08,AMC\n")
    said, events = demo(tmp_path, {"strategy": {"calendar_file": str(mine)}})
    line = next(x for x in said.splitlines() if str(mine) in x)
    assert "scenario" in line and "not used" in line and "--scenario" in line
    logged = [e["message"] for e in events if str(mine) in e["message"]]
    assert logged and "not used" in logged[0], [e["message"] for e in events]


def test_without_a_calendar_in_the_config_nothing_is_said(tmp_path: Path) -> None:
    said, events = demo(tmp_path, {})
    assert "calendar_file" not in said
    assert not [e for e in events if "calendar_file" in e["message"]]
