"""`weekly-er-tui test-alert`: one test message on every enabled channel, and what became of it.

It sends directly (no queue, no retries, no rate limit, no minimum priority), so the trader sees
at once whether the settings work: one line per channel, by name (`telegram: sent`,
`ntfy: FAILED: 401 Unauthorized from ntfy: check the token ...`).
"""

from __future__ import annotations

import socket
from typing import TextIO

from weekly_er_tui.alerts.channels import (
    AlertConfigError,
    ChannelName,
    DeliveryError,
    SmtpTransport,
    channels_for,
    disabled_reason,
)
from weekly_er_tui.alerts.kinds import KINDS
from weekly_er_tui.alerts.push import NotifyTransport, notify_transports
from weekly_er_tui.alerts.templates import TemplateError, Templates, build_context
from weekly_er_tui.clock import Clock, WallClock
from weekly_er_tui.config import AppConfig
from weekly_er_tui.model import Alert, Severity

CHANNEL_NAMES: tuple[ChannelName, ...] = ("email", "sms")


async def send_test_alert(
    config: AppConfig, out: TextIO, *, clock: Clock | None = None, host: str | None = None
) -> int:
    """Send a test alert on every enabled channel and print one line per channel.

    Returns 0 when every enabled channel delivered, 1 when one failed or none is enabled.
    """
    alerts = config.alerts
    host = host or socket.gethostname()
    for name in CHANNEL_NAMES:
        reason = disabled_reason(alerts, name)
        if reason:
            print(f"{name}: disabled ({reason})", file=out)
    channels = channels_for(alerts)
    if not channels and not alerts.notify:
        print("nothing sent: no alert channel is enabled (set alerts.email_enabled to true and "
              "fill in alerts.recipients and/or alerts.sms_recipients, or add a push service "
              "to alerts.notify)", file=out)
        return 1
    try:
        transport = SmtpTransport(alerts, host=host)
        templates = Templates.from_config(alerts)
        notify = notify_transports(alerts)
    except (AlertConfigError, TemplateError) as exc:
        for failed in [ch.name for ch in channels] or ["notify"]:
            print(f"{failed}: FAILED: {'; '.join(exc.problems)}", file=out)
        return 1
    priority = Severity.INFO
    alert = Alert(
        key="test",
        priority=priority,
        kind="system",
        title=f"Test alert from weekly-er-tui on {host}",
        body="This is a test message sent by `weekly-er-tui test-alert`.",
        facts={"smtp server": transport.server} if channels else {},
    )
    context = build_context(
        alert, priority, KINDS["test"], when=(clock or WallClock()).now(), host=host,
        account=config.account or "", positions="(not part of a test)",
    )
    ok = True
    for ch in channels:
        if ch.name == "email":
            message = transport.message(ch.recipients, templates.subject_for(context),
                                        templates.body_for(context), priority)
        else:
            message = transport.message(ch.recipients, None, templates.sms_for(context),
                                        priority)
        try:
            await transport.send(message, ch.recipients)
        except DeliveryError as err:
            ok = False
            print(f"{ch.name}: FAILED: {err.text}", file=out)
        else:
            n = len(ch.recipients)
            print(f"{ch.name}: sent to {n} recipient{'s' if n != 1 else ''} via {transport.server}",
                  file=out)
    for push in notify:
        ok = await _send_push(push, templates, context, out) and ok
    return 0 if ok else 1


async def _send_push(
    push: NotifyTransport, templates: Templates, context: dict[str, str], out: TextIO
) -> bool:
    try:
        await push.send(push.compose(templates, context))
    except DeliveryError as err:
        print(f"{push.name}: FAILED: {err.text}", file=out)
        return False
    print(f"{push.name}: sent", file=out)
    return True
