"""config.json: pydantic models, a loader that accepts the documented file, and clear errors.

The enhancement guide's examples carry `//` comments and traders paste them, so the loader strips
`//` and `/* */` comments (outside strings) before parsing. Every problem is reported at once with
its dotted path, the value and what is allowed; a bad config starts nothing.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import stat
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from weekly_er_tui.model import Severity

PASSWORD_ENV = "WEEKLY_ER_EMAIL_PASSWORD"
LIVE_PORTS = {7496: "TWS live", 4001: "IB Gateway live"}
PAPER_PORTS = {7497: "TWS paper", 4002: "IB Gateway paper"}
# IB's account ids say what they are (notes row 18): paper DU (DF: an advisor's paper account),
# live U (individual), F (advisor), I (introducing broker). Ports are only conventions.
PAPER_PREFIXES = ("DU", "DF")
LIVE_PREFIXES = ("U", "F", "I")


def account_is_live(account: str) -> bool:
    """Whether an IB account id is a live (real money) account. An id that is not a known paper
    id counts as live: a guard that errs must err on the side of real money."""
    return not account.strip().upper().startswith(PAPER_PREFIXES)


def port_warning(account: str, port: int) -> str:
    """A warning when the port's convention says otherwise than the account (a paper account on
    7496, a live one on 7497 or behind a Docker or tunnel port); "" when they agree."""
    live = account_is_live(account)
    if live and port not in LIVE_PORTS:
        where = f"IB's {PAPER_PORTS[port]}" if port in PAPER_PORTS else "a non-standard"
        return (f"account {account} is LIVE although ib_port {port} is {where} port: the "
                "account decides, this is real money")
    if not live and port in LIVE_PORTS:
        return (f"account {account} is a paper account although ib_port {port} is IB's "
                f"{LIVE_PORTS[port]} port: the account decides")
    return ""


def live_account_refused(account: str) -> str:
    """The error for a live account seen without allow_live."""
    return (
        f"account {account} is a LIVE account (real money; paper ids start with DU or DF). "
        'Set "allow_live": true in config.json to trade it, or connect to a paper account'
    )
MASK = "********"


SECRET_FIELDS = frozenset({"email_password", "url"})  # notify[].url holds a token
MAX_CONFIG_BYTES = 1_000_000  # a config is a few kB; a bigger file is not one
MAX_JSON_DEPTH = 32  # the deepest documented key is 3 levels down
MAX_CLIENT_ID = 2**31 - 1  # IB's clientId is a signed 32-bit integer
# The Friday close must start inside a regular session (09:30-16:00 ET): an offset as long as
# the session or longer would put it before the open, or (1e9) never.
SESSION_MINUTES = 390

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _numeric(annotation: Any) -> bool:
    """Whether a field holds a number (int, float, optionally None), Annotated or not."""
    if annotation in (int, float):
        return True
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) is Annotated:
        return _numeric(args[0])
    return bool(args) and all(_numeric(a) or a is type(None) for a in args) and any(
        _numeric(a) for a in args)


def control_character(value: str) -> str | None:
    """'NUL at position 9' for the first control character in `value`, else None."""
    m = _CONTROL.search(value)
    if m is None:
        return None
    name = "NUL" if m[0] == "\x00" else f"control character {m[0]!r}"
    return f"{name} at position {m.start()}"


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [x for v in value for x in _strings(v)]
    if isinstance(value, dict):
        return [x for k, v in value.items() for x in (*_strings(k), *_strings(v))]
    return []


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True,
                              allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _plain_values(cls, v: Any, info: ValidationInfo) -> Any:
        """A number is a number (JSON's true is not port 1), text has no control characters."""
        name = info.field_name or ""
        field_info = cls.model_fields.get(name)
        if isinstance(v, bool) and field_info is not None and _numeric(field_info.annotation):
            raise ValueError(f"must be a number, not {'true' if v else 'false'}")
        if not isinstance(v, dict) or field_info is None or not (
                isinstance(field_info.annotation, type)
                and issubclass(field_info.annotation, BaseModel)):
            for text in _strings(v):
                found = control_character(text)
                if found:
                    raise ValueError(f"must not contain a control character or NUL ({found})")
        return v


Money = Annotated[float, Field(ge=0)]
Fraction = Annotated[float, Field(gt=0, le=1)]
Seconds = Annotated[float, Field(gt=0)]


def _environment(info: ValidationInfo) -> Mapping[str, str]:
    """The environment parse_config was given (tests pass their own), else the process's."""
    context = info.context
    env = context.get("env") if isinstance(context, dict) else None
    return env if isinstance(env, Mapping) else os.environ


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


class SafetyLimits(_Section):
    max_position_value: Annotated[float, Field(gt=0)] = 50_000
    max_portfolio_value: Annotated[float, Field(gt=0)] = 500_000
    max_daily_loss: Annotated[float, Field(gt=0)] = 10_000
    # After a daily-loss breach (today's losers closed, the rest kept), how much further the
    # day's loss may grow, as a fraction of max_daily_loss, before everything is closed and
    # trading HALTED.
    daily_loss_halt_margin: Annotated[float, Field(gt=0, le=10)] = 0.5
    max_position_concentration: Fraction = 0.15
    max_sector_concentration: Fraction = 0.30
    emergency_stop_loss: Fraction = 0.10
    max_positions: int = Field(20, gt=0, le=10_000)
    min_cash_reserve: Money = 10_000
    # What the emergency stop-loss measures the drawdown from.
    stop_loss_baseline: Literal["session", "week", "high_water"] = "session"
    # A price not updated for this many real seconds is stale: flagged and not shown as fact
    # (data flow is a network matter, so real time, also on an accelerated clock).
    stale_price_seconds: Seconds = 120.0
    sector_overrides: dict[str, str] = Field(default_factory=dict)
    orphan_ignore: list[str] = Field(default_factory=list)
    restricted_symbols: list[str] = Field(default_factory=list)
    max_order_notional: Annotated[float, Field(gt=0)] | None = None
    limit_price_collar: Fraction = 0.05
    duplicate_order_window: Seconds = 10.0
    max_orders_per_minute: int = Field(60, gt=0, le=10_000)
    correlation_threshold: Fraction = 0.7
    max_correlated_weight: Fraction = 0.40


class ConnectionMonitoring(_Section):
    heartbeat_interval: Seconds = 30.0
    heartbeat_timeout: Seconds = 10.0
    connect_timeout: Seconds = 10.0
    max_reconnect_attempts: int = Field(5, ge=1, le=10_000)
    reconnect_delay: Annotated[float, Field(ge=0)] = 10.0
    slow_retry_interval: Seconds = 60.0
    safety_check_interval: Seconds = 300.0
    # When the clientId is in use (error 326), try up to this many next ids (0: don't).
    client_id_fallback: int = Field(0, ge=0, le=20)
    # The gateway's daily auto-restart, "HH:MM" US Eastern as set in TWS or IBC (None: not
    # set). An outage starting then (to +10 min) is expected: INFO, reconnecting until it is back.
    gateway_restart_time: str | None = None

    @field_validator("gateway_restart_time")
    @classmethod
    def _restart_hhmm(cls, v: str | None) -> str | None:
        m = re.fullmatch(r"(\d{1,2}):(\d{2})", v.strip()) if v is not None else None
        if v is not None and (not m or int(m[1]) > 23 or int(m[2]) > 59):
            raise ValueError(
                f"must be a time HH:MM in America/New_York, as set in TWS or IBC (got {v!r})"
            )
        return v


class StrategyConfig(_Section):
    enabled: bool = True
    calendar_file: str | None = None
    entry_time: str = "10:00"
    sizing: Literal["fixed", "volatility"] = "fixed"
    notional_per_position: Annotated[float, Field(gt=0)] = 10_000
    risk_budget: Annotated[float, Field(gt=0)] = 200
    # Volatility sizing: how many daily returns (so one more daily close) the volatility uses.
    volatility_lookback: int = Field(20, ge=10, le=250)
    close_offset_minutes: Annotated[float, Field(gt=0, lt=SESSION_MINUTES)] = 15
    backup_offset_minutes: Annotated[float, Field(gt=0, lt=SESSION_MINUTES)] = 5

    @field_validator("entry_time")
    @classmethod
    def _hhmm(cls, v: str) -> str:
        m = re.fullmatch(r"(\d{1,2}):(\d{2})", v)
        if not m or int(m[1]) > 23 or int(m[2]) > 59:
            raise ValueError(f"must be a time HH:MM in America/New_York, e.g. 10:00 (got {v!r})")
        return v

    @model_validator(mode="after")
    def _offsets(self) -> StrategyConfig:
        if self.backup_offset_minutes >= self.close_offset_minutes:
            raise ValueError(
                "backup_offset_minutes must be smaller than close_offset_minutes "
                f"(got {self.backup_offset_minutes:g} and {self.close_offset_minutes:g}): the "
                "emergency backup runs after the Friday close starts"
            )
        return self


MODES = ("trade", "shadow")


class AppConfig(_Section):
    ib_host: str = "127.0.0.1"
    ib_port: int = Field(7497, ge=1, le=65535)
    ib_client_id: int = Field(7, ge=0, le=MAX_CLIENT_ID)
    account: str | None = None
    allow_live: bool = False
    # Live data, or IB's delayed data (15-20 min old) when the account has no subscription:
    # auto asks live, then delayed after IB's 10089/354/10167/10168 (broker/market_data.py).
    market_data_type: Literal["auto", "live", "delayed", "delayed_frozen"] = "auto"
    # "shadow": the same engine decides everything and sends nothing (broker/sender.py), to
    # run beside the system that trades the account; `run --shadow` says the same.
    mode: Literal["trade", "shadow"] = "trade"
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    safety_limits: SafetyLimits = Field(default_factory=SafetyLimits)
    connection_monitoring: ConnectionMonitoring = Field(default_factory=ConnectionMonitoring)
    strategy: StrategyConfig = Field(default_factory=StrategyConfig)

    @field_validator("ib_host")
    @classmethod
    def _host_named(cls, v: str) -> str:
        return _host(v)

    @field_validator("mode", mode="before")
    @classmethod
    def _mode_named(cls, v: Any) -> Any:
        if v in MODES:
            return v
        close = difflib.get_close_matches(str(v), list(MODES), n=1, cutoff=0.5)
        raise ValueError(
            f"must be {' or '.join(repr(m) for m in MODES)} (got {_fmt(v)})"
            + (f"; did you mean {close[0]!r}?" if close else "")
            + " ('trade' sends orders; 'shadow' decides and journals everything and sends "
            "nothing)"
        )

    @property
    def shadow(self) -> bool:
        return self.mode == "shadow"

    @field_validator("allow_live")
    @classmethod
    def _live_guard(cls, allow_live: bool, info: ValidationInfo) -> bool:
        # A field validator (not a model one) so the guard is reported with every other problem.
        port = info.data.get("ib_port")
        account = info.data.get("account") or ""
        if account and account_is_live(account) and not allow_live:
            raise ValueError(live_account_refused(account))
        # A configured paper account decides for itself; without one the port is all there is
        # before the connect (the account from managedAccounts is checked again then).
        if port in LIVE_PORTS and not allow_live and not account:
            raise ValueError(
                f"ib_port {port} is IB's {LIVE_PORTS[port]} port (real money). "
                'Set "allow_live": true to trade live, or use 7497 (TWS paper) or '
                "4002 (IB Gateway paper)"
            )
        return allow_live

    @property
    def live(self) -> bool:
        """LIVE by the configured account's id; without one, by the port (until the connect
        names the account: EngineState.live then follows the account)."""
        if self.account:
            return account_is_live(self.account)
        return self.ib_port in LIVE_PORTS


    def masked(self) -> dict[str, Any]:
        """The effective configuration as plain data, with every secret masked."""
        data = self.model_dump(mode="json")
        secret = self.alerts.email_password.get_secret_value()
        data["alerts"]["email_password"] = MASK if secret else ""
        for entry, shown in zip(self.alerts.notify, data["alerts"]["notify"], strict=True):
            if entry.url is not None:
                shown["url"] = mask_url(entry.url.get_secret_value())
        return data


def _host(v: str) -> str:
    if not v.strip():
        raise ValueError("must name a host, e.g. 127.0.0.1 (got an empty string)")
    if v != v.strip() or " " in v:
        raise ValueError(f"must be a host name or address without spaces (got {v!r})")
    return v


@dataclass
class LoadedConfig:
    config: AppConfig
    path: Path | None
    warnings: list[str] = field(default_factory=list)


class ConfigError(Exception):
    """A config that must not start anything. `problems` lists every issue, one line each."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(
            f"{source}: {len(problems)} problem(s)\n" + "\n".join(f"  - {p}" for p in problems)
        )


def strip_json_comments(text: str) -> str:
    """Remove // and /* */ comments outside strings; keeps line numbers for error messages."""
    out: list[str] = []
    i, n = 0, len(text)
    in_str = False
    while i < n:
        ch = text[i]
        if in_str:
            out.append(ch)
            if ch == "\\" and i + 1 < n:
                out.append(text[i + 1])
                i += 2
                continue
            if ch == '"':
                in_str = False
            i += 1
        elif ch == '"':
            in_str = True
            out.append(ch)
            i += 1
        elif text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            end = n if j < 0 else j + 2
            out.append("\n" * text.count("\n", i, end))
            i = end
        else:
            out.append(ch)
            i += 1
    # Trailing commas are the other thing hand-edited JSON collects.
    return re.sub(r",(\s*[}\]])", r"\1", "".join(out))


def _known_keys(model: type[BaseModel]) -> list[str]:
    return list(model.model_fields)


def _model_at(path: tuple[int | str, ...]) -> type[BaseModel] | None:
    model: type[BaseModel] = AppConfig
    items: type[BaseModel] | None = None  # a list of models (alerts.notify), before its index
    for part in path:
        if isinstance(part, int):
            if items is None:
                return None
            model, items = items, None
            continue
        if items is not None or part not in model.model_fields:
            return None
        ann = model.model_fields[part].annotation
        args = get_args(ann)
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            model = ann
        elif (get_origin(ann) is list and args and isinstance(args[0], type)
              and issubclass(args[0], BaseModel)):
            items = args[0]
        else:
            return None
    return None if items is not None else model


_BOUND_ATTRS = (("gt", True, False), ("ge", True, True), ("lt", False, False), ("le", False, True))


def _bounds(path: tuple[int | str, ...]) -> tuple[Any, Any, bool, bool]:
    """(low, high, low_inclusive, high_inclusive) declared on the field at `path`."""
    model = _model_at(path[:-1])
    lo = hi = None
    lo_inc = hi_inc = True
    if model is not None and isinstance(path[-1], str) and path[-1] in model.model_fields:
        for meta in model.model_fields[path[-1]].metadata:
            for attr, is_lo, inc in _BOUND_ATTRS:
                val = getattr(meta, attr, None)
                if val is not None:
                    if is_lo:
                        lo, lo_inc = val, inc
                    else:
                        hi, hi_inc = val, inc
    return lo, hi, lo_inc, hi_inc


class _Shown(str):
    """Text shown as it is in an error (not quoted as a value)."""


def _fmt(v: Any) -> str:
    if isinstance(v, _Shown):
        return str(v)
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, str):
        return repr(v)
    return json.dumps(v) if isinstance(v, (list, dict, bool)) or v is None else str(v)


def _without_secrets(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: MASK if k in SECRET_FIELDS else _without_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_secrets(v) for v in value]
    return value


_TYPE_NAMES = {bool: "true/false", int: "a number", float: "a number", str: "a string",
               list: "a list", dict: "an object", type(None): "null"}


def describe_validation_error(exc: ValidationError) -> list[str]:
    """Turn pydantic's errors into sentences that name the field, the value and the fix.
    A secret's value is never repeated: only its type is."""
    problems: list[str] = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        # alerts.notify[1].url: a list index in brackets, as the trader finds it in the file.
        dotted = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")
        value = _without_secrets(err.get("input"))
        if any(p in SECRET_FIELDS for p in loc):
            value = _Shown(f"a value of type {_TYPE_NAMES.get(type(err.get('input')), 'unknown')}"
                           ", not shown")
        etype = err["type"]
        if etype == "finite_number":
            problems.append(f"{dotted} must be a finite number (got {_fmt(value)})")
        elif etype == "extra_forbidden":
            parent = _model_at(loc[:-1])
            known = _known_keys(parent) if parent else []
            close = difflib.get_close_matches(str(loc[-1]), known, n=1, cutoff=0.6)
            hint = f"; did you mean '{close[0]}'?" if close else f"; known keys: {', '.join(known)}"
            problems.append(f"{dotted}: unknown key{hint}")
        elif etype in {"greater_than", "greater_than_equal", "less_than", "less_than_equal"}:
            lo, hi, lo_inc, hi_inc = _bounds(loc)
            if lo is not None and hi is not None:
                problems.append(
                    f"{dotted} must be between {_fmt(lo)} and {_fmt(hi)} (got {_fmt(value)})"
                )
            elif lo is not None:
                word = "at least" if lo_inc else "greater than"
                problems.append(f"{dotted} must be {word} {_fmt(lo)} (got {_fmt(value)})")
            else:
                word = "at most" if hi_inc else "less than"
                problems.append(f"{dotted} must be {word} {_fmt(hi)} (got {_fmt(value)})")
        elif etype == "missing":
            problems.append(f"{dotted} is required")
        elif etype in {"value_error", "assertion_error"}:
            msg = str(err["msg"]).removeprefix("Value error, ")
            where = f"{dotted}: " if dotted else ""
            problems.append(f"{where}{msg}")
        elif etype == "literal_error" or etype == "enum":
            allowed = err.get("ctx", {}).get("expected", "")
            problems.append(f"{dotted} must be one of {allowed} (got {_fmt(value)})")
        else:
            kind = {
                "float_parsing": "a number", "float_type": "a number",
                "int_parsing": "a whole number", "int_type": "a whole number",
                "int_from_float": "a whole number", "bool_parsing": "true or false",
                "bool_type": "true or false", "string_type": "a string",
                "list_type": "a list", "dict_type": "an object", "model_type": "an object",
            }.get(etype)
            if kind:
                problems.append(f"{dotted} must be {kind} (got {_fmt(value)})")
            else:
                problems.append(f"{dotted}: {err['msg']} (got {_fmt(value)[:200]})")
    return problems


def parse_config(
    text: str, source: str = "config", env: Mapping[str, str] | None = None
) -> AppConfig:
    """Parse and validate config text. Raises ConfigError listing every problem."""
    env = os.environ if env is None else env
    data = loads_bounded(strip_json_comments(_bounded_text(text, source)), source, ConfigError)
    if not isinstance(data, dict):
        raise ConfigError(source, ["the top level must be an object { ... }"])
    env_password = env.get(PASSWORD_ENV)
    if env_password:
        alerts = data.setdefault("alerts", {})
        if isinstance(alerts, dict):
            alerts["email_password"] = env_password
    try:
        return AppConfig.model_validate(data, context={"env": env})
    except ValidationError as exc:
        raise ConfigError(source, describe_validation_error(exc)) from None


def _bounded_text(text: str, source: str) -> str:
    if len(text) > MAX_CONFIG_BYTES:
        raise ConfigError(source, [
            f"the file is {len(text):,} characters; a config is a few thousand (at most "
            f"{MAX_CONFIG_BYTES:,}): is this the right file?"])
    return text


def json_depth_problem(text: str, limit: int = MAX_JSON_DEPTH) -> str | None:
    """'nested 40 levels deep ...' when brackets outside strings nest deeper than `limit`."""
    depth = deepest = 0
    in_str = escaped = False
    for ch in text:
        if in_str:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limit:
                    return (f"nested more than {limit} levels deep (objects and lists inside "
                            f"each other); the documented file is 3 levels deep")
        elif ch in "]}":
            depth -= 1
    return None


def loads_bounded(text: str, source: str, error: type[ConfigError] | Any) -> Any:
    """json.loads with every way it can fail turned into one clear problem (`error(source,
    [problem])`): bad JSON, absurd nesting (which would otherwise be a RecursionError)."""
    deep = json_depth_problem(text)
    if deep:
        raise error(source, [deep])
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise error(
            source, [f"line {exc.lineno}, column {exc.colno}: not valid JSON: {exc.msg}"]
        ) from None
    except (RecursionError, ValueError) as exc:
        raise error(source, [f"not valid JSON: {exc}"]) from None


def read_text_bounded(p: Path, source: str, limit: int = MAX_CONFIG_BYTES) -> str:
    """A UTF-8 text file of at most `limit` bytes; ConfigError (one problem) otherwise."""
    try:
        size = p.stat().st_size
        if size > limit:
            raise ConfigError(source, [
                f"the file is {size:,} bytes; at most {limit:,} is read: is this the right "
                f"file?"])
        return p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            source, [f"no such file. Create it with: cp config_template.json {p}"]) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(source, [
            f"not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at position {exc.start}); "
            f"save the file as UTF-8"]) from None
    except OSError as exc:
        raise ConfigError(source, [f"cannot read it: {exc.strerror or exc}"]) from None


def load_config(path: str | Path | None, env: Mapping[str, str] | None = None) -> LoadedConfig:
    """Load `path` (None: defaults only). Raises ConfigError; warnings ride on the result."""
    if path is None:
        return LoadedConfig(parse_config("{}", "defaults", env), None)
    p = Path(path)
    text = read_text_bounded(p, str(p))
    cfg = parse_config(text, str(p), env)
    warnings: list[str] = []
    in_file = _file_has_password(text)
    mode = p.stat().st_mode
    if in_file and mode & (stat.S_IRWXG | stat.S_IRWXO):
        warnings.append(
            f"{p} holds email_password and other users can read it "
            f"(mode {stat.filemode(mode)}); fix with: chmod 600 {p} "
            f"(or move the password to the {PASSWORD_ENV} environment variable)"
        )
    warnings += _readable_notify_tokens(cfg.alerts, p, mode)
    return LoadedConfig(cfg, p, warnings)


def _readable_notify_tokens(alerts: AlertsConfig, path: Path, mode: int) -> list[str]:
    """Warnings for apprise URLs (tokens) in files that other users can read."""
    others = stat.S_IRWXG | stat.S_IRWXO
    out: list[str] = []
    in_config = [f"alerts.notify[{i}].url" for i, e in enumerate(alerts.notify) if e.url]
    if in_config and mode & others:
        out.append(
            f"{path} holds {', '.join(in_config)} (a token) and other users can read it "
            f"(mode {stat.filemode(mode)}); fix with: chmod 600 {path} (or move the URL to "
            "url_env or url_file)"
        )
    for i, entry in enumerate(alerts.notify):
        if entry.url_file:
            f = Path(entry.url_file).expanduser()
            try:
                f_mode = f.stat().st_mode
            except OSError:
                continue  # read at load a moment ago; gone now is the loader's news, not ours
            if f_mode & others:
                out.append(
                    f"alerts.notify[{i}].url_file: {f} holds a token and other users can read "
                    f"it (mode {stat.filemode(f_mode)}); fix with: chmod 600 {f}"
                )
    return out


def _file_has_password(text: str) -> bool:
    try:
        data = json.loads(strip_json_comments(text))
    except (ValueError, RecursionError):
        return False
    alerts = data.get("alerts") if isinstance(data, dict) else None
    return isinstance(alerts, dict) and bool(alerts.get("email_password"))
