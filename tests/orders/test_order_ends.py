"""Every end of an order is named (issue 12): the engine against the simulator's real-gateway
order messages. IB's refusals (201 with Inactive either way, 321, a 202 with IB's own reason)
are REJECTED with IB's reason, an ORDER_REJECTED event and a HIGH alert (CRITICAL, with the fix,
for a read-only API); a cancel we asked for is CANCELLED (INFO); our own gate's refusal is DENIED.
"""

from __future__ import annotations

import pytest

from tests.conftest import IbLogGuard
from tests.fixtures_sim import wait_until
from tests.safety.conftest import MakeRig, Rig
from weekly_er_tui.broker.orders import make_intent
from weekly_er_tui.model import EventType, Severity
from weekly_er_tui.order_life import IntentStatus
from weekly_er_tui.sim import SimulatedGateway

pytestmark = pytest.mark.integration

LIMITS = {"limit_price_collar": 0.5}


async def sell_xom(r: Rig, ref: str, qty: float = 10, limit: float | None = None) -> None:
    """A reduction (the gate lets it through): SELL XOM, market or at `limit`."""
    intent = make_intent("XOM", "SELL", qty, "LMT" if limit else "MKT", limit, ref, "EXIT")
    result = await r.engine.executor.submit(intent)
    assert result.sent, result.message


async def rest_a_sell(r: Rig, gateway: SimulatedGateway, ref: str) -> None:
    """A sell of XOM 5% above the market: it rests, working at IB, until cancelled."""
    await r.engine.portfolio.watch_symbols(["XOM"])
    await wait_until(lambda: r.engine.portfolio.quote("XOM")[0] is not None)
    await sell_xom(r, ref, limit=round(gateway.quote("XOM").ask * 1.05, 2))
    await wait_until(lambda: len(gateway.open_orders()) == 1)


def ended(r: Rig, ref: str) -> bool:
    rec = r.engine.store.intent(ref)
    return rec is not None and not rec.is_open


ENDS = ("ORDER_REJECTED", "ORDER_CANCELLED", "ORDER_DENIED")


def events_of(r: Rig, ref: str) -> list[tuple[str, Severity, str]]:
    """How the order's end was journaled: (event type, severity, message)."""
    return [(e.event_type.value, e.severity, e.message) for e in r.events
            if e.details.get("order_ref") == ref and e.event_type.value in ENDS]


@pytest.mark.parametrize("style", ["status_first", "error_first"])
async def test_a_rejection_with_inactive_is_rejected_with_ibs_reason(
    rig: MakeRig, gateway: SimulatedGateway, ib_log_guard: IbLogGuard, style: str
) -> None:
    ib_log_guard.expect(r"Error 201")
    ib_log_guard.expect(r"Order rejected - reason: Not enough shares to borrow")
    r = await rig(LIMITS)
    gateway.realism.rejection_messages = style  # type: ignore[assignment]
    gateway.reject_next_orders(1, reason="Not enough shares to borrow", symbol="XOM")
    await sell_xom(r, "wer-exit-XOM-rej")
    await wait_until(lambda: ended(r, "wer-exit-XOM-rej") and events_of(r, "wer-exit-XOM-rej"))
    await r.settle()  # and nothing later overwrites it
    rec = r.engine.store.intent("wer-exit-XOM-rej")
    assert rec is not None and rec.status == IntentStatus.REJECTED
    [(kind, severity, message)] = events_of(r, "wer-exit-XOM-rej")
    assert kind == "ORDER_REJECTED" and severity is Severity.HIGH
    assert "Not enough shares to borrow" in message
    assert any(a.priority is Severity.HIGH and "rejected by IB" in a.title and "XOM" in a.title
               for a in r.alerts())


async def test_a_read_only_api_is_rejected_and_alerted_critical_with_the_fix(
    rig: MakeRig, gateway: SimulatedGateway
) -> None:
    r = await rig(LIMITS)
    gateway.realism.read_only = True
    await sell_xom(r, "wer-exit-XOM-ro")
    await wait_until(lambda: ended(r, "wer-exit-XOM-ro") and events_of(r, "wer-exit-XOM-ro"))
    rec = r.engine.store.intent("wer-exit-XOM-ro")
    assert rec is not None and rec.status == IntentStatus.REJECTED
    [(kind, severity, message)] = events_of(r, "wer-exit-XOM-ro")
    assert kind == "ORDER_REJECTED" and severity is Severity.CRITICAL
    assert "Read-Only" in message
    assert "Global Configuration > API > Settings" in message and "uncheck" in message
    assert any(a.priority is Severity.CRITICAL and "Read-Only" in a.title for a in r.alerts())
    assert gateway.open_orders() == [] and gateway.executions == []
    # ib_async would keep it "working" (ValidationError) forever: closes would wait on it and
    # count it against what they may send. It is done.
    assert r.engine.executor.working_orders() == []
    trades = [t for t in r.engine.ib.trades() if t.order.orderRef == "wer-exit-XOM-ro"]
    assert await r.engine.executor.wait_done(trades, timeout=0.5)


async def test_ibs_own_price_check_is_a_rejection_not_a_cancel(
    rig: MakeRig, gateway: SimulatedGateway, ib_log_guard: IbLogGuard
) -> None:
    ib_log_guard.expect(r"Error 202")
    r = await rig(LIMITS)
    gateway.realism.price_check_pct = 3.0
    gateway.realism.precaution_percentage = 0  # "Bypass Order Precautions" set (row 19)
    await r.engine.portfolio.watch_symbols(["XOM"])
    await wait_until(lambda: r.engine.portfolio.quote("XOM")[0] is not None)
    limit = round(gateway.quote("XOM").bid * 0.9, 2)  # 10% through: within our collar, not IB's
    await sell_xom(r, "wer-exit-XOM-far", limit=limit)
    await wait_until(lambda: ended(r, "wer-exit-XOM-far") and events_of(r, "wer-exit-XOM-far"))
    rec = r.engine.store.intent("wer-exit-XOM-far")
    assert rec is not None and rec.status == IntentStatus.REJECTED
    [(kind, severity, message)] = events_of(r, "wer-exit-XOM-far")
    assert kind == "ORDER_REJECTED" and severity is Severity.HIGH
    assert "too far through the market" in message


async def test_ibs_size_check_is_a_rejection(
    rig: MakeRig, gateway: SimulatedGateway, ib_log_guard: IbLogGuard
) -> None:
    ib_log_guard.expect(r"Error 201")
    ib_log_guard.expect(r"please submit a smaller order")
    r = await rig(LIMITS)
    gateway.realism.size_check_value = 1_000
    await sell_xom(r, "wer-exit-XOM-big")
    await wait_until(lambda: ended(r, "wer-exit-XOM-big") and events_of(r, "wer-exit-XOM-big"))
    rec = r.engine.store.intent("wer-exit-XOM-big")
    assert rec is not None and rec.status == IntentStatus.REJECTED
    [(kind, _, message)] = events_of(r, "wer-exit-XOM-big")
    assert kind == "ORDER_REJECTED" and "please submit a smaller order" in message


async def test_a_cancel_we_asked_for_is_cancelled_at_info(
    rig: MakeRig, gateway: SimulatedGateway, ib_log_guard: IbLogGuard
) -> None:
    ib_log_guard.expect(r"Error 202")
    r = await rig(LIMITS)
    await rest_a_sell(r, gateway, "wer-exit-XOM-rest")
    assert await r.engine.executor.cancel_orders(r.engine.executor.working_orders(["XOM"]))
    await wait_until(lambda: ended(r, "wer-exit-XOM-rest") and events_of(r, "wer-exit-XOM-rest"))
    rec = r.engine.store.intent("wer-exit-XOM-rest")
    assert rec is not None and rec.status == IntentStatus.CANCELLED
    [(kind, severity, _)] = events_of(r, "wer-exit-XOM-rest")
    assert kind == "ORDER_CANCELLED" and severity is Severity.INFO
    assert not [a for a in r.alerts() if a.title.startswith("Order") and "XOM" in a.title]


async def test_our_gates_refusal_is_denied_not_rejected(
    rig: MakeRig, gateway: SimulatedGateway
) -> None:
    r = await rig({"max_positions": 3})
    await r.engine.portfolio.watch_symbols(["MSFT"])
    await wait_until(lambda: r.engine.portfolio.price("MSFT") is not None)
    intent = make_intent("MSFT", "BUY", 10, "MKT", None, "wer-entry-MSFT-deny", "ENTRY")
    result = await r.engine.executor.submit(intent)
    assert not result.sent and getattr(result, "status", None) == "DENIED"
    [(kind, severity, message)] = events_of(r, "wer-entry-MSFT-deny")
    assert kind == "ORDER_DENIED" and severity is Severity.HIGH
    assert message.startswith("DENIED by the pre-trade gate") and "max_positions" in message
    assert not [e for e in r.events if e.event_type is EventType.ORDER_REJECTED]
    assert any("DENIED by the safety gate" in a.title for a in r.alerts())
    assert gateway.order_refs_received == []
