"""The alert channels of a config, built once: the templates, the SMTP transport, the apprise
services, the channels they serve and the sender of each; or every problem that stops them.

AlertManager starts from one (it refuses a config with any problem); check-config lists the
problems without sending anything.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from weekly_er_tui.alerts.channels import AlertConfigError, Channel, SmtpTransport, channels_for
from weekly_er_tui.alerts.kinds import unknown_overrides
from weekly_er_tui.alerts.outbox import MailText, Message
from weekly_er_tui.alerts.push import NotifyTransport, PushMessage, notify_transports
from weekly_er_tui.alerts.templates import TemplateError, Templates
from weekly_er_tui.config import AlertsConfig

Sender = Callable[[Message], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class AlertChannels:
    """What a valid alerts config sends through."""

    templates: Templates
    smtp: SmtpTransport  # email and SMS
    notify: Mapping[str, NotifyTransport]  # apprise services, by channel name
    channels: tuple[Channel, ...]  # email, SMS, then every apprise service
    secrets: tuple[str, ...]  # the SMTP password and every service's token: never in a text

    def sender(self, ch: Channel) -> Sender:
        """How one message goes out by `ch` (raises DeliveryError when it does not)."""
        if ch.kind == "notify":
            transport = self.notify[ch.name]

            async def push(message: Message) -> None:
                assert isinstance(message, PushMessage)
                await transport.send(message)

            return push

        smtp = self.smtp

        async def mail(message: Message) -> None:
            assert isinstance(message, MailText)
            email = smtp.message(ch.recipients, message.subject, message.text, message.priority)
            await smtp.send(email, ch.recipients)

        return mail


def build_channels(config: AlertsConfig, host: str,
                   transport: SmtpTransport | None = None) -> AlertChannels:
    """The channels of `config` (`transport`: an SMTP transport to use instead of the
    config's). AlertConfigError listing every problem, each naming its field."""
    templates, smtp, notify, problems = _build(config, host)
    transport = transport or smtp
    if problems or transport is None:
        raise AlertConfigError(problems)
    return AlertChannels(
        templates=templates,
        smtp=transport,
        notify={t.name: t for t in notify},
        channels=(*channels_for(config), *(t.channel for t in notify)),
        secrets=(*transport.secrets, *(s for t in notify for s in t.secrets)),
    )


def config_problems(config: AlertsConfig) -> list[str]:
    """Every problem AlertManager would refuse to start with (unknown kinds in priorities,
    template files, smtp_ca_file, URLs apprise cannot read), each naming its field; [] if none.
    Nothing is sent. For check-config."""
    return _build(config, "localhost")[3]


def _build(
    config: AlertsConfig, host: str
) -> tuple[Templates, SmtpTransport | None, tuple[NotifyTransport, ...], list[str]]:
    """Templates and transports of a config, and every problem found on the way."""
    problems = unknown_overrides(config.priorities)
    templates = Templates()
    try:
        templates = Templates.from_config(config)
    except TemplateError as exc:
        problems += exc.problems
    smtp: SmtpTransport | None = None
    try:
        smtp = SmtpTransport(config, host=host)
    except AlertConfigError as exc:
        problems += exc.problems
    notify: tuple[NotifyTransport, ...] = ()
    try:
        notify = notify_transports(config)
    except AlertConfigError as exc:
        problems += exc.problems
    return templates, smtp, notify, problems


def recipient_count(ch: Channel) -> int:
    """For events: the addresses of an SMTP channel; an apprise service is one destination."""
    return len(ch.recipients) if ch.kind != "notify" else 1
