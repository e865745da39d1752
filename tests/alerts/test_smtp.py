"""Delivery through a real SMTP server on 127.0.0.1: plain, STARTTLS, implicit TLS, login,
retries while the server is down, and the password kept out of every log."""

from __future__ import annotations

import asyncio
import base64
import logging
import ssl
from pathlib import Path

from tests.alerts.conftest import PASSWORD, alerts_config, events, running
from tests.alerts.smtp_server import Authenticator, LocalSmtpServer, free_port
from weekly_er_tui.alerts import AlertManager
from weekly_er_tui.clock import ManualClock
from weekly_er_tui.journal import Journal, remove_handlers, setup_logging
from weekly_er_tui.model import Severity

HIGH, CRITICAL = Severity.HIGH, Severity.CRITICAL


async def test_plain_smtp_on_loopback_delivers_to_every_recipient(
    journal: Journal, clock: ManualClock
) -> None:
    async with LocalSmtpServer() as server:
        manager = AlertManager(alerts_config(server.port), journal, clock, host="tradebox",
                               account="DU1234567")
        async with running(manager):
            manager.notify("emergency_stop", "Emergency stop: portfolio -10.4% (limit -10%)",
                           facts={"portfolio_change": "-10.4%", "limit": "-10%"})
            [got] = await server.handler.wait_for(1)
            assert await manager.drain(5)
    assert got.rcpt_tos == ["trader@example.com", "partner@example.com"]
    assert got.mail_from == "weekly-er@example.com"
    assert got.subject == "[Weekly ER][CRITICAL] Emergency stop: portfolio -10.4% (limit -10%)"
    assert not got.tls
    assert "DU1234567" in got.text and "tradebox" in got.text
    [sent] = events(journal, "ALERT_SENT")
    assert sent["severity"] == "CRITICAL"
    assert sent["details"] == {"key": "emergency_stop", "channel": "email", "priority": "CRITICAL",
                               "recipients": 2, "attempts": 1}
    assert manager.records[0].delivered == "email sent"


async def test_starttls_with_a_certificate_the_client_trusts_through_smtp_ca_file(
    journal: Journal, clock: ManualClock, server_tls: ssl.SSLContext, ca_file: str
) -> None:
    async with LocalSmtpServer(starttls=server_tls, require_starttls=True) as server:
        cfg = alerts_config(server.port, smtp_security="starttls", smtp_ca_file=ca_file)
        manager = AlertManager(cfg, journal, clock)
        async with running(manager):
            manager.notify("connection_lost", "Connection lost to 127.0.0.1:7497")
            [got] = await server.handler.wait_for(1)
    assert got.tls
    assert got.subject == "[Weekly ER][HIGH] Connection lost to 127.0.0.1:7497"


async def test_starttls_refuses_an_untrusted_certificate_and_says_how_to_fix_it(
    journal: Journal, clock: ManualClock, server_tls: ssl.SSLContext
) -> None:
    async with LocalSmtpServer(starttls=server_tls, require_starttls=True) as server:
        manager = AlertManager(alerts_config(server.port, smtp_security="starttls"),
                               journal, clock)
        async with running(manager):
            manager.notify("reconnect_failed", "Reconnection failed after 5 attempts")
            assert await manager.drain(5)
        assert server.messages == []
    [failed] = events(journal, "ALERT_FAILED")
    assert "not trusted" in failed["details"]["error"]
    assert "alerts.smtp_ca_file" in failed["details"]["error"]
    assert failed["details"]["will_retry"] is False  # a bad certificate is not retried
    assert failed["message"].startswith("Failed to send alert by email")
    assert manager.records[0].delivered.startswith("email FAILED: the certificate of")


async def test_starttls_required_but_the_server_offers_none_is_a_clear_failure(
    journal: Journal, clock: ManualClock, ca_file: str
) -> None:
    async with LocalSmtpServer() as server:
        cfg = alerts_config(server.port, smtp_security="starttls", smtp_ca_file=ca_file)
        manager = AlertManager(cfg, journal, clock)
        async with running(manager):
            manager.notify("order_error", "Order error on AAPL")
            assert await manager.drain(5)
        assert server.messages == []  # nothing went in the clear
    [failed] = events(journal, "ALERT_FAILED")
    assert "does not support" in failed["details"]["error"]


async def test_implicit_tls_the_port_465_way(
    journal: Journal, clock: ManualClock, server_tls: ssl.SSLContext, ca_file: str
) -> None:
    async with LocalSmtpServer(implicit_tls=server_tls) as server:
        cfg = alerts_config(server.port, smtp_security="tls", smtp_ca_file=ca_file)
        manager = AlertManager(cfg, journal, clock)
        async with running(manager):
            manager.notify("trading_halted", "Trading halted: daily loss limit")
            [got] = await server.handler.wait_for(1)
    assert "Trading halted" in got.subject


async def test_login_with_email_user_and_password_over_starttls(
    journal: Journal, clock: ManualClock, server_tls: ssl.SSLContext, ca_file: str
) -> None:
    auth = Authenticator({"trader@gmail.example": PASSWORD})
    async with LocalSmtpServer(starttls=server_tls, require_starttls=True, authenticator=auth,
                               auth_required=True) as server:
        cfg = alerts_config(server.port, smtp_security="starttls", smtp_ca_file=ca_file,
                            email_user="trader@gmail.example", email_password=PASSWORD,
                            email_from=None)
        manager = AlertManager(cfg, journal, clock)
        async with running(manager):
            manager.notify("order_rejected", "Order rejected: AAPL 100 BUY (max positions)")
            [got] = await server.handler.wait_for(1)
    assert auth.attempts == [("trader@gmail.example", PASSWORD)]
    assert got.login == "trader@gmail.example"
    assert got.mail_from == "trader@gmail.example"  # email_from defaults to the login


async def test_failed_login_leaves_the_password_in_no_log_file(
    tmp_path: Path, journal: Journal, clock: ManualClock, server_tls: ssl.SSLContext,
    ca_file: str,
) -> None:
    # The server echoes the password in its 535 reply, so the library's exception carries it.
    auth = Authenticator({"trader@gmail.example": "the-right-one"}, echo_password=True)
    handlers = setup_logging(tmp_path, "DEBUG", clock)
    # aiosmtpd's own DEBUG log is the server's, not ours: keep it out of the product's log file.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    try:
        async with LocalSmtpServer(starttls=server_tls, require_starttls=True,
                                   authenticator=auth, auth_required=True) as server:
            cfg = alerts_config(server.port, smtp_security="starttls", smtp_ca_file=ca_file,
                                email_user="trader@gmail.example", email_password=PASSWORD)
            manager = AlertManager(cfg, journal, clock)
            async with running(manager):
                manager.notify("emergency_stop", "Emergency stop: portfolio -10.4% (limit -10%)")
                assert await manager.drain(5)
            assert server.messages == []
        # aiosmtplib tries each mechanism the server offers (PLAIN, LOGIN) before giving up.
        assert set(auth.attempts) == {("trader@gmail.example", PASSWORD)}
    finally:
        remove_handlers(handlers)
        logging.getLogger("mail.log").setLevel(logging.NOTSET)
    [failed] = events(journal, "ALERT_FAILED")
    assert "Check email credentials, enable app passwords" in failed["details"]["error"]
    assert "********" in failed["details"]["error"]  # the echoed password, masked
    assert "Failed to send alert" in (tmp_path / "logs" / "enhanced_trading.log").read_text()
    forms = [PASSWORD, base64.b64encode(PASSWORD.encode()).decode(),
             base64.b64encode(f"\0trader@gmail.example\0{PASSWORD}".encode()).decode()]
    files, leaks = grep_tree(tmp_path, forms)
    assert len(files) >= 3  # events_log.csv, trade_journal.csv, enhanced_trading.log
    assert leaks == []
    for record in manager.records:
        assert PASSWORD not in record.delivered


def grep_tree(root: Path, needles: list[str]) -> tuple[list[Path], list[str]]:
    """Every file under `root`, and "needle in file" for each needle found in one."""
    files = [p for p in root.rglob("*") if p.is_file()]
    leaks = [f"{n!r} in {p}" for p in files for n in needles
             if n in p.read_bytes().decode("utf-8", "replace")]
    return files, leaks


async def test_server_down_then_up_the_queued_alert_arrives(
    journal: Journal, clock: ManualClock
) -> None:
    port = free_port()  # nothing listens here yet
    manager = AlertManager(alerts_config(port), journal, clock)
    server = LocalSmtpServer()
    async with running(manager):
        manager.notify("reconnect_failed", "Reconnection failed after 5 attempts")
        async with asyncio.timeout(5):
            while not events(journal, "ALERT_FAILED"):
                await asyncio.sleep(0.01)
        assert manager.pending == 1
        assert manager.records[0].delivered.startswith("email retrying")
        assert not await manager.drain(0.1)
        await server.start(port)
        try:
            [got] = await server.handler.wait_for(1)
            assert await manager.drain(5)
        finally:
            await server.stop()
    assert "Reconnection failed" in got.subject
    rows = events(journal, "ALERT_FAILED", "ALERT_SENT")
    assert [r["event_type"] for r in rows] == ["ALERT_FAILED", "ALERT_SENT"]
    assert rows[0]["details"]["will_retry"] is True
    assert "cannot reach 127.0.0.1" in rows[0]["details"]["error"]
    assert rows[1]["details"]["attempts"] >= 2
    assert manager.records[0].delivered == "email sent"


async def test_retries_give_up_after_retry_max_attempts(
    journal: Journal, clock: ManualClock
) -> None:
    manager = AlertManager(alerts_config(free_port(), retry_max_attempts=2), journal, clock)
    async with running(manager):
        manager.notify("order_error", "Order error on MSFT")
        assert await manager.drain(5)
    rows = events(journal, "ALERT_FAILED")
    assert [r["details"]["will_retry"] for r in rows] == [True, False]
    assert rows[-1]["details"]["attempts"] == 2
    assert manager.records[0].delivered.startswith("email FAILED: cannot reach")


async def test_a_server_that_never_answers_times_out_and_is_retried(
    journal: Journal, clock: ManualClock
) -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # accepts, never greets
        writer.close()

    stall = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = stall.sockets[0].getsockname()[1]
    try:
        cfg = alerts_config(port, smtp_timeout=0.2, retry_max_attempts=2)
        manager = AlertManager(cfg, journal, clock)
        async with running(manager):
            manager.notify("reconnect_failed", "Reconnection failed")
            assert await manager.drain(5)
    finally:
        stall.close()
    rows = events(journal, "ALERT_FAILED")
    assert [r["details"]["will_retry"] for r in rows] == [True, False]
    assert "timed out" in rows[-1]["details"]["error"]
