"""The real ib_async client against the simulator's real-gateway order behaviours
(../shared/notes/ib-real-behaviour.md rows 2, 3, 5, 12, 13, 14, 15, 19, 20), each switched on
alone."""

from __future__ import annotations

import asyncio

import pytest
from ib_async import IB, LimitOrder, MarketOrder, Stock, Trade
from ib_async import Fill as IBFill

from tests.conftest import IbLogGuard
from tests.fixtures_sim import ConnectIB, wait_until
from weekly_er_tui.sim import SimulatedGateway
from weekly_er_tui.sim.realism import Realism

pytestmark = pytest.mark.integration


def aapl() -> Stock:
    return Stock("AAPL", "SMART", "USD")


def record(ib: IB, trade: Trade) -> list[tuple[str, object]]:
    """What the client saw of one order, in arrival order: statuses, errors, executions."""
    seen: list[tuple[str, object]] = []
    trade.statusEvent += lambda t: seen.append(("status", t.orderStatus.status))
    ib.errorEvent += lambda req_id, code, text, contract: seen.append(("error", code))
    ib.execDetailsEvent += lambda t, f: seen.append(("exec", f.execution.execId))
    ib.commissionReportEvent += lambda t, f, r: seen.append(("commission", r.execId))
    return seen


@pytest.mark.parametrize("style", ["error_first", "status_first"])
async def test_a_rejection_is_201_plus_inactive_in_either_order(
    ib: IB, gateway: SimulatedGateway, ib_log_guard: IbLogGuard, style: str
) -> None:
    ib_log_guard.expect(r"Error 201")
    gateway.realism.rejection_messages = style  # type: ignore[assignment]
    gateway.reject_next_orders(1, reason="Simulated margin check")
    trade = ib.placeOrder(aapl(), MarketOrder("BUY", 10, orderRef="rej"))
    seen = record(ib, trade)
    await wait_until(lambda: ("error", 201) in seen and ("status", "Inactive") in seen)
    kinds = [s for s in seen if s[0] in ("error", "status")]
    if style == "error_first":
        # ib_async marks the order Cancelled on the error (before it publishes the error),
        # then the Inactive status arrives.
        assert kinds == [("status", "Cancelled"), ("error", 201), ("status", "Inactive")]
    else:
        # Inactive first: the order is done, so ib_async leaves it as it is at the error.
        assert kinds == [("status", "Inactive"), ("error", 201)]
    assert trade.orderStatus.status == "Inactive"
    assert gateway.open_orders() == [] and gateway.executions == []


async def test_the_real_profile_alternates_the_two_rejection_orders(
    ib: IB, gateway: SimulatedGateway, ib_log_guard: IbLogGuard
) -> None:
    ib_log_guard.expect(r"Error 201")
    gateway.realism = Realism.real()
    gateway.reject_next_orders(2)
    firsts = []
    for ref in ("a", "b"):
        trade = ib.placeOrder(aapl(), MarketOrder("BUY", 1, orderRef=ref))
        seen = record(ib, trade)
        await wait_until(lambda s=seen: ("error", 201) in s and ("status", "Inactive") in s)  # type: ignore[misc]
        firsts.append(seen[0])
    # The error first shows as ib_async's own Cancelled; the status first as Inactive.
    assert sorted(firsts, key=str) == [("status", "Cancelled"), ("status", "Inactive")]


async def test_read_only_api_answers_every_order_with_321(
    ib: IB, gateway: SimulatedGateway
) -> None:
    gateway.realism.read_only = True
    texts: list[tuple[int, str]] = []
    ib.errorEvent += lambda req_id, code, text, contract: texts.append((code, text))
    trade = ib.placeOrder(aapl(), MarketOrder("BUY", 10, orderRef="ro"))
    await wait_until(lambda: texts)
    [(code, text)] = texts
    assert code == 321 and "Read-Only mode" in text
    # ib_async takes 321 for a warning: the order sits in ValidationError, never done.
    assert trade.orderStatus.status == "ValidationError" and not trade.isDone()
    assert gateway.open_orders() == [] and gateway.executions == []
    assert gateway.order_refs_received == ["ro"]


async def test_a_price_check_is_cancelled_with_202_and_ibs_reason(
    ib: IB, gateway: SimulatedGateway, ib_log_guard: IbLogGuard
) -> None:
    ib_log_guard.expect(r"Error 202")
    gateway.realism.price_check_pct = 5.0
    gateway.realism.precaution_percentage = 0  # TWS's presets would refuse it first (row 19)
    texts: list[tuple[int, str]] = []
    ib.errorEvent += lambda req_id, code, text, contract: texts.append((code, text))
    limit = round(gateway.quote("AAPL").ask * 1.2, 2)
    trade = ib.placeOrder(aapl(), LimitOrder("BUY", 10, limit, orderRef="far"))
    await wait_until(lambda: texts and trade.isDone())
    [(code, text)] = texts
    assert code == 202 and "too far through the market" in text
    assert trade.orderStatus.status == "Cancelled"
    assert gateway.executions == []
    # Within the check, a marketable limit fills as before.
    near = ib.placeOrder(aapl(), LimitOrder("BUY", 10, round(gateway.quote("AAPL").ask * 1.02, 2)))
    await wait_until(near.isDone)
    assert near.orderStatus.status == "Filled"


async def test_a_size_check_is_201_please_submit_a_smaller_order(
    ib: IB, gateway: SimulatedGateway, ib_log_guard: IbLogGuard
) -> None:
    ib_log_guard.expect(r"Error 201")
    gateway.realism.size_check_value = 10_000
    texts: list[tuple[int, str]] = []
    ib.errorEvent += lambda req_id, code, text, contract: texts.append((code, text))
    trade = ib.placeOrder(aapl(), MarketOrder("BUY", 100))  # about $20,000
    await wait_until(trade.isDone)
    [(code, text)] = texts
    assert code == 201 and "please submit a smaller order" in text


async def test_an_execution_correction_is_a_new_exec_id_that_replaces_the_first(
    ib: IB, gateway: SimulatedGateway
) -> None:
    trade = ib.placeOrder(aapl(), MarketOrder("BUY", 10, orderRef="corr"))
    await wait_until(lambda: trade.isDone() and trade.fills)
    [first] = gateway.executions
    assert first.exec_id.endswith(".01")
    fixed = gateway.correct_execution(first.exec_id, new_price=first.price + 0.05)
    assert fixed.exec_id == first.exec_id[:-3] + ".02"
    await wait_until(lambda: len(trade.fills) == 2)
    # ib_async keeps both as fills: telling them apart is the product's job.
    assert [f.execution.execId for f in trade.fills] == [first.exec_id, fixed.exec_id]
    assert trade.fills[1].execution.price == pytest.approx(first.price + 0.05)
    # The gateway's own books hold the correction only.
    assert [x.exec_id for x in gateway.executions] == [fixed.exec_id]
    assert gateway.account.positions["AAPL"][0] == 110
    again = await ib.reqExecutionsAsync()
    assert [f.execution.execId for f in again] == [fixed.exec_id]


async def test_a_correction_of_shares_rebooks_the_position(
    ib: IB, gateway: SimulatedGateway
) -> None:
    trade = ib.placeOrder(aapl(), MarketOrder("BUY", 10))
    await wait_until(trade.isDone)
    cash_before = gateway.account.cash
    [first] = gateway.executions
    fixed = gateway.correct_execution(first.exec_id, new_shares=8)
    assert gateway.account.positions["AAPL"][0] == 108
    # The two shares' cost comes back (less the commission difference: none at the $1 minimum).
    assert gateway.account.cash == pytest.approx(cash_before + 2 * first.price, abs=0.01)
    assert fixed.qty == 8 and fixed.cum_qty == 8


async def test_the_commission_report_trails_the_fill(
    ib: IB, gateway: SimulatedGateway
) -> None:
    gateway.realism.commission_delay_seconds = 0.3
    trade = ib.placeOrder(aapl(), MarketOrder("BUY", 10))
    at_exec: list[float] = []

    def on_exec(t: Trade, f: IBFill) -> None:
        at_exec.append(f.commissionReport.commission)

    ib.execDetailsEvent += on_exec
    loop = asyncio.get_running_loop()
    seen = record(ib, trade)
    await wait_until(lambda: any(k == "exec" for k, _ in seen))
    exec_at = loop.time()
    await wait_until(lambda: any(k == "commission" for k, _ in seen))
    assert loop.time() - exec_at >= 0.2
    assert at_exec == [0.0]  # no commission yet when the execution arrives
    assert trade.fills[0].commissionReport.commission == 1.0
    # An opening fill: IB leaves realizedPNL unset (max double); ib_async reads that as 0.0.
    assert gateway.executions[0].realized_pnl is None
    assert trade.fills[0].commissionReport.realizedPNL == 0.0


async def test_a_paper_market_order_has_no_submitted(ib: IB, gateway: SimulatedGateway) -> None:
    gateway.realism.fill_messages = "paper"
    trade = ib.placeOrder(aapl(), MarketOrder("BUY", 10))
    seen = record(ib, trade)
    await wait_until(lambda: any(k == "commission" for k, _ in seen))
    kinds = [k if k != "status" else v for k, v in seen]
    assert kinds == ["PreSubmitted", "exec", "Filled", "commission"]


async def test_filled_can_come_before_the_execution(ib: IB, gateway: SimulatedGateway) -> None:
    gateway.realism.fill_messages = "filled_first"
    trade = ib.placeOrder(aapl(), MarketOrder("BUY", 10))
    seen = record(ib, trade)
    await wait_until(lambda: any(k == "commission" for k, _ in seen))
    kinds = [k if k != "status" else v for k, v in seen]
    assert kinds == ["PreSubmitted", "Filled", "exec", "commission"]
    assert trade.fills and trade.fills[0].execution.shares == 10


async def test_a_missing_exec_details_end_costs_the_clients_timeout(
    connect_ib: ConnectIB, gateway: SimulatedGateway, ib_log_guard: IbLogGuard
) -> None:
    first = await connect_ib(1)
    done = first.placeOrder(aapl(), MarketOrder("BUY", 10, orderRef="before"))
    await wait_until(done.isDone)
    gateway.realism.drop_exec_details_end_every = 1
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(first.reqExecutionsAsync(), 0.5)
    # At connect, ib_async waits its whole timeout, logs it, and goes on with the fills it got.
    ib_log_guard.expect(r"executions request timed out")
    loop = asyncio.get_running_loop()
    started = loop.time()
    second = await connect_ib(2, timeout=1.0)
    assert loop.time() - started >= 1.0
    assert second.isConnected()


async def test_a_cancel_of_an_ended_order_is_161_and_of_an_unknown_one_10147(
    ib: IB, gateway: SimulatedGateway, ib_log_guard: IbLogGuard
) -> None:
    """Row 15: IB answers a cancel of an order that already ended with 161."""
    ib_log_guard.expect(r"Error 161|Error 10147|Error 202")
    codes: list[tuple[int, int]] = []
    ib.errorEvent += lambda req_id, code, text, contract: codes.append((req_id, code))
    filled = ib.placeOrder(aapl(), MarketOrder("BUY", 10))
    resting = ib.placeOrder(aapl(), LimitOrder("BUY", 10, round(gateway.price("AAPL") * 0.98, 2)))
    await wait_until(lambda: filled.isDone() and resting.orderStatus.status == "Submitted")
    ib.cancelOrder(resting.order)
    await wait_until(resting.isDone)
    for order in (filled.order, resting.order):
        ib.client.cancelOrder(order.orderId, "")
    ib.client.cancelOrder(999, "")
    await wait_until(lambda: len(codes) == 4)
    assert codes == [(resting.order.orderId, 202), (filled.order.orderId, 161),
                     (resting.order.orderId, 161), (999, 10147)]


async def test_a_global_cancel_cancels_every_order_however_placed(
    ib: IB, gateway: SimulatedGateway, connect_ib: ConnectIB, ib_log_guard: IbLogGuard
) -> None:
    """Row 15: another API client's order and one the trader entered in TWS by hand too."""
    ib_log_guard.expect(r"Error 202")
    other = await connect_ib(2)
    low = round(gateway.price("AAPL") * 0.95, 2)
    ours = ib.placeOrder(aapl(), LimitOrder("BUY", 10, low))
    theirs = other.placeOrder(aapl(), LimitOrder("BUY", 5, low))
    gateway.place_in_tws("MSFT", -3, "LMT", round(gateway.price("MSFT") * 1.05, 2))
    await wait_until(lambda: len(gateway.open_orders()) == 3)
    ib.reqGlobalCancel()
    await wait_until(lambda: ours.isDone() and theirs.isDone() and not gateway.open_orders())
    assert ours.orderStatus.status == theirs.orderStatus.status == "Cancelled"


@pytest.mark.parametrize(("switch", "value", "words"), [
    ("precaution_percentage", 3.0, "price exceeds the Percentage constraint of 3%"),
    ("precaution_total_value", 10_000.0, "exceeds  the Total Value Limit of 10,000 USD"),
    ("precaution_size_limit", 50.0, "exceeds the Size Limit of 50"),
])
async def test_tws_precautionary_settings_refuse_an_api_order_with_451(
    ib: IB, gateway: SimulatedGateway, ib_log_guard: IbLogGuard, switch: str, value: float,
    words: str,
) -> None:
    """Row 19: unless "Bypass Order Precautions for API Orders" is checked, TWS refuses an API
    order that breaks a preset with error 451 naming the constraint; IB never sees it."""
    ib_log_guard.expect(r"Error 451")
    gateway.realism = Realism.kind().model_copy(update={switch: value})
    texts: list[tuple[int, str]] = []
    ib.errorEvent += lambda req_id, code, text, contract: texts.append((code, text))
    limit = round(gateway.quote("AAPL").ask * 1.05, 2)  # 5% off, $21,000 for 100 shares
    trade = ib.placeOrder(aapl(), LimitOrder("BUY", 100, limit))
    await wait_until(trade.isDone)
    [(code, text)] = texts
    assert code == 451 and words in text
    assert f'"ID:{trade.order.orderId}"' in text and "Precautionary Settings" in text
    assert trade.orderStatus.status == "Cancelled"  # ib_async ends it on the error
    assert gateway.open_orders() == [] and gateway.executions == []
    gateway.realism = Realism.kind()  # bypassed: the same order goes through
    again = ib.placeOrder(aapl(), LimitOrder("BUY", 100, limit))
    await wait_until(again.isDone)
    assert again.orderStatus.status == "Filled"
