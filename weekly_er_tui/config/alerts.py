"""The alerts section: e-mail over SMTP, and push or SMS services through apprise
(alerts.notify), whose URLs are secrets."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import (
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from weekly_er_tui.config.fields import MASK, Seconds, _environment, _host, _Section
from weekly_er_tui.model import Severity

URL_SCHEME = re.compile(r"\s*([A-Za-z][\w+.-]*)://")
APPRISE_WIKI = "https://github.com/caronc/apprise/wiki"


def _url_shape(url: str) -> str | None:
    # Whether apprise understands the URL is asked of apprise, in alerts/ (AlertConfigError,
    # and check-config); here only its shape, without quoting it: it holds a token.
    if URL_SCHEME.match(url):
        return None
    return (
        "not an apprise URL (service://...), e.g. tgram://bottoken/ChatID for Telegram; "
        f"see {APPRISE_WIKI} for each service's URL"
    )


def mask_url(url: str) -> str:
    """An apprise URL as check-config shows it: the service, never the token."""
    m = URL_SCHEME.match(url)
    return f"{m[1]}://{MASK}" if m else MASK


NOTIFY_RESERVED_NAMES = ("email", "sms", "log")


class NotifyConfig(_Section):
    """One push or SMS service through apprise: its URL (a secret: it holds the token), where
    that URL comes from, and what the channel gets. See alerts/README.md."""

    # The URL is a secret: pydantic must not quote it in its own error texts either.
    model_config = ConfigDict(
        extra="forbid", frozen=True, validate_default=True, hide_input_in_errors=True
    )

    url: SecretStr | None = None
    url_env: str | None = None
    url_file: str | None = None
    # Default: the service ("telegram", "ntfy", ...), "-2", "-3" for a second and third.
    name: str | None = None
    min_priority: Severity = Severity.HIGH
    # Default: 10 for an SMS service (each text costs money), 20 otherwise.
    rate_limit_per_hour: int | None = Field(None, ge=1)
    _url: SecretStr = PrivateAttr(default=SecretStr(""))

    def secret_url(self) -> str:
        """The apprise URL, from url, url_env or url_file (read once, at load)."""
        return self._url.get_secret_value()

    @property
    def source(self) -> str:
        """Which field gives the URL (for messages: alerts.notify[1].url_env)."""
        return "url_env" if self.url_env else "url_file" if self.url_file else "url"

    @field_validator("url")
    @classmethod
    def _shaped(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None:
            problem = _url_shape(v.get_secret_value())
            if problem:
                raise ValueError(problem)
        return v

    @field_validator("url_env")
    @classmethod
    def _env_set(cls, v: str | None, info: ValidationInfo) -> str | None:
        if v is None:
            return v
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", v):
            raise ValueError(
                f"{v!r} is not the name of an environment variable (e.g. "
                "WEEKLY_ER_NOTIFY_TELEGRAM)"
            )
        url = _environment(info).get(v, "").strip()
        if not url:
            raise ValueError(
                f"the environment variable {v} is not set (or empty); export "
                f"{v}='tgram://...' before starting weekly-er-tui, or use url_file"
            )
        problem = _url_shape(url)
        if problem:
            raise ValueError(f"{v} holds {problem}")
        return v

    @field_validator("url_file")
    @classmethod
    def _file_readable(cls, v: str | None) -> str | None:
        if v is None:
            return v
        p = Path(v).expanduser()
        try:
            url = p.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            why = getattr(exc, "strerror", None) or type(exc).__name__
            raise ValueError(f"cannot read {p}: {why}") from None
        if not url:
            raise ValueError(f"{p} is empty; put the apprise URL in it (one line)")
        problem = _url_shape(url)
        if problem:
            raise ValueError(f"{p} holds {problem}")
        return v

    @field_validator("name")
    @classmethod
    def _name(cls, v: str | None) -> str | None:
        if v is None:
            return v
        if v.lower() in NOTIFY_RESERVED_NAMES:
            raise ValueError(
                f"{v!r} is the name of a built-in channel ({', '.join(NOTIFY_RESERVED_NAMES)}); "
                "choose another, e.g. 'phone'"
            )
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,31}", v):
            raise ValueError(
                f"{v!r} must be a short name of letters, digits, '-', '_' or '.', e.g. 'phone'"
            )
        return v

    @model_validator(mode="after")
    def _one_source(self, info: ValidationInfo) -> NotifyConfig:
        given = [f for f in ("url", "url_env", "url_file") if getattr(self, f) is not None]
        if len(given) != 1:
            got = f"got {' and '.join(given)}" if given else "got none"
            raise ValueError(
                f"give exactly one of url, url_env or url_file ({got}); url_env or url_file "
                "keep the token out of config.json"
            )
        if self.url is not None:
            url = self.url.get_secret_value()
        elif self.url_env is not None:
            url = _environment(info).get(self.url_env, "").strip()
        else:
            url = Path(self.url_file or "").expanduser().read_text(encoding="utf-8").strip()
        self._url = SecretStr(url)
        return self


class AlertsConfig(_Section):
    # An apprise URL (alerts.notify) holds a token: pydantic's own error text must not quote it
    # (parse_config's errors never quote a value that failed a check).
    model_config = ConfigDict(
        extra="forbid", frozen=True, validate_default=True, hide_input_in_errors=True
    )

    email_enabled: bool = False
    smtp_server: str = "smtp.gmail.com"
    smtp_port: int = Field(587, ge=1, le=65535)
    # "auto": implicit TLS on 465, STARTTLS otherwise; plain SMTP is allowed only on loopback.
    smtp_security: Literal["auto", "starttls", "tls", "none"] = "auto"
    smtp_timeout: Seconds = 20.0
    # A CA bundle to trust in addition to the system's (for a private relay); verification stays on.
    smtp_ca_file: str | None = None
    email_user: str = ""
    email_password: SecretStr = SecretStr("")
    email_from: str | None = None
    recipients: list[str] = Field(default_factory=list)
    sms_recipients: list[str] = Field(default_factory=list)
    email_min_priority: Severity = Severity.MEDIUM
    sms_min_priority: Severity = Severity.HIGH
    dedupe_window: Seconds = 300.0
    email_rate_limit_per_hour: int = Field(20, ge=1, le=3600)
    sms_rate_limit_per_hour: int = Field(10, ge=1, le=3600)
    retry_initial_delay: Seconds = 5.0
    retry_max_delay: Seconds = 300.0
    queue_size: int = Field(1000, ge=10, le=1_000_000)
    # Per-kind default priorities ("connection_lost": "CRITICAL", ...): see alerts/kinds.py.
    priorities: dict[str, Severity] = Field(default_factory=dict)
    subject_template: str | None = None
    body_template: str | None = None
    # A file with the SMS text template (fitted to 160 characters); see alerts/README.md.
    sms_template: str | None = None
    # Attempts per message while the SMTP server is unreachable (0: keep it queued until it is).
    retry_max_attempts: int = Field(0, ge=0, le=10_000)
    # Push and SMS services through apprise (Telegram, Pushover, ntfy, Twilio, ...).
    notify: list[NotifyConfig] = Field(default_factory=list)

    @staticmethod
    def is_loopback(host: str) -> bool:
        """True for a server on this machine: 127.0.0.0/8, ::1 or localhost (no DNS lookup)."""
        import ipaddress

        name = host.strip().strip("[]").rstrip(".").lower()
        if name == "localhost" or name.endswith(".localhost"):
            return True
        try:
            return ipaddress.ip_address(name).is_loopback
        except ValueError:
            return False

    @field_validator("smtp_server")
    @classmethod
    def _server_named(cls, v: str) -> str:
        return _host(v)

    @field_validator("smtp_security")
    @classmethod
    def _plain_only_on_loopback(cls, v: str, info: ValidationInfo) -> str:
        server = info.data.get("smtp_server")
        if v == "none" and isinstance(server, str) and not cls.is_loopback(server):
            raise ValueError(
                f"'none' (plain SMTP, password and alerts unencrypted) is allowed only for a "
                f"server on this machine (127.0.0.1, ::1, localhost), not {server!r}; use "
                "'auto' (implicit TLS on port 465, STARTTLS otherwise)"
            )
        return v

    @field_validator("recipients", "sms_recipients")
    @classmethod
    def _addresses(cls, v: list[str]) -> list[str]:
        for addr in v:
            if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", addr):
                raise ValueError(f"{addr!r} is not an email address (name@example.com)")
        return v

    @field_validator("notify")
    @classmethod
    def _unique_names(cls, v: list[NotifyConfig]) -> list[NotifyConfig]:
        first: dict[str, int] = {}
        for i, entry in enumerate(v):
            if entry.name is None:
                continue
            j = first.setdefault(entry.name.lower(), i)
            if j != i:
                raise ValueError(
                    f"{entry.name!r} is the name of both alerts.notify[{j}] and "
                    f"alerts.notify[{i}]; give each channel its own name"
                )
        return v

    @model_validator(mode="after")
    def _email_complete(self) -> AlertsConfig:
        if self.email_enabled and not (self.recipients or self.sms_recipients):
            raise ValueError(
                "email_enabled is true but there are no recipients or sms_recipients; "
                "add at least one address, or set email_enabled to false"
            )
        return self
