"""The alerts a trader must hear, from the real engine on the simulated gateway to a real SMTP
server on loopback: entries and exits with their fill prices, the Friday close's verdict, the
emergency close's verdict, a farm outage and its end, a lost link and its return at the same
priority; every one naming the account IB named (no `account` in the config)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.alerts.conftest import alerts_config
from tests.alerts.smtp_server import LocalSmtpServer, Received
from tests.conftest import IbLogGuard
from tests.engine.rig import ACCOUNT, Rig, close_rig, et, open_rig
from weekly_er_tui.clock import ManualClock

WEEK = ["AAPL,2026-11-16,AMC,,"]  # entry Monday 10:00, closed by Friday's close


@pytest.fixture
async def smtp() -> AsyncIterator[LocalSmtpServer]:
    async with LocalSmtpServer() as server:
        yield server


@pytest.fixture
async def rig(tmp_path: Path, smtp: LocalSmtpServer) -> AsyncIterator[Rig]:
    r = await open_rig(tmp_path, ManualClock(et(2026, 11, 16, 9, 0)), WEEK)
    # No account in the config: the engine learns it from IB at the connect.
    r.config = r.config.model_copy(update={
        "account": None, "alerts": alerts_config(smtp.port, email_rate_limit_per_hour=100)})
    try:
        yield r
    finally:
        await close_rig(r)


async def mail(smtp: LocalSmtpServer, subject: str, timeout: float = 15.0) -> Received:
    """The first email (not SMS) whose subject matches the regex `subject`."""
    pattern = re.compile(subject)

    def found() -> Received | None:
        return next((m for m in smtp.messages if m.subject and pattern.search(m.subject)), None)

    while (got := found()) is None:
        await smtp.handler.wait_for(len(smtp.messages) + 1, timeout=timeout)
    return got


async def test_entry_exit_and_the_friday_verdict_are_heard_with_prices_and_account(
    rig: Rig, smtp: LocalSmtpServer
) -> None:
    engine = await rig.start_engine()
    await rig.enter(et(2026, 11, 16, 10))
    [fill] = rig.ours()
    entry = await mail(smtp, r"^\[Weekly ER\]\[MEDIUM\] Entered AAPL: bought ")
    assert entry.subject == (
        f"[Weekly ER][MEDIUM] Entered AAPL: bought {fill.qty:g} @ {fill.price:.2f}")
    assert f"Account:  {ACCOUNT}\n" in entry.text
    assert f"orderRef: {fill.order_ref}" in entry.text

    fc = await rig.friday_close()
    assert fc.flat
    verdict = await mail(smtp, r"Friday close: flat")
    closing = [x for x in rig.ours() if x.side == "SLD"]
    assert closing
    assert f"AAPL: sold {sum(x.qty for x in closing):g} @ " in verdict.text
    assert f"Account:  {ACCOUNT}\n" in verdict.text
    # The exit itself is in the alert log, with its price (the verdict's email carries it).
    assert any(r.title.startswith("Closed AAPL: sold ") and " @ " in r.title
               for r in engine.alerts.records)
    assert not any("(not known yet)" in m.text for m in smtp.messages)


async def test_the_emergency_close_says_flat(rig: Rig, smtp: LocalSmtpServer) -> None:
    engine = await rig.start_engine()
    await engine.flatten("emergency flatten by the trader")
    await rig.until(lambda: not engine.closer.running and rig.sim_position("KO") == 0,
                    timeout=15)
    flat = await mail(smtp, r"^\[Weekly ER\]\[CRITICAL\] Emergency close FLAT")
    assert "KO" in flat.text
    assert f"Account:  {ACCOUNT}\n" in flat.text


async def test_a_farm_outage_and_a_lost_link_are_heard_and_so_are_their_ends(
    rig: Rig, smtp: LocalSmtpServer, ib_log_guard: IbLogGuard
) -> None:
    ib_log_guard.expect_link_faults()
    engine = await rig.start_engine()
    rig.gw.emit_connectivity(2103)
    down = await mail(smtp, r"market data farm")
    assert down.subject.startswith("[Weekly ER][MEDIUM] ")
    rig.gw.emit_connectivity(2104)
    back = await mail(smtp, r"market data farm OK")
    assert back.subject.startswith("[Weekly ER][MEDIUM] ")

    rig.gw.drop_all()
    lost = await mail(smtp, r"Connection lost")
    assert lost.subject.startswith("[Weekly ER][HIGH] ")
    await rig.until(lambda: engine.monitor.is_connected, timeout=15)
    again = await mail(smtp, r"Reconnected")
    assert again.subject.startswith("[Weekly ER][HIGH] ")
    assert f"Account:  {ACCOUNT}\n" in again.text
