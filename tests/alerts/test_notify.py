"""apprise channels (push and SMS services by URL) against a real HTTP server on 127.0.0.1:
delivery, retries while the server is down, priorities, the rate limit and de-duplication per
channel, one channel never holding back another, and the tokens kept out of every file."""

from __future__ import annotations

import asyncio
import base64
import logging
from pathlib import Path
from urllib.parse import quote

from tests.alerts.conftest import (
    START,
    TOKEN,
    alerts_config,
    events,
    notify_config,
    running,
)
from tests.alerts.http_server import LocalHttpServer, free_port
from tests.alerts.smtp_server import LocalSmtpServer
from tests.alerts.test_smtp import grep_tree
from weekly_er_tui.alerts import AlertManager
from weekly_er_tui.alerts.kinds import KINDS
from weekly_er_tui.alerts.push import PUSH_LIMIT, notify_transports
from weekly_er_tui.alerts.templates import SMS_LIMIT, Templates, build_context
from weekly_er_tui.clock import ManualClock
from weekly_er_tui.config import MASK
from weekly_er_tui.journal import Journal, remove_handlers, setup_logging
from weekly_er_tui.model import Alert, Severity

EMERGENCY = "Emergency stop: portfolio -10.4% (limit -10%)"


async def test_a_critical_reaches_the_service_with_a_short_message(
    journal: Journal, clock: ManualClock
) -> None:
    with LocalHttpServer() as server:
        cfg = notify_config({"url": server.url("json", f"/hook/{TOKEN}")})
        manager = AlertManager(cfg, journal, clock, host="tradebox", account="DU1234567")
        async with running(manager):
            manager.notify("emergency_stop", EMERGENCY, facts={"portfolio_change": "-10.4%"})
            [got] = await server.wait_for(1)
            assert await manager.drain(5)
    assert got.path == f"/hook/{TOKEN}"
    payload = got.json
    assert payload["type"] == "failure"
    assert payload["title"] == f"Weekly ER CRITICAL: {EMERGENCY}"
    body = payload["message"]
    assert "14:02 ET" in body and "DU1234567" in body and "tradebox" in body
    assert "portfolio change: -10.4%" in body
    assert "Closing ALL positions" in body  # what the system did
    assert "Check in the app or TWS" in body  # what to do
    assert len(body) <= PUSH_LIMIT
    [sent] = events(journal, "ALERT_SENT")
    assert sent["severity"] == "CRITICAL"
    assert sent["details"]["channel"] == "json"
    assert sent["details"]["attempts"] == 1
    assert manager.records[0].delivered == "json sent"


async def test_an_ntfy_server_on_loopback_gets_it_with_its_login(
    journal: Journal, clock: ManualClock
) -> None:
    with LocalHttpServer() as server:
        url = f"ntfy://trader:{TOKEN}@127.0.0.1:{server.port}/weekly-er"
        manager = AlertManager(notify_config({"url": url}), journal, clock)
        async with running(manager):
            manager.notify("reconnect_failed", "Reconnection failed after 5 attempts")
            [got] = await server.wait_for(1)
            assert await manager.drain(5)
    assert got.json["topic"] == "weekly-er"
    assert got.json["title"] == "Weekly ER CRITICAL: Reconnection failed after 5 attempts"
    assert got.headers["Authorization"] == "Basic " + base64.b64encode(
        f"trader:{TOKEN}".encode()).decode()
    assert manager.records[0].delivered == "ntfy sent"


async def test_email_gets_the_full_body_and_push_a_short_one(
    journal: Journal, clock: ManualClock
) -> None:
    positions = "\n".join(f"SYM{i:03d} 100 @ 187.20 uPnL -1,240.00" for i in range(120))
    async with LocalSmtpServer() as smtp:
        with LocalHttpServer() as http:
            cfg = alerts_config(smtp.port, notify=[{"url": http.url("form", "/push")}])
            manager = AlertManager(cfg, journal, clock)
            manager.set_context(positions_summary_fn=lambda: positions)
            async with running(manager):
                manager.notify("emergency_stop", EMERGENCY)
                [email] = await smtp.handler.wait_for(1)
                [push] = await http.wait_for(1)
                assert await manager.drain(5)
    assert "SYM119 100 @ 187.20" in email.text  # email carries everything
    assert "Sent by weekly-er-tui" in email.text
    text = push.form["message"]
    assert len(text) <= PUSH_LIMIT < len(email.text)
    assert text.startswith("Emergency stop") and "SYM000" in text and text.endswith("...")
    assert push.form["title"] == f"Weekly ER CRITICAL: {EMERGENCY}"
    assert manager.records[0].delivered == "email sent, form sent"


def test_an_sms_service_gets_one_plain_text_of_160_characters() -> None:
    # Twilio is never reached here: only the text is composed.
    url = f"twilio://AC{'a' * 32}:{'0123456789abcdef' * 2}@15551234567/15557654321"
    [sms] = notify_transports(notify_config({"url": url}))
    assert sms.name == "twilio"
    alert = Alert("emergency_stop", Severity.CRITICAL, "safety",
                  EMERGENCY + " - closing AAPL, MSFT, NVDA, AMZN, GOOG, META, TSLA, NFLX, ORCL "
                  "and CRM with market orders, trading halted until resumed by hand")
    context = build_context(alert, Severity.CRITICAL, KINDS["emergency_stop"], when=START,
                            host="tradebox", account="DU1", positions="AAPL 100")
    message = sms.compose(Templates(), context)
    assert message.title == ""
    assert len(message.body) <= SMS_LIMIT and message.body.isascii()
    assert "\n" not in message.body
    assert message.body.startswith("Weekly ER CRITICAL: Emergency stop: portfolio -10.4%")
    assert message.body.endswith("... (14:02 ET)")


async def test_below_the_channel_minimum_is_not_pushed(
    journal: Journal, clock: ManualClock
) -> None:
    with LocalHttpServer() as server:
        cfg = notify_config(
            {"url": server.url(path="/all"), "min_priority": "LOW"},
            {"url": server.url(path="/urgent"), "min_priority": "CRITICAL", "name": "pager"},
        )
        manager = AlertManager(cfg, journal, clock)
        async with running(manager):
            manager.notify("position_entry", "Entered AAPL: 100 @ 187.20")  # LOW
            manager.notify("order_error", "Order error on AAPL")  # HIGH
            manager.notify("emergency_stop", EMERGENCY)  # CRITICAL
            await server.wait_for(4)
            assert await manager.drain(5)
    paths = sorted(r.path for r in server.requests)
    assert paths == ["/all", "/all", "/all", "/urgent"]
    urgent = next(r for r in server.requests if r.path == "/urgent")
    assert "Emergency stop" in urgent.json["title"]
    assert [r.delivered for r in manager.records] == ["json sent, pager sent", "json sent",
                                                      "json sent"]


async def test_server_down_then_up_the_queued_alert_arrives(
    journal: Journal, clock: ManualClock
) -> None:
    port = free_port()  # nothing listens here yet
    cfg = notify_config({"url": f"json://127.0.0.1:{port}/hook"})
    manager = AlertManager(cfg, journal, clock)
    server = LocalHttpServer()
    async with running(manager):
        manager.notify("reconnect_failed", "Reconnection failed after 5 attempts")
        async with asyncio.timeout(5):
            while not events(journal, "ALERT_FAILED"):
                await asyncio.sleep(0.01)
        assert manager.pending == 1
        assert manager.records[0].delivered.startswith("json retrying")
        server.start(port)
        try:
            [got] = await server.wait_for(1)
            assert await manager.drain(5)
        finally:
            server.stop()
    assert "Reconnection failed" in got.json["title"]
    rows = events(journal, "ALERT_FAILED", "ALERT_SENT")
    assert [r["event_type"] for r in rows] == ["ALERT_FAILED", "ALERT_SENT"]
    assert rows[0]["details"]["will_retry"] is True
    assert rows[0]["details"]["channel"] == "json"
    assert "cannot reach" in rows[0]["details"]["error"]
    assert rows[1]["details"]["attempts"] >= 2
    assert manager.records[0].delivered == "json sent"


async def test_a_channel_that_is_down_never_holds_back_another(
    journal: Journal, clock: ManualClock
) -> None:
    with LocalHttpServer() as server:
        cfg = notify_config(
            {"url": f"json://127.0.0.1:{free_port()}/down", "name": "down"},
            {"url": server.url(path="/up"), "name": "up"},
            retry_initial_delay=60, retry_max_delay=60,
        )
        manager = AlertManager(cfg, journal, clock)
        async with running(manager):
            manager.notify("order_error", "Order error on AAPL", about="AAPL")
            manager.notify("emergency_stop", EMERGENCY)
            manager.notify("order_rejected", "Order rejected: MSFT", about="MSFT")
            got = await server.wait_for(3)
            async with asyncio.timeout(5):  # "up" has finished; all wait for "down"'s backoff
                while manager.pending != 3:
                    await asyncio.sleep(0.01)
    assert [r.json["title"].split(": ", 1)[1] for r in got] == [
        EMERGENCY, "Order error on AAPL", "Order rejected: MSFT",
    ]  # the most urgent first
    assert manager.records[1].delivered.startswith("down retrying")
    assert manager.records[1].delivered.endswith("up sent")


async def test_rate_limit_per_channel_with_critical_never_held_back(
    journal: Journal, clock: ManualClock
) -> None:
    with LocalHttpServer() as server:
        cfg = notify_config(
            {"url": server.url(path="/a"), "name": "pager", "rate_limit_per_hour": 2},
            {"url": server.url(path="/b"), "name": "phone"},
        )
        manager = AlertManager(cfg, journal, clock)
        async with running(manager):
            for i in range(4):
                manager.notify("order_rejected", f"Order rejected #{i}", about=str(i))
                clock.advance(60)
            manager.notify("emergency_stop", EMERGENCY)
            await server.wait_for(8)
            assert await manager.drain(5)
            # An hour after the first ones, the limit has room again.
            clock.advance(3600)
            manager.notify("order_rejected", "Order rejected #4", about="4")
            await server.wait_for(10)
            assert await manager.drain(5)
    titles = {p: [r.json["title"].removeprefix("Weekly ER ") for r in server.requests
                  if r.path == p] for p in ("/a", "/b")}
    assert sorted(titles["/a"]) == [f"CRITICAL: {EMERGENCY}", "HIGH: Order rejected #0",
                                    "HIGH: Order rejected #1", "HIGH: Order rejected #4"]
    assert len(titles["/b"]) == 6  # the other channel has its own limit (20)
    limited = events(journal, "ALERT_FAILED")
    assert [(r["details"]["key"], r["details"]["channel"]) for r in limited] == [
        ("order_rejected:2", "pager"), ("order_rejected:3", "pager"),
    ]
    assert "alerts.notify[0].rate_limit_per_hour" in limited[0]["details"]["error"]
    delivered = {r.title: r.delivered for r in manager.records}
    assert delivered["Order rejected #2"] == "pager rate-limited, phone sent"


async def test_repeats_fold_into_one_message_per_channel(
    journal: Journal, clock: ManualClock
) -> None:
    with LocalHttpServer() as server:
        cfg = notify_config({"url": server.url(path="/a")}, {"url": server.url(path="/b")})
        manager = AlertManager(cfg, journal, clock)
        assert [ch.name for ch in manager.channels] == ["json", "json-2"]
        async with running(manager):
            for i in range(6):
                manager.notify("connection_lost", "Connection lost to 127.0.0.1:7497",
                               facts={"attempt": i + 1})
                clock.advance(10)
            await server.wait_for(2)
            assert await manager.drain(5)
            assert len(server.requests) == 2
            assert manager.records[0].delivered == (
                "json sent, json-2 sent; +5 repeats folded since 14:02:00")
            clock.advance(300)  # the window ends: one message per channel stands for the five
            got = await server.wait_for(4)
            assert await manager.drain(5)
    assert sorted(r.path for r in got) == ["/a", "/a", "/b", "/b"]
    summaries = got[2:]
    for r in summaries:
        assert r.json["title"] == (
            "Weekly ER HIGH: Connection lost to 127.0.0.1:7497 (x5 since 14:02)"
        )
        assert "attempt: 6" in r.json["message"]
    assert len(events(journal, "ALERT_SENT")) == 4


async def test_no_token_in_any_file_when_the_service_refuses_and_echoes_the_url(
    tmp_path: Path, journal: Journal, clock: ManualClock
) -> None:
    path_token = "pth_9f8e7d6c5b4a3210SECRET"
    handlers = setup_logging(tmp_path, "DEBUG", clock)
    try:
        with LocalHttpServer() as server:
            server.answer(401, echo=True)  # the reply quotes path, headers and body
            url = f"json://alerts:{TOKEN}@127.0.0.1:{server.port}/hook/{path_token}"
            manager = AlertManager(notify_config({"url": url}), journal, clock)
            async with running(manager):
                manager.notify("emergency_stop", EMERGENCY)
                [got] = await server.wait_for(1)
                assert await manager.drain(5)
        logging.getLogger("weekly_er_tui.alerts").info("flush")
    finally:
        remove_handlers(handlers)
    assert path_token in got.path  # the token really was on the wire
    [failed] = events(journal, "ALERT_FAILED")
    error = failed["details"]["error"]
    assert error.startswith("401 Unauthorized")
    assert "alerts.notify[0]" in error  # where to fix it
    assert MASK in error  # the server's echo, masked
    assert failed["details"]["will_retry"] is False  # a refused token is not retried
    log_text = (tmp_path / "logs" / "enhanced_trading.log").read_text()
    assert "Failed to send alert" in log_text
    assert "error=401" in log_text  # apprise's own log lines arrive, scrubbed
    basic = base64.b64encode(f"alerts:{TOKEN}".encode()).decode()
    forms = [TOKEN, path_token, basic, quote(TOKEN), quote(path_token)]
    files, leaks = grep_tree(tmp_path, forms)
    assert len(files) >= 3  # events_log.csv, trade_journal.csv, enhanced_trading.log
    assert leaks == []
    for record in manager.records:
        assert TOKEN not in record.delivered and path_token not in record.delivered


async def test_plain_text_is_escaped_for_a_service_that_reads_html(
    journal: Journal, clock: ManualClock
) -> None:
    # Telegram reads HTML: a raw "&" or "<" there is refused (400, "can't parse entities"). A
    # JSON endpoint told format=html stands in for it on loopback.
    with LocalHttpServer() as server:
        cfg = notify_config({"url": server.url(path="/html") + "?format=html"})
        manager = AlertManager(cfg, journal, clock)
        async with running(manager):
            manager.notify("limit_breach", "S&P shock: <ESPN> down 7%", priority=Severity.HIGH)
            [got] = await server.wait_for(1)
    body = got.json["message"]
    assert "S&amp;P" in body and "&lt;ESPN&gt;" in body and "S&P" not in body
