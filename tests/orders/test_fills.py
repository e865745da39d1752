"""Fills as a real gateway reports them (issues 12 and 13): an execution correction replaces the
execution it corrects everywhere; a fill is tracked when its execution arrives, before its
trailing commission report; an opening fill's unset realized P&L is not journaled as 0."""

from __future__ import annotations

import pytest

from tests.fixtures_sim import wait_until
from tests.safety.conftest import MakeRig, Rig
from weekly_er_tui.broker.orders import make_intent
from weekly_er_tui.model import EventType
from weekly_er_tui.sim import SimulatedGateway

pytestmark = pytest.mark.integration

LIMITS = {"max_positions": 10, "max_position_concentration": 0.9,
          "max_sector_concentration": 0.9}


async def enter_jnj(r: Rig, ref: str, qty: float = 10) -> None:
    """A strategy entry of `qty` JNJ (a symbol the account does not hold)."""
    await r.engine.portfolio.watch_symbols(["JNJ"])
    await wait_until(lambda: r.engine.portfolio.price("JNJ") is not None)
    result = await r.engine.executor.submit(
        make_intent("JNJ", "BUY", qty, "MKT", None, ref, "ENTRY"))
    assert result.sent, result.message


async def test_a_corrected_execution_replaces_the_first_in_every_quantity(
    rig: MakeRig, gateway: SimulatedGateway
) -> None:
    r = await rig(LIMITS)
    await enter_jnj(r, "wer-entry-JNJ-corr")
    await wait_until(lambda: len(r.rows("trade_journal.csv")) == 1)
    [first] = gateway.executions
    fixed = gateway.correct_execution(first.exec_id, new_price=first.price + 0.05)
    await wait_until(lambda: len(r.rows("trade_journal.csv")) == 2)
    await r.settle()

    store = r.engine.store
    rec = store.intent("wer-entry-JNJ-corr")
    assert rec is not None and rec.filled == 10 and rec.status == "FILLED"
    assert store.tracked_positions()["JNJ"].quantity == 10
    assert gateway.account.positions["JNJ"][0] == 10
    # The journal: the original, then the correction saying what it replaces.
    original, correction = r.rows("trade_journal.csv")
    assert (original["exec_id"], original["reason"]) == (first.exec_id, "ENTRY")
    assert correction["exec_id"] == fixed.exec_id
    assert correction["reason"] == f"CORRECTION of {first.exec_id} (ENTRY)"
    assert float(correction["price"]) == pytest.approx(first.price + 0.05)
    [event] = [e for e in r.events if e.event_type.value == "EXECUTION_CORRECTED"]
    assert event.details["corrects"] == first.exec_id and event.details["shares_change"] == 0
    # One fill event for the order: the correction is not a second fill.
    assert len([e for e in r.of(EventType.ORDER_FILLED)
                if e.details.get("order_ref") == "wer-entry-JNJ-corr"]) == 1
    # The store's executions: the correction stands, the original is superseded.
    assert [x.exec_id for x in store.executions("wer-entry-JNJ-corr")] == [fixed.exec_id]


async def test_a_correction_of_shares_changes_the_fill_by_the_difference(
    rig: MakeRig, gateway: SimulatedGateway
) -> None:
    r = await rig(LIMITS)
    await enter_jnj(r, "wer-entry-JNJ-short")
    await wait_until(lambda: len(r.rows("trade_journal.csv")) == 1)
    [first] = gateway.executions
    gateway.correct_execution(first.exec_id, new_shares=8)
    await wait_until(lambda: len(r.rows("trade_journal.csv")) == 2)
    rec = r.engine.store.intent("wer-entry-JNJ-short")
    assert rec is not None and rec.filled == 8
    assert r.engine.store.tracked_positions()["JNJ"].quantity == 8
    assert gateway.account.positions["JNJ"][0] == 8


async def test_a_fill_is_tracked_at_its_execution_before_the_commission_report(
    rig: MakeRig, gateway: SimulatedGateway
) -> None:
    r = await rig(LIMITS)
    gateway.realism.commission_delay_seconds = 1.0
    await enter_jnj(r, "wer-entry-JNJ-now")
    ib = r.engine.ib
    await wait_until(lambda: any(f.contract.symbol == "JNJ" for f in ib.fills()))
    # The execution is in: the strategy's position and the intent already show it.
    tracked = r.engine.store.tracked_positions()
    assert "JNJ" in tracked and tracked["JNJ"].quantity == 10
    rec = r.engine.store.intent("wer-entry-JNJ-now")
    assert rec is not None and rec.filled == 10
    # The commission report comes later and reaches the journal's row with it.
    await wait_until(lambda: len(r.rows("trade_journal.csv")) == 1, timeout=5)
    [row] = r.rows("trade_journal.csv")
    assert row["commission"] == "1"
    # An opening fill: IB leaves realized P&L unset, and the journal leaves it blank.
    assert row["realized_pnl"] == ""
    assert not r.of(EventType.ORPHANED_POSITION)
