"""A second demo in the same data directory works like the first: it enters the week's reports
and journals their fills. The demo keeps its journals between runs while its state database and
its simulated account start afresh; the simulator's execution ids (and permIds) differ from run
to run as IB's do, so the kept journal never drops the new run's fills as already journaled."""

from __future__ import annotations

import io
import json
from pathlib import Path

from tests.engine.rig import scenario_data
from weekly_er_tui import cli
from weekly_er_tui.journal import read_csv
from weekly_er_tui.order_life import IntentStatus
from weekly_er_tui.store import Store


def write_scenario(tmp_path: Path) -> Path:
    # JNJ reports Monday after the close, MSFT Tuesday before the open: both entries go at 10:00
    # Monday, half a simulated minute after the clock starts.
    scenario = tmp_path / "scenario.json"
    scenario.write_text(json.dumps(scenario_data() | {"earnings": [
        {"symbol": "JNJ", "weekday": "mon", "timing": "AMC"},
        {"symbol": "MSFT", "weekday": "tue", "timing": "BMO"},
    ]}))
    return scenario


def demo(scenario: Path, data: Path) -> str:
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(["demo", "--headless", "--scenario", str(scenario), "--data-dir", str(data),
                     "--clock-speed", "60", "--clock-start", "2026-11-16T09:59:30",
                     "--run-for", "3m"], out=out, err=err)
    assert code == 0, err.getvalue()
    return err.getvalue()


def entries(data: Path) -> list[dict[str, str]]:
    return [r for r in read_csv(data / "logs" / "trade_journal.csv") if r["reason"] == "ENTRY"]


def intents(data: Path) -> dict[str, IntentStatus]:
    store = Store.in_data_dir(data)
    try:
        return {i.symbol: i.status for i in store.intents()}
    finally:
        store.close()


def test_a_second_demo_in_the_same_directory_enters_and_journals_its_fills(
    tmp_path: Path
) -> None:
    scenario, data = write_scenario(tmp_path), tmp_path / "demo-data"
    demo(scenario, data)
    first = entries(data)
    assert sorted(r["symbol"] for r in first) == ["JNJ", "MSFT"]
    assert intents(data) == {"JNJ": IntentStatus.FILLED, "MSFT": IntentStatus.FILLED}

    said = demo(scenario, data)
    assert f"the last run's journals and logs are in {data / 'previous-run'}" in said
    assert intents(data) == {"JNJ": IntentStatus.FILLED, "MSFT": IntentStatus.FILLED}
    assert entries(data / "previous-run") == first
    this_run = entries(data)
    assert len(this_run) == 2 and sorted(r["symbol"] for r in this_run) == ["JNJ", "MSFT"]
    # IB's execIds and permIds are never reused: not across runs of the simulator either.
    old = {r["exec_id"] for r in first} | {r["perm_id"] for r in first}
    assert not old & ({r["exec_id"] for r in this_run} | {r["perm_id"] for r in this_run})
