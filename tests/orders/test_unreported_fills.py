"""The never-oversell rule through a real gateway's fill messages, fed to ib_async's own wrapper
in the order a real gateway sends them (notes row 13): orderStatus Filled BEFORE execDetails,
the position message after both (row 8).

Between the Filled status and the execution the order is done (not working), its last shares are
in no execution and not in the position: a close that looked then counted them nowhere and sold
them again (the three closers together sent 1.5x every position). The status's filled shares
count as not yet reported until the execution takes them over and the position catches up."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from ib_async import IB, Execution, Order, OrderState, Stock

from weekly_er_tui.broker.closing import UnreportedFills, closing_quantity, working_to_close

ACCOUNT = "DU2000002"
JNJ = Stock("JNJ", "SMART", "USD", conId=559344641)


@pytest.fixture
def ib() -> Iterator[IB]:
    ib = IB()
    ib.wrapper.accounts = [ACCOUNT]
    yield ib


def place(ib: IB, order_id: int, qty: float) -> None:
    order = Order(orderId=order_id, clientId=7, permId=1000 + order_id, action="SELL",
                  totalQuantity=qty, orderType="MKT", orderRef=f"wer-manual-JNJ-{order_id}")
    ib.wrapper.openOrder(order_id, JNJ, order, OrderState(status="PreSubmitted"))


def status(ib: IB, order_id: int, state: str, filled: float, remaining: float) -> None:
    ib.wrapper.orderStatus(order_id, state, filled, remaining, 150.0, 1000 + order_id, 0,
                           150.0, 7, "")


def execution(ib: IB, order_id: int, n: int, shares: float, cum: float) -> None:
    ib.wrapper.execDetails(-1, JNJ, Execution(
        execId=f"0001.{order_id}.{n:02d}.01", acctNumber=ACCOUNT, side="SLD", shares=shares,
        price=150.0, permId=1000 + order_id, clientId=7, orderId=order_id, cumQty=cum,
        orderRef=f"wer-manual-JNJ-{order_id}"))


def position(ib: IB, qty: float) -> None:
    ib.wrapper.position(ACCOUNT, JNJ, qty, 140.0)


def may_send(ib: IB, unreported: UnreportedFills) -> float:
    """What a new closing order for JNJ may be for now (the executor's `closable`)."""
    pos = next((p.position for p in ib.positions(ACCOUNT) if p.contract.symbol == "JNJ"), 0.0)
    working, _ = working_to_close(ib.openTrades(), "JNJ", 1.0)
    return closing_quantity(pos, working, unreported.of("JNJ"))


def test_shares_filled_by_the_status_before_their_execution_are_not_sold_again(ib: IB) -> None:
    unreported = UnreportedFills(ib)
    position(ib, 67)
    place(ib, 1, 67)
    status(ib, 1, "Submitted", 0, 67)
    assert may_send(ib, unreported) == 0  # working: waited for
    # The first half: execution, status, then its position message.
    execution(ib, 1, 1, 33, 33)
    status(ib, 1, "Submitted", 33, 34)
    assert may_send(ib, unreported) == 0
    position(ib, 34)
    assert may_send(ib, unreported) == 0
    # The second half: Filled first. The order is done, no execution says so yet.
    status(ib, 1, "Filled", 67, 0)
    assert not ib.openTrades()
    assert unreported.of("JNJ") == -34
    assert may_send(ib, unreported) == 0  # before the fix: 34, sold a second time
    execution(ib, 1, 2, 34, 67)
    assert unreported.of("JNJ") == -34  # the execution took the status's shares over
    assert may_send(ib, unreported) == 0
    position(ib, 0)
    assert unreported.of("JNJ") == 0 and unreported.settling() == set()
    unreported.close()


def test_a_partial_status_before_its_execution_counts_once(ib: IB) -> None:
    unreported = UnreportedFills(ib)
    position(ib, 67)
    place(ib, 2, 67)
    status(ib, 2, "Submitted", 33, 34)  # the status of a part before its execution
    assert unreported.of("JNJ") == -33 and unreported.settling() == {"JNJ"}
    assert may_send(ib, unreported) == 0
    execution(ib, 2, 1, 33, 33)
    assert unreported.of("JNJ") == -33
    position(ib, 34)
    assert unreported.of("JNJ") == 0
    # The order is cancelled with the rest unfilled: the close may send exactly the rest.
    status(ib, 2, "Cancelled", 33, 34)
    assert may_send(ib, unreported) == 34
    unreported.close()
