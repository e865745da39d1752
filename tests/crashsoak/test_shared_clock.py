"""The public option the crash-restart soak runs on: `weekly-er-tui run` and `weekly-er-tui sim`
take --clock-start, --clock-speed and --clock-epoch, and processes given the same three share one
simulated clock. A live account refuses it: in the command line (by the configured account or
port) and again at the connect (by the account IB names), even with allow_live.
"""

from __future__ import annotations

import io
import json
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.connection.test_connection import FAST
from tests.fixtures_sim import small_scenario_data
from weekly_er_tui import cli
from weekly_er_tui.broker.connection import ConnectionFailed, ConnectionMonitor
from weekly_er_tui.clock import AcceleratedClock, ManualClock
from weekly_er_tui.model import Alert
from weekly_er_tui.sim import Scenario, SimulatedGateway, parse_scenario

START = datetime(2026, 12, 10, 14, 15, tzinfo=UTC)


def test_clocks_on_one_epoch_read_the_same_whenever_each_started() -> None:
    # The epoch is 20 real seconds ago: a clock made now reads 20 * speed past the start, as one
    # made at the epoch would, not the start.
    epoch = datetime.now(UTC) - timedelta(seconds=20)
    late = AcceleratedClock(START, 500, epoch)
    assert abs((late.now() - START).total_seconds() - 20 * 500) < 500 * 2
    first = AcceleratedClock(START, 500, epoch)
    second = AcceleratedClock(START, 500, epoch)
    assert abs((first.now() - second.now()).total_seconds()) < 500 * 0.5
    # Without an epoch a clock starts when it is made (the demo's clock, unchanged).
    assert abs((AcceleratedClock(START, 500).now() - START).total_seconds()) < 500 * 0.5


def _config(tmp_path: Path, **values: object) -> str:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(values))
    return str(path)


@pytest.mark.parametrize("flags", [
    ["--clock-speed", "100"],
    ["--clock-start", "2026-12-10T09:15"],
    ["--clock-epoch", str(int(time.time()))],
])  # fmt: skip
def test_run_refuses_a_simulated_clock_on_a_live_account(tmp_path: Path,
                                                         flags: list[str]) -> None:
    config = _config(tmp_path, account="U7654321", allow_live=True)
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(["run", "--headless", "--config", config, "--data-dir", str(tmp_path),
                     *flags], out, err)
    assert code == cli.EXIT_BAD_INPUT
    said = err.getvalue()
    assert "refused" in said and "U7654321 is LIVE" in said and "--clock-speed" in said
    assert "Traceback" not in said and len(said.strip().splitlines()) == 1
    assert not (tmp_path / "logs").exists()  # nothing was started


def test_run_refuses_a_simulated_clock_on_a_live_port_without_an_account(tmp_path: Path) -> None:
    config = _config(tmp_path, ib_port=7496, allow_live=True)
    err = io.StringIO()
    code = cli.main(["run", "--headless", "--config", config, "--data-dir", str(tmp_path),
                     "--clock-speed", "60"], io.StringIO(), err)
    assert code == cli.EXIT_BAD_INPUT and "ib_port 7496 is LIVE" in err.getvalue()


@pytest.mark.parametrize("value", ["yesterday", "nan", "1e999", "0", "2020-01-01T00:00"])
def test_a_bad_clock_epoch_is_one_line_and_exit_2(value: str, capsys: pytest.CaptureFixture[str]
                                                 ) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.main(["sim", "--clock-epoch", value])
    assert exit_.value.code == 2
    said = capsys.readouterr().err
    assert "--clock-epoch" in said and "Traceback" not in said
    assert len(said.strip().splitlines()) == 1


@pytest.fixture
def scenario() -> Scenario:
    data = small_scenario_data()
    data["account"]["id"] = "U7654321"  # a live account behind a simulated gateway's port
    return parse_scenario(data)


@pytest.mark.integration
async def test_the_connect_refuses_a_live_account_on_a_simulated_clock_even_with_allow_live(
    gateway: SimulatedGateway, manual_clock: ManualClock
) -> None:
    alerts: list[Alert] = []
    monitor = ConnectionMonitor(
        replace(FAST, port=gateway.port, allow_live=True, simulated_clock=True),
        alert=alerts.append, clock=manual_clock)
    try:
        with pytest.raises(ConnectionFailed) as err:
            await monitor.start(wait=True)
    finally:
        await monitor.stop()
    assert "U7654321" in str(err.value) and "simulated clock" in str(err.value)
    assert [a.title for a in alerts if a.key == "live_account_refused"] == [
        "Refusing to trade LIVE account U7654321: a simulated clock"]
    assert gateway.order_refs_received == []
