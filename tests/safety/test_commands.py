"""issue 5: the documented API and the CLI's `check safety` and `flatten` against the simulator.

`weekly-er-tui check safety` runs through cli.main in a worker thread (it calls asyncio.run), while
the gateway serves on the test's loop; `flatten --yes` runs cli.trading.flatten_account in-process
with the ManualClock so its closing orders are deterministic (market orders, in session).
"""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

import pytest
from ib_async import IB, LimitOrder, Stock

from tests.conftest import IbLogGuard
from tests.fixtures_sim import wait_until
from weekly_er_tui import cli
from weekly_er_tui.cli.checks import check_safety
from weekly_er_tui.cli.trading import flatten_account
from weekly_er_tui.clock import ManualClock
from weekly_er_tui.config import AppConfig
from weekly_er_tui.journal import read_csv
from weekly_er_tui.model import TradingState
from weekly_er_tui.sim import SimulatedGateway
from weekly_er_tui.store import Store

pytestmark = pytest.mark.integration


async def test_documented_api(ib: IB, gateway: SimulatedGateway, tmp_path: Path,
                              monkeypatch: pytest.MonkeyPatch) -> None:
    from weekly_er_tui import PositionSafetyManager, SafetyLimits

    monkeypatch.chdir(tmp_path)  # the standalone API journals to ./logs
    safety = PositionSafetyManager(SafetyLimits(emergency_stop_loss=0.02))
    report = await safety.perform_safety_check(ib)
    assert isinstance(report, dict)
    assert 0 <= report["overall_risk_score"] < 100
    assert isinstance(report["violations"], list)
    assert not [v for v in report["violations"] if v["severity"] == "CRITICAL"]
    # Without a store nothing is known about what the strategy holds: no orphan verdict.
    assert not [v for v in report["violations"] if v["rule"] == "orphaned_position"]

    # A second check on the same connection (the documented loop calls it every few minutes).
    gateway.price_shock(-20, sector="Technology")
    # A check reads what the connection has received: wait for the shocked prices and P&L.
    aapl = gateway.price("AAPL")
    await wait_until(lambda: any(t.contract is not None and t.contract.symbol == "AAPL"
                                 and t.last == aapl for t in ib.tickers()))
    await wait_until(lambda: ib.pnl() and ib.pnl()[0].dailyPnL < -4000)
    report = await safety.perform_safety_check(ib)
    rules = {v["rule"]: v for v in report["violations"]}
    assert rules["emergency_stop_loss"]["severity"] == "CRITICAL"
    assert report["overall_risk_score"] == 100
    assert rules["emergency_stop_loss"]["value"] == pytest.approx(0.029, abs=0.001)

    result = await safety.emergency_close_all_positions(ib)
    assert result["flat"] is True and sorted(result["closed"]) == ["AAPL", "JPM", "XOM"]
    assert result["remaining"] == [] and result["failed"] == []
    assert gateway.account.positions == {} and gateway.open_orders() == []
    rows = read_csv(tmp_path / "logs" / "trade_journal.csv")
    assert sorted(r["exec_id"] for r in rows) == sorted(e.exec_id for e in gateway.executions)
    assert {r["reason"] for r in rows} == {"EMERGENCY"}


def _config_file(tmp_path: Path, gateway: SimulatedGateway, **limits: float) -> Path:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"ib_port": gateway.port, "safety_limits": limits}))
    return path


async def test_check_safety_command_exits_0_then_3_when_critical(
    gateway: SimulatedGateway, tmp_path: Path
) -> None:
    config = _config_file(tmp_path, gateway, emergency_stop_loss=0.02)

    async def check() -> tuple[int, str]:
        out, err = io.StringIO(), io.StringIO()
        code = await asyncio.to_thread(
            cli.main, ["check", "safety", "--config", str(config)], out, err
        )
        return code, out.getvalue()

    code, text = await check()
    assert code == 0, text
    assert text.startswith("Risk score: ") and "/100" in text
    assert "CRITICAL" not in text

    gateway.price_shock(-20, sector="Technology")
    code, text = await check()
    assert code == 3, text
    assert "Risk score: 100.0/100" in text
    assert "[CRITICAL] emergency_stop_loss: Portfolio down 2.9%" in text
    # A check only looks: nothing was sent.
    assert gateway.order_refs_received == [] and len(gateway.account.positions) == 3


async def test_check_safety_unreachable_gateway_exits_1(
    unused_tcp_port: int, ib_log_guard: IbLogGuard
) -> None:
    ib_log_guard.expect("API connection failed")
    ib_log_guard.expect("Make sure API port")
    out = io.StringIO()
    assert await check_safety(AppConfig(ib_port=unused_tcp_port), out) == 1
    assert "connection refused" in out.getvalue()


async def test_flatten_yes_flattens_the_account_from_its_own_client_id(
    ib: IB, gateway: SimulatedGateway, tmp_path: Path, manual_clock: ManualClock,
    ib_log_guard: IbLogGuard,
) -> None:
    ib_log_guard.expect(r"Error 202, .*Order Canceled")  # client 1 hears its order cancelled
    seen: list[int] = []
    gateway.add_listener(lambda ev: seen.append(ev.client_id) if ev.kind == "order"
                         and ev.client_id is not None else None)
    # A working order left by another client (the app, gone): the flatten cancels it too.
    msft = Stock("MSFT", "SMART", "USD", conId=gateway.market.instruments["MSFT"].con_id)
    resting = ib.placeOrder(msft, LimitOrder("BUY", 10, 100.0))
    await wait_until(lambda: resting.orderStatus.status == "Submitted")
    assert len(gateway.open_orders()) == 1

    out = io.StringIO()
    code = await flatten_account(AppConfig(ib_port=gateway.port), tmp_path, manual_clock, out)

    text = out.getvalue()
    assert code == 0, text
    assert "Account is FLAT." in text and "closed: AAPL, JPM, XOM" in text
    assert gateway.account.positions == {} and gateway.open_orders() == []
    await wait_until(lambda: resting.orderStatus.status == "Cancelled")
    assert set(seen) == {1, 57}  # the resting order (client 1); the closes: ib_client_id + 50
    rows = read_csv(tmp_path / "logs" / "trade_journal.csv")
    assert sorted(r["exec_id"] for r in rows) == sorted(e.exec_id for e in gateway.executions)
    assert {r["reason"] for r in rows} == {"EMERGENCY"}
    store = Store.in_data_dir(tmp_path)
    try:
        assert store.trading_state()[0] is TradingState.HALTED
    finally:
        store.close()
    events = read_csv(tmp_path / "logs" / "events_log.csv")
    halted = [e for e in events if e["event_type"] == "TRADING_HALTED"]
    assert len(halted) == 1 and "flattened from the command line" in halted[0]["message"]


async def test_flatten_without_yes_refuses_and_sends_nothing(
    gateway: SimulatedGateway, tmp_path: Path
) -> None:
    out, err = io.StringIO(), io.StringIO()
    config = _config_file(tmp_path, gateway)
    code = cli.main(["flatten", "--config", str(config), "--data-dir", str(tmp_path)], out, err)
    assert code == 2
    assert "--yes" in err.getvalue()
    assert gateway.clients == []  # it did not even connect
    assert gateway.order_refs_received == []
    assert len(gateway.account.positions) == 3
    assert not (tmp_path / "logs").exists()
