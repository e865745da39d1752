"""Durable records: logs/enhanced_trading.log, logs/trade_journal.csv, logs/events_log.csv.

Every fact that matters becomes one event: written to disk first, then published to subscribers
(the alert manager, the engine's state, the UI). The CSV files are append-only: a header is written
once, each row is flushed before the call returns (and fsynced for fills and CRITICAL events), and
an existing file is appended to, never truncated.
"""

from __future__ import annotations

import collections
import contextlib
import csv
import errno
import io
import json
import logging
import logging.handlers
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from weekly_er_tui.clock import ET, Clock, WallClock
from weekly_er_tui.listeners import notify
from weekly_er_tui.model import EventType, Severity
from weekly_er_tui.records import TroubleListener

log = logging.getLogger("weekly_er_tui")

TRADE_COLUMNS = (
    "timestamp", "order_ref", "order_id", "perm_id", "exec_id", "symbol", "side", "quantity",
    "price", "commission", "realized_pnl", "reason",
)
EVENT_COLUMNS = ("timestamp", "event_type", "severity", "message", "details")

# The phrases the enhancement guide tells traders to search the log for.
LOG_PHRASES: dict[EventType, str] = {
    EventType.DISCONNECTED: "Connection lost",
    EventType.EMERGENCY_CLOSE: "Emergency close",
    EventType.TRADING_PAUSED: "Trading paused",
    EventType.TRADING_HALTED: "Trading halted",
    EventType.TRADING_RESUMED: "Trading resumed",
    EventType.RECONNECTED: "Reconnected",
    EventType.CONNECTION_FAILED: "Connection failed",
    EventType.HEARTBEAT_FAILED: "Heartbeat failed",
    EventType.FRIDAY_CLOSE: "Friday close",
}

_LEVELS = {
    Severity.CRITICAL: logging.CRITICAL,
    Severity.HIGH: logging.ERROR,
    Severity.MEDIUM: logging.WARNING,
    Severity.LOW: logging.INFO,
    Severity.INFO: logging.INFO,
}


def log_phrase(event_type: EventType, severity: Severity) -> str:
    if event_type is EventType.SAFETY_VIOLATION and severity is Severity.CRITICAL:
        return "CRITICAL violations"
    return LOG_PHRASES.get(event_type, event_type.value)


@dataclass(frozen=True, slots=True)
class Event:
    timestamp: datetime
    event_type: EventType
    severity: Severity
    message: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Fill:
    """One execution as the trade journal records it."""

    exec_id: str
    symbol: str
    side: str  # BOT / SLD as IB reports, or BUY / SELL
    quantity: float
    price: float
    order_ref: str = ""
    order_id: int = 0
    perm_id: int = 0
    commission: float | None = None
    realized_pnl: float | None = None
    reason: str = ""
    timestamp: datetime | None = None


def _fmt_num(v: float | int | None) -> str:
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return repr(v) if isinstance(v, float) else str(v)


MAX_KEPT_ROWS = 200_000  # rows kept in memory while the disk refuses them (then the oldest go)

# (path, what happened): a journal deleted or replaced under the app, reopened.
ReopenListener = Callable[[Path, str], None]


def _encode_row(row: list[str]) -> bytes:
    buf = io.StringIO(newline="")
    csv.writer(buf).writerow(row)
    return buf.getvalue().encode("utf-8")


def repair_torn_tail(path: Path) -> str:
    """A process killed mid-write can leave a last row without its end: inside a quoted field
    (an odd count of quotes in the file: every complete quoted field has an even one) or just
    without its newline. End it, so the next row starts on a line of its own and every earlier
    row stays parseable. Returns what was repaired ('' when nothing)."""
    with open(path, "rb+") as fh:
        quotes = 0
        last = b""
        while chunk := fh.read(1 << 20):
            quotes += chunk.count(b'"')
            last = chunk[-1:]
        fix = b""
        if quotes % 2:
            fix = b'"\r\n'
        elif last not in (b"\n", b"\r", b""):
            fix = b"\r\n"
        if fix:
            fh.seek(0, os.SEEK_END)
            fh.write(fix)
            fh.flush()
            os.fsync(fh.fileno())
    if not fix:
        return ""
    return "a row torn inside a quoted field" if quotes % 2 else "a row without its line end"


class CsvAppender:
    """An append-only CSV file: header once, one row per call straight to the file (no buffer),
    fsynced when asked, never truncated.

    The disk may refuse a row (ENOSPC, EROFS, EIO): the row is then kept in memory, logged to the
    console, and written out, in order, at the next write or `retry()` once the disk takes it;
    `append` never raises for it. A file deleted or replaced under the app is noticed at the next
    write (its inode is checked) and reopened: a new file, with its header."""

    def __init__(self, path: Path, columns: tuple[str, ...],
                 on_trouble: TroubleListener | None = None,
                 on_reopen: ReopenListener | None = None) -> None:
        self.path = path
        self.columns = columns
        self._on_trouble = on_trouble
        self._on_reopen = on_reopen
        self._kept: collections.deque[bytes] = collections.deque()
        self._dropped = 0
        self._fd: int | None = None
        self._ident: tuple[int, int] | None = None
        self.error: str | None = None
        self.repaired = ""
        self._closed = False
        path.parent.mkdir(parents=True, exist_ok=True)
        self._open()

    @property
    def kept(self) -> int:
        """Rows kept in memory, not yet on disk."""
        return len(self._kept)

    def _open(self) -> None:
        new = not self.path.exists() or self.path.stat().st_size == 0
        if not new:
            self.repaired = repair_torn_tail(self.path)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            if new:
                self._write_all(fd, _encode_row(list(self.columns)))
                os.fsync(fd)
        except OSError:
            os.close(fd)
            raise
        st = os.fstat(fd)
        self._fd, self._ident = fd, (st.st_dev, st.st_ino)

    @staticmethod
    def _write_all(fd: int, data: bytes) -> None:
        """Write all of `data` or none of it: a short write is cut back off the file."""
        start = os.fstat(fd).st_size
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(fd, view):]
        except OSError:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, start)
            raise

    def _moved(self) -> str:
        """'deleted' or 'replaced' when the path no longer is the file we hold open."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return "deleted"
        return "" if (st.st_dev, st.st_ino) == self._ident else "replaced"

    def _reopen_if_moved(self) -> None:
        moved = self._moved() if self._fd is not None else "unavailable"
        if not moved:
            return
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None
        self._open()
        if moved != "unavailable" and self._on_reopen is not None:
            self._on_reopen(self.path, moved)

    def _write(self, data: bytes, fsync: bool) -> None:
        self._reopen_if_moved()
        assert self._fd is not None
        self._write_all(self._fd, data)
        if fsync:
            os.fsync(self._fd)

    def _flush_kept(self) -> bool:
        """Write the kept rows out, oldest first. True when none is left."""
        while self._kept:
            self._write(self._kept[0], fsync=False)
            self._kept.popleft()
        if self._dropped:
            log.critical("%s: %d row(s) were dropped from memory while the disk refused them "
                         "(more than %d kept); the console log has them", self.path,
                         self._dropped, MAX_KEPT_ROWS)
            self._dropped = 0
        assert self._fd is not None
        os.fsync(self._fd)
        return True

    def retry(self) -> bool:
        """Try to write the kept rows now. True when the file is healthy."""
        if self.error is None or self._closed:
            return self.error is None
        try:
            self._flush_kept()
        except OSError as exc:
            self.error = _describe(exc)
            return False
        self.error = None
        log.warning("%s: written again (the disk takes rows again)", self.path)
        if self._on_trouble is not None:
            self._on_trouble(str(self.path), None)
        return True

    def append(self, row: list[str], fsync: bool = False) -> bool:
        """Write one row. False when the disk refused it and it is kept in memory instead."""
        data = _encode_row(row)
        if self.error is not None:
            # Only retry() (the records watch, once a second) tries the disk again: a disk with
            # a few bytes free would otherwise flap between failing and written per row.
            self._keep(data)
            return False
        try:
            self._write(data, fsync)
        except OSError as exc:
            self._fail(exc)
            self._keep(data)
            return False
        return True

    def _keep(self, data: bytes) -> None:
        if len(self._kept) >= MAX_KEPT_ROWS:
            self._kept.popleft()
            self._dropped += 1
        self._kept.append(data)
        log.error("%s: not on disk (%s), kept in memory: %s", self.path.name, self.error,
                  data.decode("utf-8").rstrip())

    def _fail(self, exc: OSError) -> None:
        self.error = _describe(exc)
        log.critical("%s cannot be written: %s; rows are kept in memory and logged here until "
                     "the disk takes them", self.path, self.error)
        if self._on_trouble is not None:
            self._on_trouble(str(self.path), self.error)

    def close(self) -> None:
        """Never raises: a row the disk still refuses is already in the console log."""
        if self.error is not None:
            self.retry()
        if self._kept:
            log.critical("%s: %d row(s) could not be written before closing; they are in the "
                         "console log above", self.path, len(self._kept))
        self._closed = True
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.fsync(self._fd)
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None

    def rows(self) -> Iterator[dict[str, str]]:
        with open(self.path, newline="", encoding="utf-8", errors="replace") as fh:
            yield from csv.DictReader(fh)


def _describe(exc: OSError) -> str:
    """'No space left on device (errno 28, ENOSPC)'"""
    name = errno.errorcode.get(exc.errno or 0, "")
    text = exc.strerror or str(exc)
    return f"{text} (errno {exc.errno}, {name})" if name else text


Subscriber = Callable[[Event], None]


class Journal:
    """The three files under `<data_dir>/logs/` and the event bus that follows them."""

    def __init__(self, data_dir: Path | str, clock: Clock | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.logs_dir = self.data_dir / "logs"
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        self.clock: Clock = clock or WallClock()
        self._trouble: list[TroubleListener] = []
        self._reopened: list[tuple[Path, str]] = []
        self.trades = CsvAppender(self.logs_dir / "trade_journal.csv", TRADE_COLUMNS,
                                  self._tell_trouble, self._note_reopen)
        self.events = CsvAppender(self.logs_dir / "events_log.csv", EVENT_COLUMNS,
                                  self._tell_trouble, self._note_reopen)
        # Fills are journaled exactly once, keyed by execId, across reconnects and restarts.
        self._exec_ids: set[str] = {r["exec_id"] for r in self.trades.rows() if r.get("exec_id")}
        self._subscribers: list[Subscriber] = []
        for appender in (self.trades, self.events):
            if appender.repaired:
                self.event(EventType.SYSTEM, Severity.MEDIUM,
                           f"{appender.path.name} ended with {appender.repaired} (a write cut "
                           f"short); the row was closed so every later row is read on its own",
                           {"file": str(appender.path), "repaired": appender.repaired})

    # -- the disk ----------------------------------------------------------------------------
    def add_trouble_listener(self, fn: TroubleListener) -> None:
        """`fn(path, error)` when a journal file starts failing, `fn(path, None)` when written
        again."""
        self._trouble.append(fn)

    def _tell_trouble(self, where: str, error: str | None) -> None:
        notify(self._trouble, where, error, what="records trouble", logger=log)

    def _note_reopen(self, path: Path, what: str) -> None:
        # Journaled after the row that found it is written (event() checks), never from inside
        # the write itself.
        self._reopened.append((path, what))

    def _journal_reopens(self) -> None:
        while self._reopened:
            path, what = self._reopened.pop(0)
            self.event(EventType.SYSTEM, Severity.HIGH,
                       f"{path.name} was {what} while the app was running; a new {path.name} "
                       f"was started at {path} and every later record goes there (the earlier "
                       f"rows are in the {'deleted' if what == 'deleted' else 'replaced'} file "
                       f"only)", {"file": str(path), "what": what})

    @property
    def durable(self) -> bool:
        """True while every record reaches the disk (nothing kept in memory)."""
        return self.trades.error is None and self.events.error is None

    def retry_records(self) -> None:
        self.trades.retry()
        self.events.retry()

    def stamp(self, when: datetime | None = None) -> str:
        return (when or self.clock.now()).astimezone(ET).isoformat(timespec="milliseconds")

    def subscribe(self, fn: Subscriber) -> Callable[[], None]:
        """Call `fn` with every event after it is on disk. Returns an unsubscribe function."""
        self._subscribers.append(fn)
        return lambda: self._subscribers.remove(fn) if fn in self._subscribers else None

    def event(
        self,
        event_type: EventType,
        severity: Severity,
        message: str,
        details: dict[str, Any] | None = None,
    ) -> Event:
        """Record one event: events_log.csv, then enhanced_trading.log, then subscribers."""
        ev = Event(self.clock.now(), event_type, severity, message, dict(details or {}))
        self.events.append(
            [
                self.stamp(ev.timestamp), event_type.value, severity.value, message,
                json.dumps(ev.details, default=str, sort_keys=True),
            ],
            fsync=severity is Severity.CRITICAL,
        )
        log.log(_LEVELS[severity], "%s: %s", log_phrase(event_type, severity), message)
        self._publish(ev)
        if self._reopened:
            self._journal_reopens()
        return ev

    def _publish(self, ev: Event) -> None:
        # A broken subscriber must not lose the next one's event.
        notify(self._subscribers, ev, what=f"{ev.event_type} event", logger=log)

    def has_fill(self, exec_id: str) -> bool:
        return exec_id in self._exec_ids

    def record_fill(self, fill: Fill) -> bool:
        """Journal a fill before anything else happens with it. False if already journaled."""
        if fill.exec_id in self._exec_ids:
            return False
        self.trades.append(
            [
                self.stamp(fill.timestamp), fill.order_ref, str(fill.order_id), str(fill.perm_id),
                fill.exec_id, fill.symbol, fill.side, _fmt_num(fill.quantity),
                _fmt_num(fill.price), _fmt_num(fill.commission), _fmt_num(fill.realized_pnl),
                fill.reason,
            ],
            fsync=True,
        )
        self._exec_ids.add(fill.exec_id)
        log.info(
            "Fill journaled: %s %s %s @ %s (orderRef %s, execId %s, reason %s)",
            fill.side, _fmt_num(fill.quantity), fill.symbol, _fmt_num(fill.price),
            fill.order_ref or "-", fill.exec_id, fill.reason or "-",
        )
        return True

    def close(self) -> None:
        self.trades.close()
        self.events.close()


class _LogFile(logging.handlers.RotatingFileHandler):
    """enhanced_trading.log that says once (on stderr) when the disk refuses it, not a
    traceback per line; the console handler and the journal's memory keep the records."""

    _failing = False
    _error_now = False

    def emit(self, record: logging.LogRecord) -> None:
        self._error_now = False
        super().emit(record)
        if not self._error_now:
            self._failing = False

    def close(self) -> None:
        """Never raises: lines the disk refused at the end are on the console already."""
        stream = self.stream
        try:
            super().close()
        except OSError:
            # Close the file under the buffer, so nothing tries to flush it again later.
            raw = getattr(getattr(stream, "buffer", None), "raw", None)
            with contextlib.suppress(Exception):
                if raw is not None:
                    raw.close()

    def handleError(self, record: logging.LogRecord) -> None:
        self._error_now = True
        if not self._failing:
            self._failing = True
            exc = sys.exc_info()[1]
            with contextlib.suppress(Exception):
                sys.stderr.write(f"weekly-er-tui: cannot write the log file {self.baseFilename}: "
                                 f"{exc}; log lines go to the console only until it works\n")


class LogsDirError(ValueError):
    """The logs directory cannot be made or written: nothing may start without its records."""

    def __init__(self, logs: Path, exc: OSError) -> None:
        why = exc.strerror or str(exc)
        if isinstance(exc, (FileExistsError, NotADirectoryError)):
            fix = ("something that is not a directory is in the way; move it, or give another "
                   "--data-dir")
        else:
            fix = (f"make it writable (for example chmod u+w {logs}, or remount the disk "
                   f"read-write), or give another --data-dir")
        super().__init__(f"cannot write the logs directory {logs}: {why}; {fix}")


class _MarketTimeFormatter(logging.Formatter):
    """Stamps log lines with the engine's clock in America/New_York, not the wall clock."""

    def __init__(self, clock: Clock) -> None:
        super().__init__("%(asctime)s %(levelname)-8s %(name)s: %(message)s")
        self.clock = clock

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return self.clock.now().astimezone(ET).isoformat(timespec="milliseconds")


def setup_logging(
    data_dir: Path | str | None,
    level: str = "INFO",
    clock: Clock | None = None,
    console: TextIO | None = None,
) -> list[logging.Handler]:
    """Log to `<data_dir>/logs/enhanced_trading.log` (rotating) and, if given, a console stream.

    Returns the handlers it installed, so a caller (a test, the app) can remove them again.
    """
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        raise ValueError(
            f"--log-level must be DEBUG, INFO, WARNING, ERROR or CRITICAL (got {level!r})"
        )
    fmt = _MarketTimeFormatter(clock or WallClock())
    handlers: list[logging.Handler] = []
    if data_dir is not None:
        logs = Path(data_dir) / "logs"
        try:
            logs.mkdir(parents=True, exist_ok=True)
            fh = _LogFile(
                logs / "enhanced_trading.log", maxBytes=10 * 1024 * 1024, backupCount=10,
                encoding="utf-8",
            )
        except OSError as exc:
            raise LogsDirError(logs, exc) from None
        handlers.append(fh)
    if console is not None:
        handlers.append(logging.StreamHandler(console))
    root = logging.getLogger()
    for h in handlers:
        h.setFormatter(fmt)
        h.setLevel(numeric)
        root.addHandler(h)
    root.setLevel(numeric)
    # ib_async logs every message at DEBUG and every portfolio row at INFO ("updatePortfolio":
    # 97% of the log, 2.8 MB an hour); its warnings and errors are kept, the rest only on
    # --log-level DEBUG.
    logging.getLogger("ib_async").setLevel(
        logging.DEBUG if numeric <= logging.DEBUG else max(numeric, logging.WARNING))
    return handlers


def remove_handlers(handlers: list[logging.Handler]) -> None:
    root = logging.getLogger()
    for h in handlers:
        root.removeHandler(h)
        h.close()


def read_csv(path: Path | str) -> list[dict[str, str]]:
    """Every row of a journal CSV as dicts (for tests and reports)."""
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))
