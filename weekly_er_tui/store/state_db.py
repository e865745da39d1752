"""The state database itself: its schema, opening it (checked; a database it cannot read is
moved aside with a clear error, never silently replaced), and the connection that carries on in
memory while the disk refuses writes."""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

log = logging.getLogger("weekly_er_tui.store")

SCHEMA_VERSION = 1
RETRY_SECONDS = 1.0  # real seconds between tries to write a memory copy back to disk

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS trading_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    state TEXT NOT NULL,
    reason TEXT NOT NULL,
    changed_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS tracked_positions (
    symbol TEXT PRIMARY KEY,
    quantity REAL NOT NULL,
    order_ref TEXT NOT NULL,
    opened_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS order_intents (
    order_ref TEXT PRIMARY KEY,
    symbol TEXT NOT NULL,
    side TEXT NOT NULL,
    quantity REAL NOT NULL,
    order_type TEXT NOT NULL,
    limit_price REAL,
    reason TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    order_id INTEGER,
    perm_id INTEGER,
    filled REAL NOT NULL DEFAULT 0,
    details TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS executions (
    exec_id TEXT PRIMARY KEY,
    base_id TEXT NOT NULL,
    order_ref TEXT NOT NULL,
    symbol TEXT NOT NULL,
    signed_qty REAL NOT NULL,
    price REAL NOT NULL,
    at TEXT NOT NULL,
    commission REAL,
    realized_pnl REAL,
    corrects TEXT NOT NULL DEFAULT '',
    superseded_by TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS executions_base ON executions(base_id);
CREATE INDEX IF NOT EXISTS executions_ref ON executions(order_ref);
CREATE TABLE IF NOT EXISTS baselines (
    kind TEXT NOT NULL,
    period TEXT NOT NULL,
    value REAL NOT NULL,
    recorded_at TEXT NOT NULL,
    PRIMARY KEY (kind, period)
);
"""


_DISK_ERRORS = ("SQLITE_FULL", "SQLITE_IOERR", "SQLITE_READONLY", "SQLITE_CANTOPEN")


def _disk_failure(exc: sqlite3.Error) -> bool:
    """A write the disk refused (full, read-only, I/O error), not a bug in the statement."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    if name:
        return name.startswith(_DISK_ERRORS)
    text = str(exc).lower()
    return any(w in text for w in ("disk is full", "disk i/o", "readonly", "unable to open"))


class StateDb:
    """The state database's connection, which carries on in memory when the disk refuses writes.

    On a disk failure (SQLITE_FULL, IOERR, READONLY) the database is copied into memory (reads
    still work on a full disk), the refused statement (or the open transaction) is replayed
    there, and every later read and write uses the memory copy, so the engine's view stays
    whole and a closing order is never stopped by the disk. Each later write (at most once a
    second) and `retry()` try to copy it back; `durable` is False until that succeeded."""

    def __init__(self, disk: sqlite3.Connection, path: Path,
                 on_trouble: Callable[[str, str | None], None]) -> None:
        self.disk = disk
        self.path = path
        self.memory: sqlite3.Connection | None = None
        self.error: str | None = None
        self._on_trouble = on_trouble
        self._tx: list[tuple[str, Any]] = []
        self._next_try = 0.0

    @property
    def active(self) -> sqlite3.Connection:
        return self.memory if self.memory is not None else self.disk

    @property
    def in_transaction(self) -> bool:
        return self.active.in_transaction

    def execute(self, sql: str, params: Any = ()) -> sqlite3.Cursor:
        return self._run(sql, params, many=False)

    def executemany(self, sql: str, params: Any) -> sqlite3.Cursor:
        return self._run(sql, params, many=True)

    def executescript(self, script: str) -> sqlite3.Cursor:
        return self.active.executescript(script)

    def _run(self, sql: str, params: Any, *, many: bool) -> sqlite3.Cursor:
        if self.memory is not None and not self.active.in_transaction:
            self._back_to_disk(force=False)
        db = self.active
        was_in_tx = db.in_transaction
        try:
            cur = db.executemany(sql, params) if many else db.execute(sql, params)
        except sqlite3.OperationalError as exc:
            if self.memory is not None or not _disk_failure(exc):
                raise
            self._to_memory(exc)
            return self._run(sql, params, many=many)
        # Statements of an open transaction are kept, to replay it in memory if its COMMIT
        # (or a later statement) is refused by the disk.
        if db is self.disk:
            if db.in_transaction:
                if not was_in_tx:
                    self._tx = []
                self._tx.append((sql, params if not many else list(params)))
            else:
                self._tx = []
        return cur

    def _to_memory(self, exc: sqlite3.Error) -> None:
        replay = list(self._tx)
        self._tx = []
        if self.disk.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                self.disk.rollback()
        memory = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
        try:
            self.disk.backup(memory)
        except sqlite3.Error as read_exc:
            log.critical("the state database %s cannot even be read (%s): carrying on with an "
                         "empty one in memory", self.path, read_exc)
            memory.executescript(_SCHEMA)
        for sql, params in replay:
            if isinstance(params, list):
                memory.executemany(sql, params)
            else:
                memory.execute(sql, params)
        self.memory = memory
        self.error = str(exc)
        self._next_try = time.monotonic() + RETRY_SECONDS
        log.critical("the state database %s cannot be written (%s): state is kept in memory "
                     "until the disk takes it again; new entries are refused meanwhile",
                     self.path, exc)
        self._on_trouble(str(self.path), self.error)

    def _back_to_disk(self, *, force: bool) -> bool:
        if self.memory is None:
            return True
        if not force and time.monotonic() < self._next_try:
            return False
        self._next_try = time.monotonic() + RETRY_SECONDS
        try:
            self.memory.backup(self.disk)
        except sqlite3.Error as exc:
            self.error = str(exc)
            return False
        self.memory.close()
        self.memory = None
        self.error = None
        log.warning("the state database %s is written again", self.path)
        self._on_trouble(str(self.path), None)
        return True

    def retry(self) -> bool:
        if self.memory is not None and self.memory.in_transaction:
            return False
        return self._back_to_disk(force=True)

    def close(self) -> None:
        """Never raises: a copy the disk still refuses is said on the console."""
        if self.memory is not None and not self._back_to_disk(force=True):
            log.critical("the state database %s could not be written before closing (%s): "
                         "the trading state, tracked positions and order intents since the "
                         "disk failed are lost; the journal and the console log have them",
                         self.path, self.error)
            self.memory.close()
            self.memory = None
        with contextlib.suppress(sqlite3.Error):
            self.disk.close()


class StoreError(Exception):
    """The state database cannot be used; the message says what happened and what to do."""


def open_database(path: Path) -> sqlite3.Connection:
    """The state database at `path`, checked, in WAL mode, with its schema; StoreError (in
    words: what happened, what was done, what to do) when it cannot be used."""
    existed = path.exists() and path.stat().st_size > 0
    db: sqlite3.Connection | None = None
    try:
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        if existed:
            ok = db.execute("PRAGMA quick_check").fetchone()
            if not ok or ok[0] != "ok":
                raise sqlite3.DatabaseError(f"integrity check failed: {ok and ok[0]}")
        db.executescript(_SCHEMA)
        row = db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        if row is None:
            db.execute(
                "INSERT INTO meta(key, value) VALUES ('schema_version', ?)",
                (str(SCHEMA_VERSION),),
            )
        elif int(row[0]) > SCHEMA_VERSION:
            db.close()
            raise StoreError(
                f"{path} has schema version {row[0]}, newer than this program's "
                f"{SCHEMA_VERSION}. Upgrade weekly-er-tui, or point --data-dir elsewhere."
            )
        return db
    except sqlite3.DatabaseError as exc:
        if db is not None:
            db.close()
        if _disk_failure(exc):
            # The disk, not the database: a healthy database is never moved aside for it.
            raise StoreError(
                f"The state database {path} cannot be opened for writing ({exc}): the "
                f"disk is full, read-only or failing. It was NOT moved aside and nothing was "
                f"started. Free space, remount the disk read-write or fix its permissions, "
                f"then start again (or give another --data-dir)."
            ) from exc
        aside = _move_aside(path)
        raise StoreError(
            f"The state database {path} cannot be read ({exc}). It was moved aside to "
            f"{aside} and NOT replaced: the trading state (a HALT), tracked positions and "
            f"order intents in it are unknown, and nothing was started. The next start "
            f"creates a new, empty database, starts ACTIVE (not HALTED), and at its first "
            f"connect rebuilds the strategy's positions and this week's entries from the "
            f"trade journal and IB's executions of this app's orders (a CRITICAL alert lists "
            f"them; the Friday close closes them); positions not bought by this app stay "
            f"the trader's. Check your positions and open orders in TWS first; pause or "
            f"flatten in the app if you want no entries."
        ) from exc


def _move_aside(path: Path) -> Path:
    stamp = datetime.now().strftime("%Y%m%dT%H%M%S")
    aside = path.with_name(f"{path.name}.corrupt-{stamp}")
    for suffix in ("", "-wal", "-shm"):
        src = Path(str(path) + suffix)
        if src.exists():
            src.rename(Path(str(aside) + suffix))
    return aside
