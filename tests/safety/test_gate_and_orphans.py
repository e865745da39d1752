"""issue 5: the pre-trade gate refuses an order that would breach max_positions (journaled and
alerted, nothing sent); orphaned and vanished positions are reported, and nothing is done."""

from __future__ import annotations

import pytest

from tests.fixtures_sim import wait_until
from tests.safety.conftest import MakeRig
from weekly_er_tui.broker.orders import make_intent
from weekly_er_tui.model import EventType, Severity
from weekly_er_tui.sim import SimulatedGateway

pytestmark = pytest.mark.integration


async def test_gate_refuses_an_entry_over_max_positions_and_nothing_reaches_ib(
    rig: MakeRig, gateway: SimulatedGateway
) -> None:
    r = await rig({"max_positions": 3})
    engine = r.engine
    assert len(gateway.account.positions) == 3  # at the limit; a fourth name breaches it

    # As the strategy does for its plan: stream the price, so the gate can value the entry.
    await engine.portfolio.watch_symbols(["MSFT"])
    await wait_until(lambda: engine.portfolio.price("MSFT") is not None)
    intent = make_intent("MSFT", "BUY", 10, "MKT", None, "wer-entry-MSFT-test", "ENTRY")
    result = await engine.executor.submit(intent)

    assert not result.sent and result.order_id is None
    assert result.decision is not None
    assert any("max_positions" in why for why in result.decision.reasons)
    # Journaled: an ORDER_DENIED row (our gate's refusal, not IB's rejection) in events_log.csv
    # naming the order and the reason.
    rejected = [row for row in r.rows("events_log.csv") if row["event_type"] == "ORDER_DENIED"]
    assert len(rejected) == 1
    assert "MSFT" in rejected[0]["message"] and "max_positions" in rejected[0]["message"]
    assert "wer-entry-MSFT-test" in rejected[0]["details"]
    # Alerted (HIGH), not recorded as an intent, and nothing reached the simulator.
    assert any(a.priority is Severity.HIGH and "DENIED by the safety gate" in a.title
               and "MSFT" in a.title for a in r.alerts())
    assert engine.store.intent("wer-entry-MSFT-test") is None
    assert gateway.order_refs_received == []
    assert gateway.open_orders() == [] and "MSFT" not in gateway.account.positions

    # The same gate lets a reduction through: it does not add a position.
    sell = make_intent("XOM", "SELL", 40, "MKT", None, "wer-exit-XOM-test", "EXIT")
    result = await engine.executor.submit(sell)
    assert result.sent
    await wait_until(lambda: gateway.account.positions.get("XOM", (0.0, 0.0))[0] == 60)
    assert gateway.order_refs_received == ["wer-exit-XOM-test"]


async def test_orphan_and_vanished_positions_are_reported_and_left_alone(
    rig: MakeRig, gateway: SimulatedGateway
) -> None:
    # The strategy tracks everything the account holds: no orphan at the start.
    r = await rig()
    engine = r.engine
    assert not r.of(EventType.ORPHANED_POSITION)

    # Someone buys JNJ in TWS (not through the app), and closes the tracked XOM there.
    gateway.fill_externally("JNJ", 20)
    gateway.fill_externally("XOM", -100)
    await wait_until(lambda: len(r.of(EventType.ORPHANED_POSITION)) == 2, timeout=5)

    untracked, vanished = sorted(r.of(EventType.ORPHANED_POSITION),
                                 key=lambda e: e.details["symbols"][0])
    assert untracked.details["symbols"] == ["JNJ"]
    assert "does not track" in untracked.message and "JNJ 20 sh" in untracked.message
    assert vanished.details["symbols"] == ["XOM"]
    assert untracked.severity is Severity.MEDIUM and vanished.severity is Severity.MEDIUM
    rows = [row for row in r.rows("events_log.csv") if row["event_type"] == "ORPHANED_POSITION"]
    assert len(rows) == 2
    # One MEDIUM alert each.
    titles = [a.title for a in r.alerts(Severity.MEDIUM) if a.title.startswith("Orphaned")]
    assert sorted(titles) == ["Orphaned position(s): JNJ", "Orphaned position(s): XOM"]

    # No automatic action: nothing was sent, JNJ is still held; later checks do not repeat it.
    await r.settle()
    await r.settle()
    assert gateway.order_refs_received == []
    assert gateway.account.positions["JNJ"][0] == 20
    assert len(r.of(EventType.ORPHANED_POSITION)) == 2
    report = engine.safety.last_report
    assert report is not None
    assert sorted(v.symbols for v in report.violations if v.rule == "orphaned_position") == [
        ("JNJ",), ("XOM",)]
