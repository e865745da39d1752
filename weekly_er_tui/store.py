"""state/weekly_er.sqlite: what must survive a crash.

Trading state (a HALT stays a HALT across restarts), the strategy's tracked positions (so orphans
can be told apart), order intents keyed by orderRef (recorded BEFORE an order is sent, so a restart
never sends it twice), and the day's and week's baselines. WAL mode; a schema version.
A database it cannot read is moved aside with a clear error, never silently replaced.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

from weekly_er_tui.model import TradingState
from weekly_er_tui.order_life import (
    OPEN_STATUSES,
    ExecutionApplied,
    ExecutionRecord,
    IntentStatus,
    OrderIntentRecord,
    after_fill,
    check_transition,
    correction_base,
    tracked_after,
)

__all__ = ["OPEN_INTENT_STATUSES", "IntentStatus", "OrderIntentRecord", "Store", "StoreError",
           "TrackedPosition", "UnknownIntent"]

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


# Kept here too for the code that imported it from the store.
OPEN_INTENT_STATUSES = OPEN_STATUSES

_INTENT_COLUMNS = ("order_ref", "symbol", "side", "quantity", "order_type", "limit_price",
                   "reason", "status", "created_at", "updated_at", "order_id", "perm_id",
                   "filled", "details")
_EXEC_COLUMNS = ("exec_id", "order_ref", "symbol", "signed_qty", "price", "at", "commission",
                 "realized_pnl", "corrects", "superseded_by")


class UnknownIntent(LookupError):
    """A status for an orderRef the store never recorded."""


@dataclass(frozen=True, slots=True)
class TrackedPosition:
    symbol: str
    quantity: float
    order_ref: str
    opened_at: str


class Store:
    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._trouble: list[Callable[[str, str | None], None]] = []
        self._db = StateDb(self._open(), self.path, self._tell_trouble)

    def add_trouble_listener(self, fn: Callable[[str, str | None], None]) -> None:
        """`fn(path, error)` when the database stops taking writes, `fn(path, None)` when it
        takes them again."""
        self._trouble.append(fn)

    def _tell_trouble(self, where: str, error: str | None) -> None:
        for fn in list(self._trouble):
            try:
                fn(where, error)
            except Exception:
                log.exception("records trouble listener failed")

    @property
    def durable(self) -> bool:
        """True while writes reach the disk (so an intent recorded now survives a crash)."""
        return self._db.memory is None

    def retry_records(self) -> None:
        self._db.retry()

    @classmethod
    def in_data_dir(cls, data_dir: Path | str, *, shadow: bool = False) -> Store:
        """The data directory's state database; a shadow engine's is its own (shadow.sqlite:
        its would-be book, intents and trading state never touch the trading one's)."""
        return cls(Path(data_dir) / "state" / ("shadow.sqlite" if shadow else "weekly_er.sqlite"))

    def _open(self) -> sqlite3.Connection:
        existed = self.path.exists() and self.path.stat().st_size > 0
        db: sqlite3.Connection | None = None
        try:
            db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
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
                    f"{self.path} has schema version {row[0]}, newer than this program's "
                    f"{SCHEMA_VERSION}. Upgrade weekly-er-tui, or point --data-dir elsewhere."
                )
            return db
        except sqlite3.DatabaseError as exc:
            if db is not None:
                db.close()
            if _disk_failure(exc):
                # The disk, not the database: a healthy database is never moved aside for it.
                raise StoreError(
                    f"The state database {self.path} cannot be opened for writing ({exc}): the "
                    f"disk is full, read-only or failing. It was NOT moved aside and nothing was "
                    f"started. Free space, remount the disk read-write or fix its permissions, "
                    f"then start again (or give another --data-dir)."
                ) from exc
            aside = self._move_aside()
            raise StoreError(
                f"The state database {self.path} cannot be read ({exc}). It was moved aside to "
                f"{aside} and NOT replaced: the trading state (a HALT), tracked positions and "
                f"order intents in it are unknown, and nothing was started. The next start "
                f"creates a new, empty database, starts ACTIVE (not HALTED), and at its first "
                f"connect rebuilds the strategy's positions and this week's entries from the "
                f"trade journal and IB's executions of this app's orders (a CRITICAL alert lists "
                f"them; the Friday close closes them); positions not bought by this app stay "
                f"the trader's. Check your positions and open orders in TWS first; pause or "
                f"flatten in the app if you want no entries."
            ) from exc

    def _move_aside(self) -> Path:
        stamp = datetime.now().strftime("%Y%m%dT%H%M%S")
        aside = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        for suffix in ("", "-wal", "-shm"):
            src = Path(str(self.path) + suffix)
            if src.exists():
                src.rename(Path(str(aside) + suffix))
        return aside

    def close(self) -> None:
        self._db.close()

    @property
    def schema_version(self) -> int:
        row = self._db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        return int(row[0])

    # -- trading state ---------------------------------------------------------------------
    def trading_state(self) -> tuple[TradingState, str]:
        row = self._db.execute("SELECT state, reason FROM trading_state WHERE id=1").fetchone()
        if row is None:
            return TradingState.ACTIVE, ""
        return TradingState(row[0]), row[1]

    def set_trading_state(self, state: TradingState, reason: str, when: datetime) -> None:
        self._db.execute(
            "INSERT INTO trading_state(id, state, reason, changed_at) VALUES (1, ?, ?, ?) "
            "ON CONFLICT(id) DO UPDATE SET state=excluded.state, reason=excluded.reason, "
            "changed_at=excluded.changed_at",
            (state.value, reason, when.isoformat()),
        )

    # -- tracked positions -----------------------------------------------------------------
    def track_position(self, symbol: str, quantity: float, order_ref: str, when: datetime) -> None:
        """Add `quantity` (signed) to the strategy's tracked position; drop it at zero."""
        row = self._db.execute(
            "SELECT quantity FROM tracked_positions WHERE symbol=?", (symbol,)
        ).fetchone()
        qty = (row[0] if row else 0.0) + quantity
        if abs(qty) < 1e-9:
            self._db.execute("DELETE FROM tracked_positions WHERE symbol=?", (symbol,))
        elif row:
            self._db.execute(
                "UPDATE tracked_positions SET quantity=? WHERE symbol=?", (qty, symbol)
            )
        else:
            self._db.execute(
                "INSERT INTO tracked_positions(symbol, quantity, order_ref, opened_at) "
                "VALUES (?, ?, ?, ?)",
                (symbol, qty, order_ref, when.isoformat()),
            )

    def untrack_position(self, symbol: str) -> None:
        self._db.execute("DELETE FROM tracked_positions WHERE symbol=?", (symbol,))

    def tracked_positions(self) -> dict[str, TrackedPosition]:
        rows = self._db.execute(
            "SELECT symbol, quantity, order_ref, opened_at FROM tracked_positions ORDER BY symbol"
        ).fetchall()
        return {r[0]: TrackedPosition(symbol=r[0], quantity=r[1], order_ref=r[2], opened_at=r[3])
                for r in rows}

    # -- order intents ---------------------------------------------------------------------
    def record_intent(
        self,
        order_ref: str,
        symbol: str,
        side: str,
        quantity: float,
        order_type: str,
        reason: str,
        when: datetime,
        limit_price: float | None = None,
        details: dict[str, Any] | None = None,
    ) -> bool:
        """Record an order intent before its order is sent. False if the orderRef exists:
        the caller must then NOT send it again."""
        try:
            self._db.execute(
                "INSERT INTO order_intents(order_ref, symbol, side, quantity, order_type, "
                "limit_price, reason, status, created_at, updated_at, details) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, 'RECORDED', ?, ?, ?)",
                (
                    order_ref, symbol, side, quantity, order_type, limit_price, reason,
                    when.isoformat(), when.isoformat(), json.dumps(details or {}, default=str),
                ),
            )
        except sqlite3.IntegrityError:
            return False
        return True

    def update_intent(
        self,
        order_ref: str,
        status: IntentStatus | str,
        when: datetime,
        order_id: int | None = None,
        perm_id: int | None = None,
        filled: float | None = None,
    ) -> OrderIntentRecord:
        """THE writer of an intent's status: every move is checked against the order's life
        (order_life.TRANSITIONS); a move it does not allow raises IllegalTransition and writes
        nothing. Returns the intent as written."""
        new = IntentStatus(status)
        current = self.intent(order_ref)
        if current is None:
            raise UnknownIntent(f"no order intent {order_ref!r} was recorded (status {new})")
        check_transition(order_ref, current.status, new)
        self._db.execute(
            "UPDATE order_intents SET status=?, updated_at=?, "
            "order_id=COALESCE(?, order_id), perm_id=COALESCE(?, perm_id), "
            "filled=COALESCE(?, filled) WHERE order_ref=?",
            (new.value, when.isoformat(), order_id, perm_id, filled, order_ref),
        )
        written = self.intent(order_ref)
        assert written is not None
        return written

    def intent(self, order_ref: str) -> OrderIntentRecord | None:
        row = self._db.execute(
            f"SELECT {', '.join(_INTENT_COLUMNS)} FROM order_intents WHERE order_ref=?",
            (order_ref,),
        ).fetchone()
        return self._intent(row) if row else None

    def intents(self, status: IntentStatus | str | None = None) -> list[OrderIntentRecord]:
        cols = ", ".join(_INTENT_COLUMNS)
        if status is None:
            rows = self._db.execute(
                f"SELECT {cols} FROM order_intents ORDER BY created_at").fetchall()
        else:
            rows = self._db.execute(
                f"SELECT {cols} FROM order_intents WHERE status=? ORDER BY created_at",
                (IntentStatus(status).value,),
            ).fetchall()
        return [self._intent(r) for r in rows]

    @staticmethod
    def _intent(row: tuple[Any, ...]) -> OrderIntentRecord:
        v = dict(zip(_INTENT_COLUMNS, row, strict=True))
        v["status"] = IntentStatus(v["status"])
        v["details"] = json.loads(v["details"])
        return OrderIntentRecord(**v)

    # -- executions ------------------------------------------------------------------------
    def apply_execution(self, ex: ExecutionRecord, when: datetime,
                        count: bool = True) -> ExecutionApplied | None:
        """Count one execution, once (None if its execId was counted before), in one
        transaction: the execution, its intent's fill and status, the strategy's tracked
        position. A correction (same execId up to the last period) replaces the execution it
        corrects: only the difference is added anywhere. `count=False` only notes the
        execution (its quantities are in the store already)."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            applied = self._apply_execution(ex, when, count)
            self._db.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                self._db.execute("ROLLBACK")
            raise
        return applied

    def _apply_execution(self, ex: ExecutionRecord, when: datetime,
                         count: bool) -> ExecutionApplied | None:
        if self.execution(ex.exec_id) is not None:
            return None
        base = correction_base(ex.exec_id)
        row = self._db.execute(
            f"SELECT {', '.join(_EXEC_COLUMNS)} FROM executions "
            "WHERE base_id=? AND superseded_by='' AND exec_id<>?", (base, ex.exec_id),
        ).fetchone()
        replaced = self._execution(row) if row else None
        record = replace(ex, corrects=replaced.exec_id if replaced else "", superseded_by="")
        self._db.execute(
            f"INSERT INTO executions(base_id, {', '.join(_EXEC_COLUMNS)}) "
            f"VALUES ({', '.join('?' * (len(_EXEC_COLUMNS) + 1))})",
            (base, *(getattr(record, c) for c in _EXEC_COLUMNS)),
        )
        delta = ex.signed_qty - (replaced.signed_qty if replaced else 0.0)
        if not count:
            return ExecutionApplied(record, 0.0, None, None)
        if replaced is not None:
            self._db.execute("UPDATE executions SET superseded_by=? WHERE exec_id=?",
                             (ex.exec_id, replaced.exec_id))
        intent = self.intent(ex.order_ref) if ex.order_ref else None
        if intent is not None:
            filled = self._db.execute(
                "SELECT COALESCE(SUM(ABS(signed_qty)), 0) FROM executions "
                "WHERE order_ref=? AND superseded_by=''", (ex.order_ref,),
            ).fetchone()[0]
            intent = self.update_intent(intent.order_ref,
                                        after_fill(intent.status, filled, intent.quantity),
                                        when, filled=filled)
        self._track(ex.symbol, delta, intent, ex.order_ref, when)
        return ExecutionApplied(record, delta, replaced, intent)

    def _track(self, symbol: str, delta: float, intent: OrderIntentRecord | None,
               order_ref: str, when: datetime) -> None:
        row = self._db.execute(
            "SELECT quantity, order_ref FROM tracked_positions WHERE symbol=?", (symbol,)
        ).fetchone()
        if intent is None:
            return  # not our order: the trader's own shares are never the strategy's book
        opening = intent.reason == "ENTRY"
        after = tracked_after(row[0] if row else None, delta, opening)
        if after is None:
            self._db.execute("DELETE FROM tracked_positions WHERE symbol=?", (symbol,))
        elif row:
            self._db.execute("UPDATE tracked_positions SET quantity=? WHERE symbol=?",
                             (after, symbol))
        else:
            self._db.execute(
                "INSERT INTO tracked_positions(symbol, quantity, order_ref, opened_at) "
                "VALUES (?, ?, ?, ?)", (symbol, after, order_ref, when.isoformat()))

    def set_execution_costs(self, exec_id: str, commission: float | None,
                            realized_pnl: float | None) -> None:
        """The commission report arrives after its execution: add its figures."""
        self._db.execute(
            "UPDATE executions SET commission=COALESCE(?, commission), "
            "realized_pnl=COALESCE(?, realized_pnl) WHERE exec_id=?",
            (commission, realized_pnl, exec_id),
        )

    def execution(self, exec_id: str) -> ExecutionRecord | None:
        row = self._db.execute(
            f"SELECT {', '.join(_EXEC_COLUMNS)} FROM executions WHERE exec_id=?", (exec_id,)
        ).fetchone()
        return self._execution(row) if row else None

    def executions(self, order_ref: str | None = None,
                   standing: bool = True) -> list[ExecutionRecord]:
        """The executions counted (of `order_ref`), without the ones a correction replaced
        unless `standing` is False."""
        where, args = [], []
        if order_ref is not None:
            where.append("order_ref=?")
            args.append(order_ref)
        if standing:
            where.append("superseded_by=''")
        rows = self._db.execute(
            f"SELECT {', '.join(_EXEC_COLUMNS)} FROM executions"
            + (f" WHERE {' AND '.join(where)}" if where else "") + " ORDER BY rowid",
            tuple(args),
        ).fetchall()
        return [self._execution(r) for r in rows]

    @staticmethod
    def _execution(row: tuple[Any, ...]) -> ExecutionRecord:
        return ExecutionRecord(**dict(zip(_EXEC_COLUMNS, row, strict=True)))

    # -- baselines -------------------------------------------------------------------------
    def set_baseline(self, kind: str, period: str, value: float, when: datetime) -> None:
        self._db.execute(
            "INSERT INTO baselines(kind, period, value, recorded_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(kind, period) DO UPDATE SET value=excluded.value, "
            "recorded_at=excluded.recorded_at",
            (kind, period, value, when.isoformat()),
        )

    def baseline(self, kind: str, period: str) -> float | None:
        row = self._db.execute(
            "SELECT value FROM baselines WHERE kind=? AND period=?", (kind, period)
        ).fetchone()
        return float(row[0]) if row else None

    def set_baseline_if_absent(self, kind: str, period: str, value: float, when: datetime) -> float:
        """Record a baseline once per period (the first value wins) and return the kept one."""
        self._db.execute(
            "INSERT OR IGNORE INTO baselines(kind, period, value, recorded_at) VALUES (?, ?, ?, ?)",
            (kind, period, value, when.isoformat()),
        )
        kept = self.baseline(kind, period)
        assert kept is not None
        return kept

    # -- contract details: each symbol's conId and sector, with the day IB gave them ----------
    _DETAILS_TABLE = (
        "CREATE TABLE IF NOT EXISTS contract_details (symbol TEXT PRIMARY KEY, "
        "con_id INTEGER NOT NULL, sector TEXT NOT NULL, fetched_on TEXT NOT NULL)"
    )

    def contract_details(self) -> dict[str, tuple[int, str, date]]:
        """symbol -> (conId, sector, the day they were fetched), as saved."""
        self._db.execute(self._DETAILS_TABLE)
        rows = self._db.execute("SELECT symbol, con_id, sector, fetched_on FROM contract_details")
        return {s: (int(c), str(sec), date.fromisoformat(d)) for s, c, sec, d in rows}

    def save_contract_details(self, symbol: str, con_id: int, sector: str, fetched_on: date
                              ) -> None:  # fmt: skip
        self._db.execute(self._DETAILS_TABLE)
        self._db.execute(
            "INSERT INTO contract_details(symbol, con_id, sector, fetched_on) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(symbol) DO UPDATE SET con_id=excluded.con_id, sector=excluded.sector, "
            "fetched_on=excluded.fetched_on",
            (symbol, con_id, sector, fetched_on.isoformat()),
        )
