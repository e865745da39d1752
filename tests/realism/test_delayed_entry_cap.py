"""Notes row 4, the gate on a delayed quote: an opening market order valued on IB's delayed data
(15 minutes old) is checked at the far edge of the limit-price collar (ask + 5% for a BUY). A
market order could still fill anywhere: when the price had moved more than the collar since the
quote, the fill took the position past the limits the gate had checked. The order now goes out
as a limit at that edge: it fills only at a price the gate valued."""

from __future__ import annotations

import pytest

from tests.conftest import IbLogGuard
from tests.fixtures_sim import wait_until
from tests.safety.conftest import MakeRig
from weekly_er_tui.broker.orders import make_intent
from weekly_er_tui.sim import SimulatedGateway

pytestmark = pytest.mark.integration

REF = "wer-entry-MSFT-delayed"


async def test_a_market_entry_on_a_delayed_quote_is_capped_at_the_collar(
    rig: MakeRig, gateway: SimulatedGateway, ib_log_guard: IbLogGuard
) -> None:
    ib_log_guard.expect(r"Error 10089|Error 162")
    gateway.realism.market_data = "delayed"  # a new paper account: delayed data only
    r = await rig({"max_position_value": 40_000, "max_position_concentration": 0.5,
                   "max_sector_concentration": 0.9})
    portfolio = r.engine.portfolio
    await portfolio.watch_symbols(["MSFT"])
    await wait_until(lambda: portfolio.is_delayed("MSFT") and portfolio.quote("MSFT")[1])
    delayed_ask = portfolio.quote("MSFT")[1]
    assert delayed_ask is not None
    gateway.price_shock(+15, symbol="MSFT")  # now; the delayed feed shows it in 15 minutes
    assert portfolio.quote("MSFT")[1] == delayed_ask
    cap = round(delayed_ask * 1.05, 2)
    qty = int(40_000 // cap)  # valued at the cap it is under $40k; at the live price, over
    assert qty * cap < 40_000 < qty * gateway.quote("MSFT").ask
    result = await r.engine.executor.submit(make_intent("MSFT", "BUY", qty, "MKT", None, REF,
                                                        "ENTRY"))
    assert result.sent, result.message
    await wait_until(lambda: len(gateway.order_refs_received) == 1)
    [order] = [o for o in gateway.book.orders.values() if o.order_ref == REF]
    assert (order.order_type, order.lmt_price) == ("LMT", cap)
    gateway.process()
    assert all(x.price <= cap for x in gateway.executions)
    held = gateway.account.positions.get("MSFT", (0.0, 0.0))[0]
    assert held * gateway.price("MSFT") <= 40_000
