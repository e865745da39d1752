"""AlertManager against a real SMTP server: de-duplication with the "repeated" count, the rate
limit with CRITICAL exempt, SMS, the bounded queue, the alert log and never blocking."""

from __future__ import annotations

import asyncio
import sys
import threading
from pathlib import Path

import pytest

from tests.alerts.conftest import alerts_config, events, running
from tests.alerts.smtp_server import LocalSmtpServer, free_port
from weekly_er_tui.alerts import AlertConfigError, AlertManager
from weekly_er_tui.alerts.templates import SMS_LIMIT, sms_length
from weekly_er_tui.clock import ManualClock
from weekly_er_tui.journal import Journal
from weekly_er_tui.model import Alert, AlertRecord, Severity

CRITICAL, HIGH, MEDIUM, LOW, INFO = (
    Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW, Severity.INFO,
)


async def test_repeats_within_the_window_fold_into_one_message_that_counts_them(
    journal: Journal, clock: ManualClock
) -> None:
    async with LocalSmtpServer() as server:
        manager = AlertManager(alerts_config(server.port), journal, clock)
        async with running(manager):
            for i in range(13):
                manager.notify("connection_lost", "Connection lost to 127.0.0.1:7497",
                               facts={"attempt": i + 1})
                clock.advance(10)
            await server.handler.wait_for(1)
            assert await manager.drain(5)
            assert len(server.messages) == 1
            assert manager.records[0].delivered == "email sent; +12 repeats folded since 14:02:00"
            assert len(manager.records) == 1
            # The window (5 minutes from 14:02) ends: one message stands for the 12 repeats.
            clock.advance(300)
            [first, summary] = await server.handler.wait_for(2)
    assert "repeated" not in first.text.lower()
    assert summary.subject == (
        "[Weekly ER][HIGH] Connection lost to 127.0.0.1:7497 (x12 since 14:02)"
    )
    assert "Repeated 12 times since 14:02 ET" in summary.text
    assert "attempt: 13" in summary.text  # the latest repeat's facts
    sent = events(journal, "ALERT_SENT")
    assert len(sent) == 2  # repeats are counted, not journaled one by one


async def test_the_next_alert_after_the_window_says_how_many_were_folded(
    journal: Journal, clock: ManualClock
) -> None:
    async with LocalSmtpServer() as server:
        manager = AlertManager(alerts_config(server.port), journal, clock)
        async with running(manager):
            manager.notify("order_error", "Order error on AAPL", about="AAPL")
            manager.notify("order_error", "Order error on AAPL", about="AAPL")
            manager.notify("order_error", "Order error on AAPL", about="AAPL")
            clock.advance(301)
            # Arrives before the summary task runs: it carries the count itself.
            manager.notify("order_error", "Order error on AAPL again", about="AAPL")
            await server.handler.wait_for(2)
            assert await manager.drain(5)
            await asyncio.sleep(0.05)
    assert len(server.messages) == 2
    assert "Repeated 2 times since 14:02 ET" in server.messages[1].text


async def test_an_escalation_of_the_same_key_goes_at_once(
    journal: Journal, clock: ManualClock
) -> None:
    async with LocalSmtpServer() as server:
        manager = AlertManager(alerts_config(server.port), journal, clock)
        async with running(manager):
            manager.notify("limit_breach", "Daily loss at 85% of limit", about="daily_loss",
                           priority=MEDIUM)
            manager.notify("limit_breach", "Daily loss at 90% of limit", about="daily_loss",
                           priority=MEDIUM)
            manager.notify("limit_breach", "Daily loss limit breached", about="daily_loss",
                           priority=CRITICAL)
            manager.notify("limit_breach", "Daily loss limit breached", about="daily_loss",
                           priority=CRITICAL)
            manager.notify("emergency_stop", "Emergency stop: portfolio -10.4% (limit -10%)")
            await server.handler.wait_for(3)
            assert await manager.drain(5)
    by_subject = {m.subject: m for m in server.messages}
    assert sorted(by_subject) == [
        "[Weekly ER][CRITICAL] Daily loss limit breached (x1 since 14:02)",
        "[Weekly ER][CRITICAL] Emergency stop: portfolio -10.4% (limit -10%)",
        "[Weekly ER][MEDIUM] Daily loss at 85% of limit",
    ]
    escalation = by_subject["[Weekly ER][CRITICAL] Daily loss limit breached (x1 since 14:02)"]
    assert "Repeated once since 14:02 ET" in escalation.text
    # The second CRITICAL with the same key is folded into the escalation.
    assert manager.records[1].delivered == "email sent; +1 repeat folded since 14:02:00"


async def test_rate_limit_per_channel_with_critical_exempt(
    journal: Journal, clock: ManualClock
) -> None:
    async with LocalSmtpServer() as server:
        cfg = alerts_config(server.port, email_rate_limit_per_hour=3)
        manager = AlertManager(cfg, journal, clock)
        async with running(manager):
            for i in range(5):
                manager.notify("order_rejected", f"Order rejected #{i}", about=str(i))
                clock.advance(60)
            manager.notify("emergency_stop", "Emergency stop: portfolio -10.4% (limit -10%)")
            manager.notify("reconnect_failed", "Reconnection failed after 5 attempts")
            await server.handler.wait_for(5)
            assert await manager.drain(5)
            assert len(server.messages) == 5
            # An hour after the first ones, the limit has room again.
            clock.advance(3600)
            manager.notify("order_rejected", "Order rejected #5", about="5")
            await server.handler.wait_for(6)
    subjects = [m.subject for m in server.messages]
    assert [s for s in subjects if "Order rejected" in s] == [
        "[Weekly ER][HIGH] Order rejected #0", "[Weekly ER][HIGH] Order rejected #1",
        "[Weekly ER][HIGH] Order rejected #2", "[Weekly ER][HIGH] Order rejected #5",
    ]
    assert sum("CRITICAL" in s for s in subjects) == 2
    limited = events(journal, "ALERT_FAILED")
    assert [r["details"]["key"] for r in limited] == ["order_rejected:3", "order_rejected:4"]
    assert "alerts.email_rate_limit_per_hour" in limited[0]["details"]["error"]
    delivered = {r.title: r.delivered for r in manager.records}
    assert delivered["Order rejected #3"] == "email rate-limited"


async def test_sms_goes_for_high_and_critical_only_within_160_characters(
    journal: Journal, clock: ManualClock
) -> None:
    gateway = "5551234567@txt.att.net"
    async with LocalSmtpServer() as server:
        cfg = alerts_config(server.port, sms_recipients=[gateway])
        manager = AlertManager(cfg, journal, clock)
        async with running(manager):
            manager.notify("trading_paused", "Trading paused: sector concentration 34%")
            manager.notify(
                "emergency_stop",
                "Emergency stop: portfolio -10.4% (limit -10%) — closing AAPL, MSFT, NVDA, "
                "AMZN, GOOG, META, TSLA, NFLX, ORCL and CRM with market orders, trading halted "
                "until resumed by hand",
            )
            await server.handler.wait_for(3)
            assert await manager.drain(5)
    sms = [m for m in server.messages if m.rcpt_tos == [gateway]]
    emails = [m for m in server.messages if gateway not in m.rcpt_tos]
    assert len(emails) == 2 and len(sms) == 1  # MEDIUM: email only
    text = sms[0].text.strip()
    assert len(text) <= SMS_LIMIT and sms_length(text) <= SMS_LIMIT
    assert text.isascii()
    assert text.startswith("Weekly ER CRITICAL: Emergency stop: portfolio -10.4%")
    assert text.endswith("... (14:02 ET)")
    assert "Subject" not in sms[0].message
    assert manager.records[0].delivered == "email sent, sms sent"
    channels = sorted(r["details"]["channel"] for r in events(journal, "ALERT_SENT"))
    assert channels == ["email", "email", "sms"]


async def test_below_every_channel_minimum_goes_to_the_log_only(
    journal: Journal, clock: ManualClock
) -> None:
    manager = AlertManager(alerts_config(free_port()), journal, clock)
    manager.notify("position_exit", "Closed AAPL: sold 100 @ 187.20 (Friday close)",
                   priority=LOW)  # LOW < MEDIUM: an exit inside a whole close
    assert manager.pending == 0
    assert await manager.drain(0.1)
    [row] = events(journal, "ALERT_SENT")
    assert row["details"]["channel"] == "log"
    assert row["severity"] == "LOW"
    assert manager.records[0].delivered == "log only"


async def test_config_priorities_override_the_kind_defaults(
    journal: Journal, clock: ManualClock
) -> None:
    cfg = alerts_config(free_port(), priorities={"position_entry": "HIGH", "limit_breach": "LOW"})
    manager = AlertManager(cfg, journal, clock)
    manager.notify("position_entry", "Entered AAPL")
    manager.notify("limit_breach", "Sector over 30%", priority=CRITICAL)
    manager.alert(Alert("position_entry:MSFT", INFO, "trading", "Entered MSFT"))
    assert [r.priority for r in manager.records] == [HIGH, LOW, HIGH]


def test_unknown_kind_in_priorities_is_a_config_error(journal: Journal, clock: ManualClock) -> None:
    with pytest.raises(AlertConfigError, match=r"alerts\.priorities\.conection_lost: unknown"):
        AlertManager(alerts_config(1025, priorities={"conection_lost": "HIGH"}), journal, clock)


async def test_a_full_queue_drops_the_least_urgent_never_critical(
    journal: Journal, clock: ManualClock
) -> None:
    cfg = alerts_config(free_port(), queue_size=10, email_min_priority="LOW")
    manager = AlertManager(cfg, journal, clock)  # no run(): nothing leaves the queue
    for i in range(9):
        manager.notify("order_error", f"medium {i}", about=str(i), priority=MEDIUM)
    manager.notify("position_exit", "low 0", about="0", priority=LOW)
    manager.notify("position_exit", "low 1", about="1", priority=LOW)  # full: the older LOW goes
    manager.notify("order_error", "medium 9", about="9", priority=MEDIUM)  # full: low 1 goes
    for i in range(3):
        manager.notify("emergency_stop", f"critical {i}", about=str(i))  # full: mediums go
    for i in range(10):
        manager.notify("reconnect_failed", f"critical x{i}", about=str(i))
    # Every non-CRITICAL message gave way; the CRITICAL ones exceed the bound rather than go.
    assert manager.pending == 13
    dropped = [r.title for r in manager.records if r.delivered == "email dropped (queue full)"]
    assert sorted(dropped) == ["low 0", "low 1"] + [f"medium {i}" for i in range(10)]
    failed = events(journal, "ALERT_FAILED")
    assert len(failed) == 12
    assert all("alerts.queue_size" in r["details"]["error"] for r in failed)
    assert not any(r["details"]["priority"] == "CRITICAL" for r in failed)
    assert not await manager.drain(0.05)


async def test_alert_never_blocks_or_raises_even_with_the_server_down(
    journal: Journal, clock: ManualClock
) -> None:
    cfg = alerts_config(free_port(), retry_initial_delay=5, email_rate_limit_per_hour=1000)
    manager = AlertManager(cfg, journal, clock)

    def broken_positions() -> str:
        raise RuntimeError("portfolio not ready")

    def broken_subscriber(record: AlertRecord) -> None:
        raise ValueError("UI gone")

    manager.set_context(positions_summary_fn=broken_positions)
    manager.subscribe(broken_subscriber)
    # Blocking would be the mail server's network I/O inside alert() itself: an audit hook sees
    # every socket connect and name lookup made while the 202 calls run (audit hooks stay for
    # the process, so it only records while `watching` is set).
    watching, io_in_alert = [False], []

    def audit(event: str, args: tuple[object, ...]) -> None:
        if watching[0] and event in ("socket.connect", "socket.getaddrinfo"):
            io_in_alert.append(f"{event} {args[:2]}")

    sys.addaudithook(audit)
    async with running(manager):
        watching[0] = True
        for i in range(200):
            manager.notify("order_error", f"error {i}", about=str(i))
        manager.alert(Alert("x", CRITICAL, "system", "no timestamp"))
        manager.alert(None)  # type: ignore[arg-type]  # a caller's bug must not raise either
        watching[0] = False
        await asyncio.sleep(0.05)
    assert io_in_alert == []  # the sender task does the I/O, never the caller
    assert manager.pending == 201  # waiting for the server, none lost
    assert manager.records[0].title == "no timestamp"


async def test_records_newest_first_and_subscribers_see_each_change(
    journal: Journal, clock: ManualClock
) -> None:
    seen: list[AlertRecord] = []
    async with LocalSmtpServer() as server:
        manager = AlertManager(alerts_config(server.port), journal, clock)
        unsubscribe = manager.subscribe(seen.append)
        manager.set_context(positions_summary_fn=lambda: "AAPL 100 @ 187.20 uPnL -1,240.00")
        async with running(manager):
            manager.notify("trading_paused", "Trading paused: manual")
            clock.advance(1)
            manager.notify("order_error", "Order error on AAPL",
                           facts={"action": "Order cancelled", "next_steps": "Call IB"})
            await server.handler.wait_for(2)
            assert await manager.drain(5)
        unsubscribe()
    assert [r.title for r in manager.records] == ["Order error on AAPL", "Trading paused: manual"]
    assert [(r.title, r.delivered) for r in seen] == [
        ("Trading paused: manual", "email queued"),
        ("Order error on AAPL", "email queued"),
        ("Order error on AAPL", "email sent"),
        ("Trading paused: manual", "email sent"),
    ]  # the more urgent one is sent first
    body = server.messages[0].text
    assert "AAPL 100 @ 187.20 uPnL -1,240.00" in body
    assert "What the system did:\n  Order cancelled" in body
    assert "What you should do next:\n  Call IB" in body
    assert "action:" not in body


async def test_alert_from_another_thread_is_handed_to_the_loop(
    journal: Journal, clock: ManualClock
) -> None:
    async with LocalSmtpServer() as server:
        manager = AlertManager(alerts_config(server.port), journal, clock)
        async with running(manager):
            thread = threading.Thread(
                target=manager.notify, args=("order_error", "from a thread")
            )
            thread.start()
            await asyncio.to_thread(thread.join)
            [got] = await server.handler.wait_for(1)
    assert "from a thread" in got.subject


async def test_cancelled_run_keeps_what_is_queued_for_the_next_run(
    journal: Journal, clock: ManualClock
) -> None:
    port = free_port()
    manager = AlertManager(alerts_config(port), journal, clock)
    async with running(manager):
        manager.notify("reconnect_failed", "Reconnection failed")
        assert not await manager.drain(0.1)
    assert manager.pending == 1
    async with LocalSmtpServer() as server:
        await server.stop()
        await server.start(port)
        async with running(manager):
            await server.handler.wait_for(1)
            assert await manager.drain(5)


async def test_run_twice_at_once_is_refused(journal: Journal, clock: ManualClock) -> None:
    manager = AlertManager(alerts_config(free_port()), journal, clock)
    async with running(manager):
        with pytest.raises(RuntimeError, match="already running"):
            await manager.run()


def test_bad_ca_file_is_a_config_error_naming_the_field(
    tmp_path: Path, journal: Journal, clock: ManualClock
) -> None:
    bad = tmp_path / "nope.pem"
    with pytest.raises(AlertConfigError, match=r"alerts\.smtp_ca_file"):
        AlertManager(alerts_config(1025, smtp_security="starttls", smtp_ca_file=str(bad)),
                     journal, clock)
