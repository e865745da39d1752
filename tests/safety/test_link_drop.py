"""A dropped link is never checked as an empty account.

ib_async forgets the account (cash, portfolio) the moment its socket closes. Tried as a trader
would (the gateway killed under a running engine), the check that happened to run in the same
turn of the event loop, before the reconnect loop had said RECONNECTING, read the emptied account:
a HIGH "Cash $0 is under the $10,000 reserve" alert beside "Connection lost", for an account
holding $70,000 of cash.
"""

from __future__ import annotations

import pytest

from tests.conftest import IbLogGuard
from tests.fixtures_sim import wait_until
from tests.safety.conftest import MakeRig
from weekly_er_tui.model import ConnectionState, EventType

pytestmark = pytest.mark.integration


async def test_the_link_is_down_for_the_checks_the_moment_ib_async_says_so(
        rig: MakeRig, ib_log_guard: IbLogGuard) -> None:
    ib_log_guard.expect_link_faults()
    r = await rig()
    engine = r.engine
    seen: list[tuple[bool, ConnectionState, float]] = []

    def after_ours() -> None:
        # What a safety check running in this same turn of the loop would see.
        values = {v.tag: v.value for v in engine.monitor.ib.accountValues()}
        seen.append((engine.monitor.is_connected, engine.monitor.state,
                     float(values.get("TotalCashValue", 0) or 0)))

    engine.monitor.ib.disconnectedEvent += after_ours
    r.gateway.drop_all()
    await wait_until(lambda: seen)
    connected, state, cash = seen[0]
    assert cash == 0, "ib_async kept the account: the premise of this test is gone"
    assert not connected and state is ConnectionState.RECONNECTING, seen[0]
    # The whole drop and return: no limit judged on the emptied account.
    await wait_until(lambda: engine.monitor.is_connected, timeout=10)
    await r.settle()
    assert not r.of(EventType.SAFETY_VIOLATION), [e.message for e in r.of(
        EventType.SAFETY_VIOLATION)]
