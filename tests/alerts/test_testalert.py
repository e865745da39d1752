"""`weekly-er-tui test-alert`: one test message per enabled channel, and a line for each."""

from __future__ import annotations

import io
import json
from typing import Any

from tests.alerts.conftest import START
from tests.alerts.smtp_server import LocalSmtpServer, free_port
from weekly_er_tui.alerts.testalert import send_test_alert
from weekly_er_tui.clock import ManualClock
from weekly_er_tui.config import AppConfig, parse_config


def app_config(**alerts: Any) -> AppConfig:
    base = {"email_enabled": True, "smtp_server": "127.0.0.1", "smtp_security": "none",
            "smtp_timeout": 5, "recipients": ["a@example.com", "b@example.com"]}
    base.update(alerts)
    return parse_config(json.dumps({"account": "DU1234567", "alerts": base}), env={})


async def test_every_enabled_channel_gets_one_message_and_a_line() -> None:
    async with LocalSmtpServer() as server:
        cfg = app_config(smtp_port=server.port, sms_recipients=["5551234567@txt.att.net"])
        out = io.StringIO()
        code = await send_test_alert(cfg, out, clock=ManualClock(START), host="tradebox")
    assert code == 0
    assert out.getvalue().splitlines() == [
        f"email: sent to 2 recipients via 127.0.0.1:{server.port} (plain, loopback only)",
        f"sms: sent to 1 recipient via 127.0.0.1:{server.port} (plain, loopback only)",
    ]
    email, sms = server.messages
    assert email.subject == "[Weekly ER][INFO] Test alert from weekly-er-tui on tradebox"
    assert "DU1234567" in email.text and "if you can read this, the channel works" in email.text
    assert sms.rcpt_tos == ["5551234567@txt.att.net"]
    assert len(sms.text.strip()) <= 160


async def test_a_failing_channel_says_why_and_exits_1() -> None:
    cfg = app_config(smtp_port=free_port())
    out = io.StringIO()
    assert await send_test_alert(cfg, out) == 1
    lines = out.getvalue().splitlines()
    assert lines[0] == "sms: disabled (alerts.sms_recipients is empty)"
    assert lines[1].startswith("email: FAILED: cannot reach 127.0.0.1:")


async def test_nothing_enabled_is_reported_and_exits_1() -> None:
    out = io.StringIO()
    assert await send_test_alert(parse_config("{}", env={}), out) == 1
    lines = out.getvalue().splitlines()
    assert lines[:2] == ["email: disabled (alerts.email_enabled is false)",
                         "sms: disabled (alerts.email_enabled is false)"]
    assert lines[2].startswith("nothing sent: no alert channel is enabled")


async def test_each_apprise_channel_is_reported_by_name() -> None:
    from tests.alerts.conftest import TOKEN
    from tests.alerts.http_server import LocalHttpServer

    with LocalHttpServer() as up, LocalHttpServer() as refusing:
        refusing.answer(401, echo=True)
        cfg = parse_config(json.dumps({"account": "DU1234567", "alerts": {"notify": [
            {"url": up.url("json", f"/hook/{TOKEN}")},
            {"url": f"ntfy://trader:{TOKEN}@127.0.0.1:{refusing.port}/weekly-er"},
            {"url": f"json://127.0.0.1:{free_port()}/hook", "name": "backup"},
        ]}}), env={})
        out = io.StringIO()
        code = await send_test_alert(cfg, out, clock=ManualClock(START), host="tradebox")
    assert code == 1
    lines = out.getvalue().splitlines()
    assert lines[:3] == [
        "email: disabled (alerts.email_enabled is false)",
        "sms: disabled (alerts.email_enabled is false)",
        "json: sent",
    ]
    assert lines[3].startswith("ntfy: FAILED: 401 Unauthorized")
    assert "alerts.notify[1]" in lines[3]
    assert lines[4].startswith("backup: FAILED: cannot reach")
    assert TOKEN not in out.getvalue()
    [got] = up.requests
    assert got.json["title"] == "Weekly ER INFO: Test alert from weekly-er-tui on tradebox"
    assert "if you can read this, the channel works" in got.json["message"]
