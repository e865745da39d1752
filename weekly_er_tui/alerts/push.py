"""Push and SMS services (Telegram, Pushover, ntfy, Twilio, ...) through apprise, by URL.

apprise is synchronous underneath for most services, so each channel sends from a thread of its
own: the event loop (and trading) never waits for a phone, and one slow service never holds up
another or the engine's other threads.

The URL holds the service's token, and apprise (and urllib3 under it) write URLs into their log
lines: "Unparseable Telegram URL tgram://<token>", "POST /bot<token>/sendMessage". So their log
lines do not reach the product's handlers as they are: they are scrubbed of every URL this module
was given, then logged under weekly_er_tui.alerts.apprise. Every error text is scrubbed too.
"""

from __future__ import annotations

import asyncio
import base64
import contextvars
import ipaddress
import logging
import re
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, quote, unquote

import apprise

from weekly_er_tui.alerts.channels import AlertConfigError, Channel, DeliveryError, scrub
from weekly_er_tui.alerts.templates import SMS_LIMIT, Templates
from weekly_er_tui.config import APPRISE_WIKI, URL_SCHEME, AlertsConfig, NotifyConfig
from weekly_er_tui.model import Severity

# A push body short enough for every service we point at (Pushover takes 1024) and to read on a
# lock screen; email carries the full text.
PUSH_LIMIT = 1000
SMS_RATE_LIMIT, PUSH_RATE_LIMIT = 10, 20

# scheme -> (channel name, service, the URL's form). Others: named after their scheme.
SERVICES: dict[str, tuple[str, str, str]] = {
    "tgram": ("telegram", "Telegram", "tgram://bottoken/ChatID"),
    "pover": ("pushover", "Pushover", "pover://user_key@app_token"),
    "ntfy": ("ntfy", "ntfy", "ntfy://user:password@host/topic"),
    "ntfys": ("ntfy", "ntfy", "ntfys://topic (ntfy.sh) or ntfys://user:password@host/topic"),
    "twilio": ("twilio", "Twilio SMS", "twilio://AccountSID:AuthToken@FromPhone/ToPhone"),
    "discord": ("discord", "Discord", "discord://webhook_id/webhook_token"),
    "slack": ("slack", "Slack", "slack://TokenA/TokenB/TokenC/#channel"),
    "signal": ("signal", "Signal", "signal://host:port/FromPhone/ToPhone"),
    "gotify": ("gotify", "Gotify", "gotify://host/token"),
    "gotifys": ("gotify", "Gotify", "gotifys://host/token"),
    "json": ("json", "JSON", "json://host:port/path"),
    "jsons": ("json", "JSON", "jsons://host:port/path"),
    "form": ("form", "Form", "form://host:port/path"),
    "forms": ("form", "Form", "forms://host:port/path"),
}
EXAMPLES = ("tgram:// (Telegram), pover:// (Pushover), ntfys:// (ntfy), twilio:// (Twilio SMS), "
            "discord://, slack://")
WIKI = APPRISE_WIKI
_SCHEME = URL_SCHEME
_CAPTURE_MAX = 50

log = logging.getLogger("weekly_er_tui.alerts.push")
_library_log = logging.getLogger("weekly_er_tui.alerts.apprise")


# --- secrets and the libraries' log lines ---------------------------------------------------

_secrets: frozenset[str] = frozenset()
# The lines apprise logs while one channel sends (set in that channel's own thread).
_capture: contextvars.ContextVar[list[tuple[int, str]] | None] = contextvars.ContextVar(
    "apprise_capture", default=None
)


def _is_address(piece: str) -> bool:
    """A host name or IP address: where to, not a secret (a token has no dotted labels)."""
    try:
        ipaddress.ip_address(piece.strip("[]"))
        return True
    except ValueError:
        pass
    return piece.lower() == "localhost" or bool(
        re.fullmatch(r"(?:[a-z0-9-]+\.)+[a-z]{2,}", piece, re.IGNORECASE)
    )


def _looks_secret(piece: str) -> bool:
    """A token, key or phone number: long, or with digits or mixed case. Host names and plain
    words ("alerts", "hook", "weekly-er") stay readable in messages."""
    if len(piece) < 6 or _is_address(piece):
        return False
    return (len(piece) >= 12 or any(c.isdigit() for c in piece)
            or (piece.lower() != piece and piece.upper() != piece))


def url_secrets(url: str) -> tuple[str, ...]:
    """What of `url` must never be printed: all of it, its password, each other part that looks
    like a token, key or phone (as written, %-decoded and %-encoded), and the Basic-auth header
    its login becomes."""
    _, _, rest = url.partition("://")
    where, _, query = rest.partition("?")
    netloc = where.split("/", 1)[0]
    userinfo = netloc.rpartition("@")[0]
    pieces = re.split(r"[/:@#]+", where)
    pieces += [v for _, v in parse_qsl(query, keep_blank_values=False)]
    forms = {url, rest, where}
    secret_pieces = [p for p in pieces if _looks_secret(p)]
    if userinfo:
        user, _, password = userinfo.partition(":")
        for login in {f"{user}:{password}", f"{unquote(user)}:{unquote(password)}"}:
            forms.add(base64.b64encode(login.encode()).decode("ascii"))
        if len(password) >= 4:  # a password is a secret however plain it looks
            secret_pieces.append(password)
    for piece in secret_pieces:
        forms |= {piece, unquote(piece), quote(piece, safe=""), quote(unquote(piece), safe="")}
    return tuple(f for f in forms if len(f) >= 4)


def _remember(url: str) -> tuple[str, ...]:
    global _secrets
    forms = url_secrets(url)
    if not _secrets.issuperset(forms):
        _secrets = _secrets | set(forms)
    return forms


def scrub_all(text: str) -> str:
    """`text` without any secret of any URL this process was given."""
    return scrub(text, _secrets)


class _ScrubbedLibraryLog(logging.Handler):
    """apprise's and urllib3's log lines, scrubbed, under weekly_er_tui.alerts.apprise (their
    warnings as INFO: the product's own line says what failed, and loudly)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = scrub_all(record.getMessage())
        except Exception:
            text = f"(a {record.name} log line that could not be read)"
        lines = _capture.get()
        if lines is not None and len(lines) < _CAPTURE_MAX:
            lines.append((record.levelno, text))
        level = logging.INFO if record.levelno >= logging.WARNING else logging.DEBUG
        if _library_log.isEnabledFor(level):
            _library_log.log(level, "%s: %s", record.name, text)


def _route_library_logs() -> None:
    for name in ("apprise", "urllib3"):
        logger = logging.getLogger(name)
        if not any(isinstance(h, _ScrubbedLibraryLog) for h in logger.handlers):
            logger.addHandler(_ScrubbedLibraryLog())
        logger.propagate = False
    # DEBUG: its lines (the server's reply among them) are what a failure is explained with.
    logging.getLogger("apprise").setLevel(logging.DEBUG)


_route_library_logs()


@contextmanager
def _capturing() -> Iterator[list[tuple[int, str]]]:
    lines: list[tuple[int, str]] = []
    token = _capture.set(lines)
    try:
        yield lines
    finally:
        _capture.reset(token)


# --- understanding a URL --------------------------------------------------------------------


def _asset() -> apprise.AppriseAsset:
    # async_mode off: apprise sends in the calling thread (the channel's own), not a pool of its
    # own; storage in memory: apprise writes nothing about the service (or its token) to disk.
    kwargs: dict[str, Any] = {"async_mode": False}
    if hasattr(apprise.AppriseAsset, "storage_mode"):
        kwargs["storage_mode"] = "memory"
    return apprise.AppriseAsset(**kwargs)


def _plugin_class(scheme: str) -> Any:
    from apprise.manager_plugins import NotificationManager

    manager = NotificationManager()  # type: ignore[no-untyped-call]  # a shared singleton
    return manager[scheme] if scheme in manager else None


def _service(scheme: str, plugin: Any = None) -> tuple[str, str, str]:
    """(default channel name, service, the URL's form) for a scheme."""
    if scheme in SERVICES:
        return SERVICES[scheme]
    service = str(getattr(plugin, "service_name", "") or scheme)
    setup = str(getattr(plugin, "setup_url", "") or WIKI)
    return scheme, service, f"the one at {setup}"


def _first_problem(lines: list[tuple[int, str]]) -> str:
    said = [text for level, text in lines if level >= logging.WARNING]
    return said[0] if said else "no reason given"


def _instantiate(url: str) -> tuple[Any, str | None]:
    """apprise's service for `url`, or None and what is wrong (scrubbed, with the fix)."""
    _remember(url)
    m = _SCHEME.match(url)
    if m is None:
        return None, (
            "not an apprise URL (service://...), e.g. tgram://bottoken/ChatID for Telegram; "
            f"see {WIKI} for each service's URL"
        )
    scheme = m[1].lower()
    plugin = _plugin_class(scheme)
    if plugin is None:
        return None, (
            f"'{scheme}://' is no service apprise knows; use one of {EXAMPLES} "
            f"(every service and its URL: {WIKI})"
        )
    _, service, form = _service(scheme, plugin)
    with _capturing() as lines:
        try:
            instance = apprise.Apprise.instantiate(url.strip(), asset=_asset(),
                                                   suppress_exceptions=True)
        except Exception as exc:  # suppress_exceptions notwithstanding: a plugin's own bug
            lines.append((logging.ERROR, scrub_all(f"{type(exc).__name__}: {exc}")))
            instance = None
    if instance is None:
        setup = getattr(plugin, "setup_url", None) or WIKI
        return None, (
            f"apprise cannot read this {scheme}:// ({service}) URL ({_first_problem(lines)}); "
            f"its form is {form}, see {setup}"
        )
    return instance, None


# --- one channel ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PushMessage:
    title: str
    body: str
    notify_type: str  # apprise's: info, warning, failure


_NOTIFY_TYPE: Mapping[Severity, str] = {
    Severity.CRITICAL: "failure", Severity.HIGH: "warning", Severity.MEDIUM: "warning",
    Severity.LOW: "info", Severity.INFO: "info",
}


class NotifyTransport:
    """One apprise service: composes the text that fits it and sends it from its own thread."""

    def __init__(self, entry: NotifyConfig, index: int, name: str) -> None:
        self.field = f"alerts.notify[{index}].{entry.source}"
        origin = entry.url_env or entry.url_file
        if entry.url_env:
            self.field += f" ({entry.url_env})"
        url = entry.secret_url()
        instance, problem = _instantiate(url)
        if instance is None:
            where = f"the URL in {origin}: " if origin else ""
            raise AlertConfigError([f"alerts.notify[{index}].{entry.source}: {where}{problem}"])
        self._secrets = url_secrets(url)
        self.name = name
        scheme = _SCHEME.match(url)
        self.service = _service(scheme[1].lower() if scheme else "", instance)[1]
        self.title_limit = int(getattr(instance, "title_maxlen", 0) or 0)
        self.body_limit = int(getattr(instance, "body_maxlen", 0) or 0) or PUSH_LIMIT
        # A service that takes 160 characters or fewer is a text message: one plain line.
        self.is_sms = self.body_limit <= SMS_LIMIT
        default_rate = SMS_RATE_LIMIT if self.is_sms else PUSH_RATE_LIMIT
        self.channel = Channel(
            name, "notify", (), entry.min_priority, entry.rate_limit_per_hour or default_rate,
            f"alerts.notify[{index}].rate_limit_per_hour", f"alerts.notify[{index}].min_priority",
        )
        self._apprise = apprise.Apprise(asset=_asset())
        self._apprise.add(instance)
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"alerts {name}")

    @property
    def secrets(self) -> tuple[str, ...]:
        return self._secrets

    def scrub(self, text: str) -> str:
        return scrub(text, self._secrets)

    def compose(self, templates: Templates, context: Mapping[str, str]) -> PushMessage:
        """The alert as this service shows it: one SMS line, or a title and a short body."""
        kind = _NOTIFY_TYPE.get(Severity(context["priority"]), "info")
        if self.is_sms:
            return PushMessage("", templates.sms_for(context, min(SMS_LIMIT, self.body_limit)),
                               kind)
        title, body = templates.push_for(
            context, title_limit=self.title_limit, body_limit=min(PUSH_LIMIT, self.body_limit)
        )
        return PushMessage(title, body, kind)

    async def send(self, message: PushMessage) -> None:
        """Deliver `message`; raises DeliveryError (scrubbed, with the fix), nothing else."""
        loop = asyncio.get_running_loop()
        ok, lines = await loop.run_in_executor(self._thread, self._send_in_thread, message)
        if not ok:
            raise self._explain(lines)

    def _send_in_thread(self, message: PushMessage) -> tuple[bool, list[tuple[int, str]]]:
        with _capturing() as lines:
            try:
                # body_format text: apprise escapes it for services that read HTML or
                # Markdown (Telegram refuses a raw "&" or "<").
                ok = bool(self._apprise.notify(body=message.body, title=message.title,
                                               notify_type=message.notify_type,
                                               body_format="text"))
            except Exception as exc:  # a plugin's bug is a failed message, not a crash
                lines.append((logging.ERROR, self.scrub(scrub_all(f"{type(exc).__name__}: "
                                                                  f"{exc}"))))
                ok = False
        return ok, [(level, self.scrub(text)) for level, text in lines]

    def _explain(self, lines: list[tuple[int, str]]) -> DeliveryError:
        said = " ".join(text for level, text in lines if level >= logging.WARNING)
        reply = next((text for _, text in lines if text.startswith("Response Details")), "")
        reply = " ".join(reply.removeprefix("Response Details:").split())
        code = re.search(r"error=(\d{3})\b", said)
        if code:
            status = int(code[1])
            try:
                reason = HTTPStatus(status).phrase
            except ValueError:
                reason = "(no standard reason)"
            transient = status >= 500 or status in (408, 425, 429)
            if transient:
                hint = "the service is busy or failing; try again later"
            elif status in (401, 403):
                hint = f"check the token or login in {self.field}"
            elif status == 404:
                hint = f"check the chat, topic, user or path in {self.field}"
            else:
                hint = f"check {self.field}"
            text = f"{status} {reason} from {self.service}: {hint}"
            if reply:
                text += f"; the service answered: {_shorten(reply, 300)}"
            return DeliveryError(text, transient=transient)
        if re.search(r"connection error|socket exception|timed out|timeout", said + " " +
                     " ".join(t for _, t in lines), re.IGNORECASE):
            why = _socket_reason(" ".join(t for _, t in lines))
            return DeliveryError(
                f"cannot reach {self.service} ({why}); check the network and the address in "
                f"{self.field}",
                transient=True,
            )
        # No reason apprise could give: retried (bounded by alerts.retry_max_attempts).
        return DeliveryError(
            f"{self.service} did not take the message ({_shorten(said or 'no reason given', 300)})"
            f"; check {self.field}",
            transient=True,
        )


def _socket_reason(text: str) -> str:
    for pattern in (r"\[Errno -?\d+\] ([^'\")\]]+)", r"(timed out)", r"(Name or service not known)",
                    r"(Connection refused)", r"(Connection reset[^'\")]*)"):
        m = re.search(pattern, text, re.IGNORECASE)
        if m:
            return m[1].strip()
    return "no connection"


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def notify_transports(config: AlertsConfig) -> tuple[NotifyTransport, ...]:
    """One transport per `alerts.notify` entry, named; raises AlertConfigError listing every
    entry apprise cannot use."""
    taken = {e.name.lower() for e in config.notify if e.name}
    names: list[str] = []
    for entry in config.notify:
        if entry.name:
            names.append(entry.name)
            continue
        m = _SCHEME.match(entry.secret_url())
        base = _service(m[1].lower())[0] if m else "notify"
        name, n = base, 1
        while name.lower() in taken:
            n += 1
            name = f"{base}-{n}"
        taken.add(name.lower())
        names.append(name)
    out: list[NotifyTransport] = []
    problems: list[str] = []
    for i, (entry, name) in enumerate(zip(config.notify, names, strict=True)):
        try:
            out.append(NotifyTransport(entry, i, name))
        except AlertConfigError as exc:
            problems += exc.problems
    if problems:
        raise AlertConfigError(problems)
    return tuple(out)
