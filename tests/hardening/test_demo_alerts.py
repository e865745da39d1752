"""The demo never sends a real alert unless asked (`--send-alerts`), and what it sends says it is
a simulation: [DEMO] in every subject, SMS and body. Against a real SMTP server on loopback."""

from __future__ import annotations

import email
import email.policy
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from tests.alerts.smtp_server import free_port
from weekly_er_tui import cli


class Inbox:
    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope.original_content or b"")
        return "250 OK"


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    box = Inbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


def demo(tmp_path: Path, port: int, *flags: str) -> str:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"alerts": {
        "email_enabled": True, "smtp_server": "127.0.0.1", "smtp_port": port,
        "smtp_security": "none", "email_from": "demo@example.com",
        "recipients": ["trader@example.com"], "email_min_priority": "LOW",
    }}))
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(["demo", "--headless", "--config", str(config), "--data-dir",
                     str(tmp_path / "demo-data"), "--run-for", "1s", *flags], out=out, err=err)
    assert code == 0, err.getvalue()
    return err.getvalue()


def test_the_demo_sends_no_alert_from_a_real_config(
    tmp_path: Path, inbox: tuple[Inbox, int]
) -> None:
    box, port = inbox
    said = demo(tmp_path, port)
    assert box.messages == []  # the engine drains its alerts before it stops: none went
    assert "--send-alerts" in said


def test_asked_to_the_demo_tags_every_alert_demo(tmp_path: Path, inbox: tuple[Inbox, int]) -> None:
    box, port = inbox
    demo(tmp_path, port, "--send-alerts")
    assert box.messages
    for raw in box.messages:
        mail = email.message_from_bytes(raw, policy=email.policy.default)
        assert str(mail["Subject"]).startswith("[Weekly ER][DEMO]["), mail["Subject"]
        body = mail.get_body(("plain",))
        assert body is not None and "DEMO: a simulation" in str(body.get_content())
