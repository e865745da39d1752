"""issue 5: a sector price shock fires emergency_stop_loss; the account ends flat and HALTED.

Against the simulated gateway over TCP with the real ib_async client, through the TradingEngine.
"""

from __future__ import annotations

import pytest

from tests.conftest import IbLogGuard
from tests.fixtures_sim import small_scenario_data, wait_until
from tests.safety.conftest import MakeRig
from weekly_er_tui.broker.orders import make_intent
from weekly_er_tui.model import EventType, Severity, TradingState
from weekly_er_tui.sim import Scenario, SimulatedGateway, parse_scenario
from weekly_er_tui.store import Store

pytestmark = pytest.mark.integration

TECH_HEAVY = [
    {"symbol": "AAPL", "quantity": 200, "avg_cost": 180.0},
    {"symbol": "MSFT", "quantity": 100, "avg_cost": 380.0},
    {"symbol": "JPM", "quantity": 50, "avg_cost": 190.0},
    {"symbol": "XOM", "quantity": 100, "avg_cost": 105.0},
]


@pytest.fixture
def scenario() -> Scenario:
    """Two thirds of the book in Technology: a -20% sector shock costs about 14% of the
    account, past the default 10% emergency stop-loss."""
    data = small_scenario_data()
    data["account"]["cash"] = 40_000
    data["positions"] = TECH_HEAVY
    return parse_scenario(data)


@pytest.mark.parametrize("daily_limit", [50_000, 10_000], ids=["stop_alone", "stop_and_daily"])
async def test_sector_shock_fires_the_emergency_stop_and_flattens(
    rig: MakeRig, gateway: SimulatedGateway, daily_limit: float
) -> None:
    # Default limits (10% stop-loss from the session's start), except the daily loss limit:
    # 50k lets the stop-loss fire alone; 10k (the default) is breached by the same shock.
    r = await rig({"max_daily_loss": daily_limit, "max_position_value": 100_000,
                   "max_position_concentration": 0.5, "max_sector_concentration": 0.9})
    engine = r.engine
    start = engine.portfolio.snapshot()
    baseline = engine.store.baseline("session_nlv", "2026-11-23")
    assert baseline == pytest.approx(start.net_liquidation - (start.daily_pnl or 0.0))
    assert engine.safety.last_report is not None and not engine.safety.last_report.critical

    shocked = gateway.price_shock(-20, sector="Technology")
    assert shocked == ["AAPL", "MSFT"]
    await wait_until(lambda: r.of(EventType.EMERGENCY_CLOSE)
                     and "finished" in r.of(EventType.EMERGENCY_CLOSE)[-1].message, timeout=10)
    await r.settle()

    # The account is flat with no working orders, as the simulator sees it.
    assert gateway.account.positions == {}
    assert gateway.open_orders() == []
    finished = r.of(EventType.EMERGENCY_CLOSE)[-1]
    assert finished.details["flat"] is True
    assert sorted(finished.details["closed"]) == ["AAPL", "JPM", "MSFT", "XOM"]

    # The stop-loss is still breached (the loss stands), but with nothing open no check after
    # the close starts another one.
    await r.settle()
    assert len([e for e in r.of(EventType.EMERGENCY_CLOSE) if "started" in e.message]) == 1

    # HALTED, in memory and in the store.
    assert engine.safety.trading_state is TradingState.HALTED
    assert "emergency stop" in engine.safety.trading_state_reason
    assert engine.store.trading_state()[0] is TradingState.HALTED
    assert len(r.of(EventType.TRADING_HALTED)) == 1

    # One CRITICAL alert for the emergency stop: not repeated by the checks after the close
    # (the violation's positions changed from four to none), nor doubled by the state change.
    critical = [a.title for a in r.alerts(Severity.CRITICAL)]
    stop_alerts = [t for t in critical if t.startswith("Emergency stop")]
    assert len(stop_alerts) == 1, critical
    assert stop_alerts[0].startswith("Emergency stop: portfolio -1")
    # Its verdict is heard at the same priority: once, FLAT, naming what it closed.
    verdicts = [t for t in critical if t.startswith("Emergency close FLAT")]
    assert verdicts == ["Emergency close FLAT: 4 position(s) closed (AAPL, JPM, MSFT, XOM)"]
    others = [t for t in critical if t not in stop_alerts + verdicts]
    if daily_limit == 50_000:
        assert others == []
    else:
        # The daily loss was breached too: reported once, but the stop-loss decides the
        # action (everything at once, not loser by loser: every fill below is EMERGENCY).
        assert len(others) == 1 and others[0].startswith("Daily loss limit breached")
    sent = [row for row in r.rows("events_log.csv") if row["event_type"] == "ALERT_SENT"
            and row["severity"] == "CRITICAL"]
    assert len(sent) == len(critical)

    # Every closing fill is journaled once, with reason EMERGENCY: one row per execution.
    executions = gateway.executions
    await wait_until(lambda: len(r.rows("trade_journal.csv")) == len(executions))
    rows = r.rows("trade_journal.csv")
    assert sorted(row["exec_id"] for row in rows) == sorted(e.exec_id for e in executions)
    assert {row["reason"] for row in rows} == {"EMERGENCY"}
    assert sorted(row["symbol"] for row in rows) == ["AAPL", "JPM", "MSFT", "XOM"]
    assert all(row["side"] == "SLD" for row in rows)
    assert all(ref.startswith("WER-") and "-EMERGENCY-" in ref
               for ref in gateway.order_refs_received)


async def test_emergency_close_retries_an_order_ib_rejected(
    rig: MakeRig, gateway: SimulatedGateway, ib_log_guard: IbLogGuard
) -> None:
    """IB rejects the first closing order for MSFT: the flatten retries it and ends flat."""
    ib_log_guard.expect(r"Error 201, .*Simulated rejection")
    r = await rig({"max_daily_loss": 50_000, "max_position_value": 100_000,
                   "max_position_concentration": 0.5, "max_sector_concentration": 0.9})
    gateway.reject_next_orders(1, reason="Simulated rejection", symbol="MSFT")
    gateway.price_shock(-20, sector="Technology")
    await wait_until(lambda: r.of(EventType.EMERGENCY_CLOSE)
                     and "finished" in r.of(EventType.EMERGENCY_CLOSE)[-1].message, timeout=10)
    assert gateway.account.positions == {} and gateway.open_orders() == []
    msft_refs = [ref for ref in gateway.order_refs_received if "-MSFT-" in ref]
    assert len(msft_refs) == 2  # the rejected one and its retry
    assert r.of(EventType.EMERGENCY_CLOSE)[-1].details["flat"] is True
    rejected = [e for e in r.of(EventType.ORDER_REJECTED) if "MSFT" in e.message]
    assert len(rejected) == 1 and "Simulated rejection" in rejected[0].message


async def test_halted_survives_a_restart(rig: MakeRig, gateway: SimulatedGateway) -> None:
    first = await rig({"max_daily_loss": 50_000, "max_position_value": 100_000,
                       "max_position_concentration": 0.5, "max_sector_concentration": 0.9})
    data_dir = first.engine.data_dir
    gateway.price_shock(-20, sector="Technology")
    await wait_until(lambda: first.engine.safety.trading_state is TradingState.HALTED
                     and gateway.account.positions == {}, timeout=10)
    await first.stop()

    # A new Store on the same data directory reads HALTED...
    store = Store.in_data_dir(data_dir)
    try:
        state, reason = store.trading_state()
    finally:
        store.close()
    assert state is TradingState.HALTED and "emergency stop" in reason

    # ...and so does a new engine, which says so when it starts and refuses entries.
    second = await rig({"max_daily_loss": 50_000}, data_dir=data_dir, tracked=())
    engine = second.engine
    assert engine.safety.trading_state is TradingState.HALTED
    assert any("Still HALTED" in e.message for e in second.of(EventType.TRADING_HALTED))
    assert engine.store.tracked_positions() == {}
    assert not second.of(EventType.ORPHANED_POSITION)
    # The HALT is not re-announced as a new state change, nor is anything closed again.
    assert not [e for e in second.of(EventType.TRADING_HALTED) if "from" in e.details]
    assert not second.of(EventType.EMERGENCY_CLOSE)
    before = list(gateway.order_refs_received)
    result = await engine.executor.submit(
        make_intent("AAPL", "BUY", 10, "MKT", None, "wer-entry-AAPL-after-restart", "ENTRY")
    )
    assert not result.sent
    assert result.decision is not None and any("HALTED" in why for why in
                                               result.decision.reasons)
    assert gateway.order_refs_received == before
    assert any(row["event_type"] == "ORDER_DENIED" and "AAPL" in row["message"]
               for row in second.rows("events_log.csv"))


async def test_a_listener_that_raises_never_skips_the_emergency_close(
    rig: MakeRig, gateway: SimulatedGateway
) -> None:
    """A screen or socket listener that fails is logged; the check still acts on its verdict."""
    r = await rig({"max_daily_loss": 50_000, "max_position_value": 100_000,
                   "max_position_concentration": 0.5, "max_sector_concentration": 0.9})
    calls: list[int] = []

    def broken() -> None:
        calls.append(1)
        raise RuntimeError("a broken listener")

    r.engine.safety.add_listener(broken)
    gateway.price_shock(-20, sector="Technology")
    await wait_until(lambda: r.of(EventType.EMERGENCY_CLOSE)
                     and "finished" in r.of(EventType.EMERGENCY_CLOSE)[-1].message, timeout=10)
    assert calls
    assert gateway.account.positions == {} and gateway.open_orders() == []
    assert r.engine.safety.trading_state is TradingState.HALTED
