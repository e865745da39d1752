"""Email and SMS (carriers' email-to-SMS gateways) over SMTP with aiosmtplib, and the channels.

Push and SMS services through apprise are in push.py.

Security: port 465 (or "tls") is implicit TLS, anything else in "auto" (or "starttls") requires
STARTTLS, and plain SMTP ("none") is accepted only for a loopback server (the config refuses it
otherwise). Certificates are always verified: `smtp_ca_file` adds a CA to trust, it never turns
verification off. No text that leaves this module carries the password: every error is scrubbed.
"""

from __future__ import annotations

import base64
import email.utils
import os
import socket
import ssl
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Literal, TypeVar

import aiosmtplib

from weekly_er_tui.config import MASK, AlertsConfig
from weekly_er_tui.config.loading import PASSWORD_ENV
from weekly_er_tui.model import Severity

_E = TypeVar("_E", bound=BaseException)

Security = Literal["tls", "starttls", "none"]
ChannelName = Literal["email", "sms"]
ChannelKind = Literal["email", "sms", "notify"]

CREDENTIALS_HINT = (
    "Check email credentials, enable app passwords (Gmail: turn on 2-Step Verification, create "
    "an app password and put it in alerts.email_password or WEEKLY_ER_EMAIL_PASSWORD)"
)


def scrub(text: str, secrets: Iterable[str]) -> str:
    """`text` with every occurrence of each non-empty secret replaced by ********."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


def secret_forms(user: str, password: str) -> tuple[str, ...]:
    """The password as it can appear in an SMTP conversation or an exception's text: itself,
    its repr escapes, and the base64 of AUTH LOGIN and AUTH PLAIN."""
    if not password:
        return ()

    def b64(raw: str) -> str:
        return base64.b64encode(raw.encode("utf-8")).decode("ascii")

    forms = {
        password,
        repr(password)[1:-1],
        b64(password),
        b64(f"\0{user}\0{password}"),
        b64(f"{user}\0{user}\0{password}"),
    }
    return tuple(forms)


def resolve_security(config: AlertsConfig) -> Security:
    if config.smtp_security == "auto":
        return "tls" if config.smtp_port == 465 else "starttls"
    return config.smtp_security


def tls_context(config: AlertsConfig) -> ssl.SSLContext:
    """The system's trust store plus `smtp_ca_file`; hostname and certificate always checked."""
    ctx = ssl.create_default_context()
    if config.smtp_ca_file:
        ctx.load_verify_locations(cafile=config.smtp_ca_file)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


class AlertConfigError(ValueError):
    """Alert settings that cannot work; `problems` names each field."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


class DeliveryError(Exception):
    """A message did not go. The text is scrubbed and says what to do; `transient` errors (the
    server unreachable, a 4xx reply) are retried, permanent ones are not."""

    def __init__(self, text: str, *, transient: bool) -> None:
        super().__init__(text)
        self.text = text
        self.transient = transient


@dataclass(frozen=True, slots=True)
class Channel:
    """Where one kind of message goes: its recipients, minimum priority and hourly limit.

    `kind` says how: email or SMS over SMTP, or a push / SMS service through apprise ("notify",
    named after its service or alerts.notify[].name). `rate_limit_setting` is the field to change.
    """

    name: str
    kind: ChannelKind
    recipients: tuple[str, ...]
    min_priority: Severity
    rate_limit_per_hour: int
    rate_limit_setting: str
    min_priority_setting: str = ""  # the config key of min_priority


def channels_for(config: AlertsConfig) -> tuple[Channel, ...]:
    """The enabled channels (email and SMS both need email_enabled: SMS goes through SMTP)."""
    if not config.email_enabled:
        return ()
    out: list[Channel] = []
    if config.recipients:
        out.append(Channel("email", "email", tuple(config.recipients),
                           config.email_min_priority, config.email_rate_limit_per_hour,
                           "alerts.email_rate_limit_per_hour", "alerts.email_min_priority"))
    if config.sms_recipients:
        out.append(Channel("sms", "sms", tuple(config.sms_recipients), config.sms_min_priority,
                           config.sms_rate_limit_per_hour, "alerts.sms_rate_limit_per_hour",
                           "alerts.sms_min_priority"))
    return tuple(out)


def unsent_reason(config: AlertsConfig, channels: Sequence[Channel], priority: Severity
                  ) -> str:
    """Why an alert of `priority` reaches no channel, naming the settings that decide it:
    "MEDIUM is below alerts.email_min_priority=HIGH", "no channel is on (...)"."""
    if not channels:
        off = disabled_reason(config, "email") or "no channel"
        if config.email_enabled and not config.sms_recipients:
            off = "alerts.recipients and alerts.sms_recipients are empty"
        return f"no channel is on ({off}{'' if config.notify else ', no alerts.notify'})"
    below = " and ".join(f"{ch.min_priority_setting or ch.name}={ch.min_priority.value}"
                         for ch in channels)
    return f"{priority.value} is below {below}"


def disabled_reason(config: AlertsConfig, name: ChannelName) -> str | None:
    """Why a channel is off, naming the setting (None when it is on)."""
    if not config.email_enabled:
        return "alerts.email_enabled is false"
    if name == "email" and not config.recipients:
        return "alerts.recipients is empty"
    if name == "sms" and not config.sms_recipients:
        return "alerts.sms_recipients is empty"
    return None


class SmtpTransport:
    """Sends one message per connection to the configured SMTP server."""

    def __init__(self, config: AlertsConfig, *, host: str = "localhost") -> None:
        self.config = config
        self.security: Security = resolve_security(config)
        self._password = config.email_password.get_secret_value()
        self._secrets = secret_forms(config.email_user, self._password)
        self._tls: ssl.SSLContext | None = None
        if self.security != "none" and config.email_enabled:
            try:
                self._tls = tls_context(config)
            except (OSError, ssl.SSLError) as exc:
                raise AlertConfigError(
                    [f"alerts.smtp_ca_file: cannot load {config.smtp_ca_file!r} as a CA "
                     f"certificate (PEM): {exc}"]
                ) from None
        self.sender = config.email_from or config.email_user or f"weekly-er-tui@{host}"

    def scrub(self, text: str) -> str:
        return scrub(text, self._secrets)

    @property
    def secrets(self) -> tuple[str, ...]:
        return self._secrets

    @property
    def server(self) -> str:
        label = {"tls": "TLS", "starttls": "STARTTLS", "none": "plain, loopback only"}
        return f"{self.config.smtp_server}:{self.config.smtp_port} ({label[self.security]})"

    def message(
        self, recipients: Sequence[str], subject: str | None, text: str, priority: Severity
    ) -> EmailMessage:
        msg = EmailMessage()
        msg["From"] = self.sender
        msg["To"] = ", ".join(recipients)
        if subject is not None:
            msg["Subject"] = subject
        msg["Date"] = email.utils.formatdate(usegmt=True)
        msg["Message-ID"] = email.utils.make_msgid(domain="weekly-er-tui")
        if priority.at_least(Severity.HIGH):
            msg["Importance"] = "high"
            msg["X-Priority"] = "1"
        msg.set_content(text)
        return msg

    async def send(self, message: EmailMessage, recipients: Sequence[str]) -> None:
        """Deliver `message`; raises DeliveryError (scrubbed, with a hint), nothing else."""
        cfg = self.config
        login = bool(cfg.email_user and self._password)
        client = aiosmtplib.SMTP(
            hostname=cfg.smtp_server,
            port=cfg.smtp_port,
            use_tls=self.security == "tls",
            start_tls=self.security == "starttls",
            tls_context=self._tls,
            timeout=cfg.smtp_timeout,
            username=cfg.email_user if login else None,
            password=self._password if login else None,
        )
        try:
            async with client:
                await client.send_message(message, recipients=list(recipients))
        except Exception as exc:  # every failure becomes a scrubbed DeliveryError
            # `from None`: the library's exception (and its text) must not travel on as a cause.
            raise self._explain(exc) from None

    def _no_login_hint(self) -> str:
        """A server that wants a login the config does not give: which keys give it."""
        if self.config.email_user:
            return (f"the server requires a login and alerts.email_user is set without a "
                    f"password: set alerts.email_password (or the {PASSWORD_ENV} environment "
                    f"variable)")
        return ("the server requires a login and none is configured: set alerts.email_user "
                f"and alerts.email_password (or the {PASSWORD_ENV} environment variable)")

    def _explain(self, exc: BaseException) -> DeliveryError:
        login = bool(self.config.email_user and self._password)
        where = f"{self.config.smtp_server}:{self.config.smtp_port}"
        detail = self.scrub(_describe(exc))
        cert = _find(exc, ssl.SSLCertVerificationError)
        if cert is not None:
            return DeliveryError(
                f"the certificate of {where} is not trusted ({self.scrub(str(cert))}); check "
                "alerts.smtp_server, or set alerts.smtp_ca_file to the CA that signed it",
                transient=False,
            )
        if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
            return DeliveryError(
                f"{where} refused the login of {self.config.email_user!r}: {detail}. "
                f"{CREDENTIALS_HINT}",
                transient=False,
            )
        if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
            return DeliveryError(
                f"{where} refused every recipient: {detail}; check alerts.recipients / "
                "alerts.sms_recipients",
                transient=False,
            )
        if isinstance(exc, aiosmtplib.SMTPResponseException):
            if 400 <= exc.code < 500:
                return DeliveryError(f"{where} asked to try later: {detail}", transient=True)
            hint = ""
            if exc.code in (530, 534, 535, 538):
                hint = f". {CREDENTIALS_HINT if login else self._no_login_hint()}"
            return DeliveryError(f"{where} refused the message: {detail}{hint}", transient=False)
        not_supported = isinstance(exc, aiosmtplib.SMTPNotSupported) or (
            type(exc) is aiosmtplib.SMTPException and "not supported" in str(exc))
        if not_supported and login and "AUTH" in str(exc):
            # A relay that takes mail without a login (a local one, typically): the login is
            # what is wrong, not the port.
            return DeliveryError(
                f"{where} offers no login (no AUTH), but alerts.email_user is set: remove "
                f"alerts.email_user and alerts.email_password (and {PASSWORD_ENV}) if this "
                f"server takes mail without one (if it needs one, use its submission port: "
                f"587 with STARTTLS, 465 with TLS)",
                transient=False,
            )
        if not_supported:
            return DeliveryError(
                f"{where} does not support what alerts.smtp_security "
                f"({self.config.smtp_security!r}) needs: {detail}; use port 465 for implicit "
                "TLS or 587 for STARTTLS",
                transient=False,
            )
        if isinstance(exc, (aiosmtplib.SMTPConnectError, aiosmtplib.SMTPServerDisconnected,
                            aiosmtplib.SMTPTimeoutError, OSError, TimeoutError)):
            return DeliveryError(
                f"cannot reach {where}: {self.scrub(_unreachable(exc))}; check "
                "alerts.smtp_server, alerts.smtp_port and the network",
                transient=True,
            )
        return DeliveryError(f"sending through {where} failed: {detail}", transient=False)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return f"{exc.code} {exc.message}"
    text = str(exc)
    cause = exc.__cause__
    if isinstance(cause, OSError) and cause.strerror and cause.strerror not in text:
        text = f"{text} ({cause.strerror})"
    return text or type(exc).__name__


def _unreachable(exc: BaseException) -> str:
    """Why a connection failed, in a few words ("Connection refused", "timed out")."""
    cause = exc.__cause__ if isinstance(exc.__cause__, OSError) else exc
    if isinstance(cause, socket.gaierror):
        return f"the name does not resolve ({cause.strerror})"
    if isinstance(cause, TimeoutError) or isinstance(exc, aiosmtplib.SMTPTimeoutError):
        return f"timed out ({exc})"
    if isinstance(cause, OSError) and cause.errno:
        return os.strerror(cause.errno)
    return _describe(exc)


def _find(exc: BaseException, kind: type[_E]) -> _E | None:
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        if isinstance(cur, kind):
            return cur
        seen.add(id(cur))
        cur = cur.__cause__ or cur.__context__
    return None
