"""Notes row 18: PAPER or LIVE from the account id, never from the port.

Paper accounts start with DU (DF: an advisor's paper account), live ones with U, F or I. Docker
images and tunnels put either behind any port: a live account on a port that is not 7496/4001
must show LIVE and must not trade without allow_live.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from pathlib import Path

import pytest

from tests.connection.test_connection import FAST
from tests.fixtures_sim import small_scenario_data
from weekly_er_tui.broker.connection import ConnectionFailed, ConnectionMonitor
from weekly_er_tui.clock import ManualClock
from weekly_er_tui.config import AppConfig, ConfigError, account_is_live, parse_config
from weekly_er_tui.engine import TradingEngine
from weekly_er_tui.journal import Event, Journal
from weekly_er_tui.model import Alert, EventType, Severity
from weekly_er_tui.sim import Scenario, SimulatedGateway, parse_scenario

pytestmark = pytest.mark.integration


@pytest.fixture
def scenario() -> Scenario:
    data = small_scenario_data()
    data["account"]["id"] = "U7654321"  # a live account, behind the gateway's random port
    return parse_scenario(data)


@pytest.mark.parametrize(("account", "live"), [
    ("DU1234567", False), ("DF998877", False), ("U7654321", True), ("F1234567", True),
    ("I5555555", True), ("", True),
])  # fmt: skip
def test_the_account_prefix_says_paper_or_live(account: str, live: bool) -> None:
    assert account_is_live(account) is live


async def test_a_live_account_on_a_non_standard_port_is_refused_without_allow_live(
    gateway: SimulatedGateway, manual_clock: ManualClock
) -> None:
    assert gateway.port not in (7496, 4001)
    alerts: list[Alert] = []
    monitor = ConnectionMonitor(replace(FAST, port=gateway.port), alert=alerts.append,
                                clock=manual_clock)
    try:
        with pytest.raises(ConnectionFailed) as err:
            await monitor.start(wait=True)
    finally:
        await monitor.stop()
    assert "U7654321" in str(err.value) and "allow_live" in str(err.value)
    assert monitor.account_live is True
    assert [a.priority for a in alerts if a.key == "live_account_refused"] == [Severity.CRITICAL]
    assert gateway.order_refs_received == []


async def test_the_engine_shows_live_and_stops_without_trading(
    gateway: SimulatedGateway, manual_clock: ManualClock, tmp_path: Path
) -> None:
    config = AppConfig.model_validate({"ib_port": gateway.port})
    assert not config.live  # before the connect all it knows is the port
    engine = TradingEngine(config, data_dir=tmp_path, clock=manual_clock,
                           connection=replace(FAST, port=gateway.port))
    events: list[Event] = []
    engine.journal.subscribe(events.append)
    try:
        await asyncio.wait_for(engine.run(), 10)  # returns by itself: refused
        assert engine.state.live
        assert "allow_live" in engine.refused and "U7654321" in engine.refused
        failed = [e for e in events if e.event_type is EventType.CONNECTION_FAILED]
        assert failed and failed[0].severity is Severity.CRITICAL
        assert gateway.order_refs_received == []
        assert engine.monitor.config.client_id not in gateway.clients
    finally:
        engine.close()


async def test_with_allow_live_it_connects_as_live_and_warns_about_the_port(
    gateway: SimulatedGateway, manual_clock: ManualClock, tmp_path: Path
) -> None:
    journal = Journal(tmp_path, manual_clock)
    events: list[Event] = []
    journal.subscribe(events.append)
    monitor = ConnectionMonitor(replace(FAST, port=gateway.port, allow_live=True),
                                journal=journal, clock=manual_clock)
    try:
        await monitor.start(wait=True)
        assert monitor.is_connected and monitor.account_live is True
    finally:
        await monitor.stop()
        journal.close()
    warnings = [e for e in events if "non-standard port" in e.message]
    assert warnings and "U7654321 is LIVE" in warnings[0].message
    assert warnings[0].severity is Severity.MEDIUM


def test_the_config_refuses_a_live_account_without_allow_live() -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(json.dumps({"ib_port": 4003, "account": "U7654321"}), env={})
    assert "allow_live" in err.value.problems[0] and "U7654321" in err.value.problems[0]
    cfg = parse_config(json.dumps({"ib_port": 4003, "account": "U7654321",
                                   "allow_live": True}), env={})  # fmt: skip
    assert cfg.live
    # A paper account on a live port is paper: the port only warns.
    assert not parse_config(json.dumps({"ib_port": 7496, "account": "DU1234567"}), env={}).live
