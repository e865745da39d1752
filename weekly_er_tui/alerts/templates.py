"""Subject, body and SMS text of an alert: built-in formats a trader can replace with files.

Templates use Python's `{name}` placeholders (write `{{` and `}}` for literal braces). Only the
names in PLACEHOLDERS exist; a template file naming any other, or reaching into a value with `.` or
`[`, is a config error that names the field and the file.
"""

from __future__ import annotations

import re
import string
import textwrap
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from weekly_er_tui.alerts.kinds import AlertKind
from weekly_er_tui.clock import ET
from weekly_er_tui.config import AlertsConfig
from weekly_er_tui.model import Alert, Severity

SMS_LIMIT = 160
SUBJECT_LIMIT = 250

DEFAULT_SUBJECT = "[Weekly ER]{tag}[{priority}] {title}{repeated_short}"

DEFAULT_BODY = """\
{title}

{mode}
Priority: {priority}
Time:     {time_et} ({time_utc})
Host:     {host}
Account:  {account}

{repeated}

What triggered it:
{what_happened}

Facts:
{facts}

What the system did:
{action}

Current positions and P&L:
{positions}

What you should do next:
{next_steps}

--
Sent by weekly-er-tui on {host}. Alert key: {key}
"""

# A push notification: the title on the lock screen, then a few lines that say what happened,
# what the system did and what to do (the positions last: they are cut first when it is long).
DEFAULT_PUSH_TITLE = "Weekly ER {tag_word}{priority}: {title}{repeated_short}"
DEFAULT_PUSH_BODY = """\
{what_happened}
{time_et_short} ET, {host}, account {account}
{repeated}
Facts: {facts}
Did: {action}
Do: {next_steps}
Positions: {positions}"""

# No square brackets: on SMS they are GSM-7 extension characters and cost two each.
DEFAULT_SMS = "Weekly ER {tag_word}{priority}: {title}{repeated_short} ({time_et_short} ET)"

PLACEHOLDERS: dict[str, str] = {
    "title": "the alert's one-line title",
    "priority": "CRITICAL, HIGH, MEDIUM, LOW or INFO",
    "key": "what the alert is about, e.g. limit_breach:daily_loss",
    "kind": "the alert kind, e.g. emergency_stop",
    "category": "connection, safety, trading or system",
    "time_et": "when it happened, America/New_York, e.g. 2026-11-23 14:02:05 EST",
    "time_utc": "the same instant in UTC",
    "time_et_short": "HH:MM in America/New_York",
    "host": "the machine weekly-er-tui runs on",
    "account": "the IB account",
    "what_happened": "what triggered the alert (its body)",
    "facts": "the facts behind it, one 'name: value' per line",
    "action": "what the system did about it",
    "positions": "current positions and P&L",
    "next_steps": "what the trader should do next",
    "repeated": "'Repeated 12 times since 14:02 ET ...' when repeats were folded, else empty",
    "repeated_short": "' (x12 since 14:02)' when repeats were folded, else empty",
    "tag": "'[DEMO]' when the alert comes from the demo (a simulation), else empty",
    "tag_word": "'DEMO ' when the alert comes from the demo, else empty",
    "mode": "'Mode:     DEMO: a simulation ...' when the alert comes from the demo, else empty",
}

_RESERVED_FACTS = {"action", "next_steps"}
_INDENT = "  "
_WIDTH = 78


class TemplateError(ValueError):
    """A template file that cannot be used; `problems` names each field and file."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


class _StrictFormatter(string.Formatter):
    def get_field(self, field_name: str, args: Any, kwargs: Any) -> tuple[Any, str]:
        return kwargs[field_name], field_name


_FORMATTER = _StrictFormatter()


def check_template(text: str) -> list[str]:
    """Problems with a template's placeholders (empty when it is usable)."""
    problems: list[str] = []
    try:
        fields = [f for _, f, _, _ in _FORMATTER.parse(text) if f is not None]
    except ValueError as exc:
        return [f"not a valid template: {exc} (write {{{{ and }}}} for literal braces)"]
    for name in fields:
        if name == "" or name.isdigit():
            problems.append("every placeholder needs a name, e.g. {title}")
        elif any(c in name for c in ".["):
            problems.append(f"{{{name}}}: placeholders cannot use '.' or '['")
        elif name not in PLACEHOLDERS:
            problems.append(f"unknown placeholder {{{name}}}; known: {', '.join(PLACEHOLDERS)}")
    if not problems:
        try:
            _FORMATTER.vformat(text, (), _SAMPLE)
        except (ValueError, KeyError, IndexError) as exc:
            problems.append(f"cannot be rendered: {exc}")
    return problems


def render(template: str, context: Mapping[str, str]) -> str:
    return _FORMATTER.vformat(template, (), context)


@dataclass(frozen=True, slots=True)
class Templates:
    subject: str = DEFAULT_SUBJECT
    body: str = DEFAULT_BODY
    sms: str = DEFAULT_SMS

    @classmethod
    def from_config(cls, config: AlertsConfig) -> Templates:
        """The built-in templates, replaced by the files the config names. Raises TemplateError."""
        problems: list[str] = []
        texts: dict[str, str] = {}
        for attr, field in (
            ("subject", "subject_template"), ("body", "body_template"), ("sms", "sms_template"),
        ):
            path = getattr(config, field)
            if not path:
                continue
            p = Path(path).expanduser()
            try:
                text = p.read_text(encoding="utf-8")
            except OSError as exc:
                problems.append(f"alerts.{field}: cannot read {p}: {exc.strerror or exc}")
                continue
            if attr != "body":
                text = text.strip()
            problems += [f"alerts.{field} ({p}): {msg}" for msg in check_template(text)]
            texts[attr] = text
        if problems:
            raise TemplateError(problems)
        return cls(**texts)

    def subject_for(self, context: Mapping[str, str]) -> str:
        # One line: a newline in a header would start a header of its own.
        text = " ".join(render(self.subject, context).split())
        return text if len(text) <= SUBJECT_LIMIT else text[: SUBJECT_LIMIT - 3] + "..."

    def body_for(self, context: Mapping[str, str]) -> str:
        text = render(self.body, context)
        # An empty placeholder (no repeats) leaves blank lines; keep paragraphs one line apart.
        return re.sub(r"\n[ \t]*\n(?:[ \t]*\n)+", "\n\n", text).strip() + "\n"

    def sms_for(self, context: Mapping[str, str], limit: int = SMS_LIMIT) -> str:
        return fit_sms(self.sms, context, limit)

    def push_for(
        self, context: Mapping[str, str], *, title_limit: int, body_limit: int
    ) -> tuple[str, str]:
        """Title and body of a push notification: each value on one line (a phone wraps it),
        the body cut at `body_limit`, the title at `title_limit` (0: the service has none, so it
        goes first in the body, and apprise puts it there)."""
        flat = {k: _flat(k, v) for k, v in context.items()}
        title = " ".join(render(DEFAULT_PUSH_TITLE, flat).split())
        limit = title_limit or SUBJECT_LIMIT
        if len(title) > limit:
            title = title[: limit - 3].rstrip() + "..."
        if not title_limit:
            body_limit -= len(title) + 2  # apprise joins them with a line break
        lines = [line for line in render(DEFAULT_PUSH_BODY, flat).splitlines()
                 if line.strip() and line not in _EMPTY_PUSH_LINES]
        body = "\n".join(lines)
        if len(body) > body_limit:
            body = body[: max(0, body_limit - 3)].rstrip() + "..."
        return title, body


# --- the context a template is rendered with ------------------------------------------------


def _number(v: float) -> str:
    if v.is_integer() and abs(v) < 1e15:
        return f"{int(v):,}"
    if abs(v) >= 1000:
        return f"{v:,.2f}"
    return f"{v:.4g}"


def format_fact(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return _number(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, (list, tuple, set, frozenset)):
        return ", ".join(format_fact(v) for v in value) or "(none)"
    if isinstance(value, datetime):
        return value.astimezone(ET).strftime("%Y-%m-%d %H:%M:%S %Z")
    return str(value)


def _paragraph(text: str) -> str:
    """Indented and wrapped, keeping the writer's own line breaks."""
    lines = []
    for line in text.strip().splitlines() or [""]:
        if not line.strip():
            lines.append("")
            continue
        lines.append(
            textwrap.fill(
                line.strip(), _WIDTH, initial_indent=_INDENT, subsequent_indent=_INDENT,
                break_long_words=False, break_on_hyphens=False,
            )
        )
    return "\n".join(lines)


def _block(text: str) -> str:
    """Indented, not wrapped (tables of positions keep their columns)."""
    return "\n".join(_INDENT + line if line.strip() else "" for line in text.splitlines())


def build_context(
    alert: Alert,
    priority: Severity,
    kind: AlertKind,
    *,
    when: datetime,
    host: str,
    account: str,
    positions: str,
    repeated: tuple[int, datetime] | None = None,
    tag: str = "",
) -> dict[str, str]:
    """Every placeholder's value for one alert. `tag` ("DEMO") marks an alert that is not
    about real money."""
    et = when.astimezone(ET)
    facts = {k: v for k, v in alert.facts.items() if k not in _RESERVED_FACTS}
    fact_lines = "\n".join(f"{_INDENT}{k.replace('_', ' ')}: {format_fact(v)}"
                           for k, v in facts.items())
    action = str(alert.facts.get("action") or kind.action)
    next_steps = str(alert.facts.get("next_steps") or kind.next_steps)
    repeated_long = repeated_short = ""
    if repeated is not None:
        count, since = repeated
        since_et = since.astimezone(ET).strftime("%H:%M")
        times = "once" if count == 1 else f"{count} times"
        repeated_long = (
            f"Repeated {times} since {since_et} ET; those repeats were not sent one by one "
            "and this message stands for them."
        )
        repeated_short = f" (x{count} since {since_et})"
    return {
        "title": alert.title,
        "priority": priority.value,
        "key": alert.key,
        "kind": kind.name,
        "category": kind.category if kind.name != "unknown" else alert.kind,
        "time_et": et.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "time_utc": when.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "time_et_short": et.strftime("%H:%M"),
        "host": host,
        "account": account or "(not known yet)",
        "what_happened": _paragraph(alert.body or alert.title),
        "facts": fact_lines or f"{_INDENT}(none)",
        "action": _paragraph(action),
        "positions": _block(positions) if positions.strip() else f"{_INDENT}(not available)",
        "next_steps": _paragraph(next_steps),
        "repeated": repeated_long,
        "repeated_short": repeated_short,
        "tag": f"[{tag}]" if tag else "",
        "tag_word": f"{tag} " if tag else "",
        "mode": (f"Mode:     {tag}: a simulation (simulated gateway, clock and account); "
                 "nothing real was traded" if tag else ""),
    }


_SAMPLE: dict[str, str] = {name: "x" for name in PLACEHOLDERS}


_EMPTY_PUSH_LINES = {"Facts: (none)", "Positions: (not available)", "Positions: (none)"}


def _flat(name: str, value: str) -> str:
    """A placeholder's value on one line: lists (facts, positions) joined with '; '."""
    lines = [line.strip() for line in value.splitlines() if line.strip()]
    if name in ("facts", "positions"):
        return "; ".join(lines)
    return " ".join(lines) if "\n" in value or value.startswith(_INDENT) else value


# --- SMS ------------------------------------------------------------------------------------

# Characters a carrier would otherwise turn into UCS-2 (70 characters a message) or drop.
_SMS_TRANSLATE = str.maketrans({
    "\u2013": "-", "\u2014": "-", "\u2212": "-", "\u2018": "'", "\u2019": "'", "\u201c": '"',
    "\u201d": '"', "\u2026": "...", "`": "'", "\u00a0": " ",
})
# GSM 03.38 extension characters: each costs two of the 160.
_GSM_EXTENDED = set("^{}\\[~]|")


def sms_safe(text: str) -> str:
    """Plain ASCII on one line (GSM-7 compatible), so a gateway keeps the 160-character form."""
    text = text.translate(_SMS_TRANSLATE)
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return " ".join(text.split())


def sms_length(text: str) -> int:
    """Length as an SMS counts it (extension characters count twice)."""
    return len(text) + sum(1 for c in text if c in _GSM_EXTENDED)


def _truncate(text: str, limit: int) -> str:
    if sms_length(text) <= limit:
        return text
    while text and sms_length(text) + 3 > limit:
        text = text[:-1]
    return text.rstrip() + "..."


def fit_sms(template: str, context: Mapping[str, str], limit: int = SMS_LIMIT) -> str:
    """The SMS text within `limit`: the title is shortened first, so time and priority stay."""
    ctx = {k: sms_safe(v) for k, v in context.items()}
    text = sms_safe(render(template, ctx))
    if sms_length(text) <= limit:
        return text
    title = ctx.get("title", "")
    over = sms_length(text) - limit
    if title and over < sms_length(title):
        short = _truncate(title, max(3, sms_length(title) - over))
        text = sms_safe(render(template, {**ctx, "title": short}))
    return _truncate(text, limit)
