"""Durable records: logs/enhanced_trading.log, logs/trade_journal.csv, logs/events_log.csv.

Every fact that matters becomes one event: written to disk first, then published to subscribers
(the alert manager, the engine's state, the UI). The CSV files are append-only: a header is written
once, each row is flushed before the call returns (and fsynced for fills and CRITICAL events), and
an existing file is appended to, never truncated.
"""

from __future__ import annotations

import csv
import json
import logging
import logging.handlers
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from weekly_er_tui.clock import ET, Clock, WallClock
from weekly_er_tui.model import EventType, Severity

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


class CsvAppender:
    """An append-only CSV file: header once, one flushed row per call, never truncated."""

    def __init__(self, path: Path, columns: tuple[str, ...]) -> None:
        self.path = path
        self.columns = columns
        path.parent.mkdir(parents=True, exist_ok=True)
        new = not path.exists() or path.stat().st_size == 0
        if not new:
            self._repair_torn_tail()
        # newline="" so csv controls line endings; "a" so a restart never truncates.
        self._fh: TextIO = open(path, "a", newline="", encoding="utf-8")
        self._writer = csv.writer(self._fh)
        if new:
            self._writer.writerow(columns)
            self._sync(fsync=True)

    def _repair_torn_tail(self) -> None:
        """A process killed mid-write can leave a last line without its newline; end it, so the
        next row starts on a line of its own and every earlier row stays parseable."""
        with open(self.path, "rb+") as fh:
            fh.seek(-1, os.SEEK_END)
            if fh.read(1) not in (b"\n", b"\r"):
                fh.write(b"\r\n")
                fh.flush()
                os.fsync(fh.fileno())

    def _sync(self, fsync: bool) -> None:
        self._fh.flush()
        if fsync:
            os.fsync(self._fh.fileno())

    def append(self, row: list[str], fsync: bool = False) -> None:
        self._writer.writerow(row)
        self._sync(fsync)

    def close(self) -> None:
        if not self._fh.closed:
            self._sync(fsync=True)
            self._fh.close()

    def rows(self) -> Iterator[dict[str, str]]:
        with open(self.path, newline="", encoding="utf-8") as fh:
            yield from csv.DictReader(fh)


Subscriber = Callable[[Event], None]


class Journal:
    """The three files under `<data_dir>/logs/` and the event bus that follows them."""

    def __init__(self, data_dir: Path | str, clock: Clock | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.logs_dir = self.data_dir / "logs"
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        self.clock: Clock = clock or WallClock()
        self.trades = CsvAppender(self.logs_dir / "trade_journal.csv", TRADE_COLUMNS)
        self.events = CsvAppender(self.logs_dir / "events_log.csv", EVENT_COLUMNS)
        # Fills are journaled exactly once, keyed by execId, across reconnects and restarts.
        self._exec_ids: set[str] = {r["exec_id"] for r in self.trades.rows() if r.get("exec_id")}
        self._subscribers: list[Subscriber] = []

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
        return ev

    def _publish(self, ev: Event) -> None:
        for fn in list(self._subscribers):
            try:
                fn(ev)
            except Exception:  # a broken subscriber must not lose the next one's event
                log.exception("event subscriber %r failed on %s", fn, ev.event_type)

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
        logs.mkdir(parents=True, exist_ok=True)
        fh = logging.handlers.RotatingFileHandler(
            logs / "enhanced_trading.log", maxBytes=10 * 1024 * 1024, backupCount=10,
            encoding="utf-8",
        )
        handlers.append(fh)
    if console is not None:
        handlers.append(logging.StreamHandler(console))
    root = logging.getLogger()
    for h in handlers:
        h.setFormatter(fmt)
        h.setLevel(numeric)
        root.addHandler(h)
    root.setLevel(numeric)
    # ib_async logs every message at DEBUG; keep its chatter out unless asked for.
    if numeric > logging.DEBUG:
        logging.getLogger("ib_async").setLevel(logging.INFO)
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
