"""Store: the typed reads and writes of what must survive a crash, one table at a time
(trading state, tracked positions, order intents, executions, baselines, contract details)."""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

from weekly_er_tui.listeners import notify
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
from weekly_er_tui.store.state_db import StateDb, open_database

log = logging.getLogger("weekly_er_tui.store")

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
        self._db = StateDb(open_database(self.path), self.path, self._tell_trouble)

    def add_trouble_listener(self, fn: Callable[[str, str | None], None]) -> None:
        """`fn(path, error)` when the database stops taking writes, `fn(path, None)` when it
        takes them again."""
        self._trouble.append(fn)

    def _tell_trouble(self, where: str, error: str | None) -> None:
        notify(self._trouble, where, error, what="records trouble", logger=log)

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
