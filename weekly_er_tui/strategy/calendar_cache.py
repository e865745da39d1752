"""The NYSE calendar kept on disk, so a process starts without exchange_calendars.

Building the XNYS schedule imports exchange_calendars and pandas and takes about half a second:
paid by every process that starts (the engine, each `attach`, each browser session of `weekly-er-tui
web`, each `check`). The schedule is a pure function of the installed exchange_calendars and the
window asked for, so it is built once and kept as a small JSON file named after both:

    <cache dir>/calendar-XNYS-<exchange_calendars version>-<first>-<last>-v1.json

The cache directory is `$WEEKLY_ER_TUI_CACHE_DIR`, else `$XDG_CACHE_HOME/weekly-er-tui`, else
`~/.cache/weekly-er-tui`. A new exchange_calendars (new holidays) names a new file. A file that
cannot be read, or whose content does not hold together (a date or a time that does not parse,
a close before its open, a session outside the window), is not trusted: the calendar is built
from exchange_calendars again, the file replaced and a warning logged. A cache that cannot be
written is logged and costs only the next start's half second.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Callable
from datetime import UTC, date, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from weekly_er_tui.strategy.calendars import MarketCalendar

log = logging.getLogger("weekly_er_tui.calendar")

FORMAT = 1


def cache_dir() -> Path:
    explicit = os.environ.get("WEEKLY_ER_TUI_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "weekly-er-tui"


def source_version() -> str:
    """The installed exchange_calendars' version, read from its metadata (no import)."""
    try:
        return metadata.version("exchange_calendars")
    except metadata.PackageNotFoundError:
        return "unknown"


def cache_file(code: str, first: date, last: date, directory: Path | None = None) -> Path:
    name = f"calendar-{code}-{source_version()}-{first.isoformat()}-{last.isoformat()}-v{FORMAT}"
    return (directory or cache_dir()) / f"{name}.json"


def cached_calendar(build: Callable[[], MarketCalendar], code: str, first: date, last: date,
                    directory: Path | None = None) -> MarketCalendar:
    """The calendar kept for (code, first, last) and the installed exchange_calendars, or
    `build()`'s, kept for next time."""
    path = cache_file(code, first, last, directory)
    kept = read(path, code, first, last)
    if kept is not None:
        return kept
    calendar = build()
    write(path, calendar)
    return calendar


def read(path: Path, code: str, first: date, last: date) -> MarketCalendar | None:
    from weekly_er_tui.strategy.calendars import MarketCalendar

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        log.warning("calendar cache %s not read (%s): building the calendar again", path, exc)
        return None
    try:
        data = json.loads(text)
        if (data["format"], data["code"], data["first"], data["last"]) != (
                FORMAT, code, first.isoformat(), last.isoformat()):
            raise ValueError("it was kept for another calendar")
        sessions = {}
        for day, opens, closes in data["sessions"]:
            d = date.fromisoformat(day)
            o = datetime.fromtimestamp(int(opens), UTC)
            c = datetime.fromtimestamp(int(closes), UTC)
            if not first <= d <= last or not o < c:
                raise ValueError(f"session {day} does not hold together")
            sessions[d] = (o, c)
        if not sessions:
            raise ValueError("it holds no session")
        return MarketCalendar(sessions, first, last, code)
    except (ValueError, TypeError, KeyError, OverflowError) as exc:
        log.warning("calendar cache %s not trusted (%s): building the calendar again from "
                    "exchange_calendars", path, exc)
        return None


def write(path: Path, calendar: MarketCalendar) -> None:
    data: dict[str, Any] = {
        "format": FORMAT, "code": calendar.name, "source": source_version(),
        "first": calendar.first.isoformat(), "last": calendar.last.isoformat(),
        "sessions": [[d.isoformat(), int(o.timestamp()), int(c.timestamp())]
                     for d, (o, c) in calendar.sessions.items()],
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(data, f, separators=(",", ":"))
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        log.warning("calendar cache %s not written (%s): the next start builds the calendar "
                    "again (about half a second)", path, exc)
