"""The journal and the state database when the disk refuses writes (EIO, ENOSPC): nothing raises,
records are kept in memory and logged, and written out in order once the disk takes them."""

from __future__ import annotations

import errno
import logging
import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.hardening.disk import SmallDisk, small_disk
from weekly_er_tui.clock import ManualClock
from weekly_er_tui.journal import Fill, Journal, read_csv
from weekly_er_tui.model import EventType, Severity, TradingState
from weekly_er_tui.store import Store

NOW = datetime(2026, 11, 20, 20, 44, 30, tzinfo=UTC)


class FailingWrites:
    """os.write fails with `err` on the file descriptors a test names (the real file layer:
    the journal's own write path runs, only the kernel's answer is replaced)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.fds: set[int] = set()
        self.err = errno.EIO
        self.partial = 0  # bytes written before the error (a short write)
        real: Callable[[int, bytes | memoryview], int] = os.write

        def write(fd: int, data: bytes | memoryview) -> int:
            if fd in self.fds:
                if self.partial:
                    n, self.partial = self.partial, 0
                    return real(fd, bytes(data)[:n])
                raise OSError(self.err, os.strerror(self.err))
            return real(fd, data)

        monkeypatch.setattr(os, "write", write)


@pytest.fixture
def failing(monkeypatch: pytest.MonkeyPatch) -> FailingWrites:
    return FailingWrites(monkeypatch)


def fd_of(journal: Journal, which: str) -> int:
    fd = getattr(journal, which)._fd
    assert isinstance(fd, int)
    return fd


def test_an_io_error_keeps_rows_in_memory_logs_them_and_writes_them_out_later(
    tmp_path: Path, failing: FailingWrites, caplog: pytest.LogCaptureFixture
) -> None:
    journal = Journal(tmp_path, ManualClock(NOW))
    troubles: list[tuple[str, str | None]] = []
    journal.add_trouble_listener(lambda where, err: troubles.append((where, err)))
    journal.event(EventType.SYSTEM, Severity.INFO, "before")
    failing.fds = {fd_of(journal, "events"), fd_of(journal, "trades")}
    caplog.set_level(logging.INFO)
    journal.event(EventType.SYSTEM, Severity.INFO, "during 1")
    assert journal.record_fill(Fill("e1", "AAPL", "SLD", 10, 200.0, order_ref="r1",
                                    reason="FRIDAY_CLOSE"))
    journal.event(EventType.SYSTEM, Severity.CRITICAL, "during 2")
    assert not journal.durable
    assert [w for w, e in troubles if e] == [str(tmp_path / "logs" / "events_log.csv"),
                                             str(tmp_path / "logs" / "trade_journal.csv")]
    assert "errno 5, EIO" in (troubles[0][1] or "")
    logged = caplog.text
    assert "kept in memory" in logged and "during 1" in logged and "e1" in logged
    assert [r["message"] for r in read_csv(tmp_path / "logs" / "events_log.csv")] == ["before"]

    failing.fds = set()  # the disk is back
    journal.retry_records()
    assert journal.durable
    assert {w for w, e in troubles if e is None} == {w for w, e in troubles if e}
    events = [r["message"] for r in read_csv(tmp_path / "logs" / "events_log.csv")]
    assert events == ["before", "during 1", "during 2"]
    assert [r["exec_id"] for r in read_csv(tmp_path / "logs" / "trade_journal.csv")] == ["e1"]
    journal.close()


def test_a_short_write_is_cut_back_so_no_torn_row_is_left(
    tmp_path: Path, failing: FailingWrites
) -> None:
    journal = Journal(tmp_path, ManualClock(NOW))
    failing.fds = {fd_of(journal, "events")}
    failing.partial = 7
    journal.event(EventType.SYSTEM, Severity.INFO, "a long message torn after seven bytes")
    failing.fds = set()
    journal.retry_records()
    rows = read_csv(tmp_path / "logs" / "events_log.csv")
    assert [r["message"] for r in rows] == ["a long message torn after seven bytes"]
    journal.close()


def test_close_never_raises_while_the_disk_refuses(tmp_path: Path, failing: FailingWrites) -> None:
    journal = Journal(tmp_path, ManualClock(NOW))
    failing.fds = {fd_of(journal, "events")}
    journal.event(EventType.SYSTEM, Severity.INFO, "never on disk")
    journal.close()  # logs what was lost instead of raising


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[SmallDisk]:
    with small_disk(tmp_path / "disk", size="2m") as d:
        yield d


def test_a_full_disk_keeps_the_state_database_in_memory_then_writes_it_back(
    disk: SmallDisk
) -> None:
    store = Store.in_data_dir(disk.path)
    troubles: list[tuple[str, str | None]] = []
    store.add_trouble_listener(lambda where, err: troubles.append((where, err)))
    store.track_position("AAPL", 10, "WER-AAPL", NOW)
    disk.fill()
    # Enough writes that the WAL must grow: each one is refused by the disk, none raises.
    for i in range(50):
        store.set_baseline("day", f"2026-11-{i:02d}", 1000.0 + i, NOW)
    store.set_trading_state(TradingState.HALTED, "emergency stop", NOW)
    assert store.record_intent("wer-close-AAPL", "AAPL", "SELL", 10, "MKT", "FRIDAY_CLOSE", NOW)
    assert not store.durable
    assert troubles and troubles[0][1] and "full" in troubles[0][1]
    # Reads see every write, from memory.
    assert store.trading_state() == (TradingState.HALTED, "emergency stop")
    assert store.intent("wer-close-AAPL") is not None
    assert store.baseline("day", "2026-11-49") == 1049.0

    store.retry_records()
    assert not store.durable, "still full: stays in memory"
    disk.free()
    store.retry_records()
    assert store.durable and troubles[-1][1] is None
    store.close()
    again = Store.in_data_dir(disk.path)
    assert again.trading_state() == (TradingState.HALTED, "emergency stop")
    assert again.intent("wer-close-AAPL") is not None
    assert set(again.tracked_positions()) == {"AAPL"}
    assert again.baseline("day", "2026-11-49") == 1049.0
    again.close()


def test_a_transaction_the_disk_refuses_is_replayed_whole_in_memory(disk: SmallDisk) -> None:
    store = Store.in_data_dir(disk.path)
    db = store._db
    disk.fill()
    db.execute("BEGIN")
    for i in range(200):
        db.execute("INSERT INTO baselines(kind, period, value, recorded_at) VALUES (?,?,?,?)",
                   ("tx", str(i), float(i), NOW.isoformat()))
    db.execute("COMMIT")
    assert not store.durable
    assert db.execute("SELECT COUNT(*) FROM baselines WHERE kind='tx'").fetchone()[0] == 200
    disk.free()
    store.close()
    again = Store.in_data_dir(disk.path)
    assert again.baseline("tx", "199") == 199.0
    again.close()


def test_a_healthy_database_on_a_read_only_disk_is_not_moved_aside(tmp_path: Path) -> None:
    import subprocess

    from weekly_er_tui.store import StoreError

    with small_disk(tmp_path / "ro", size="2m") as d:
        store = Store.in_data_dir(d.path)
        store.set_trading_state(TradingState.HALTED, "emergency stop", NOW)
        store.close()
        subprocess.run(["mount", "-o", "remount,ro", str(d.path)], check=True)
        with pytest.raises(StoreError) as err:
            Store.in_data_dir(d.path)
        text = str(err.value)
        assert "NOT moved aside" in text and "read-only" in text.lower()
        assert not list((d.path / "state").glob("*.corrupt-*"))
        subprocess.run(["mount", "-o", "remount,rw", str(d.path)], check=True)
        again = Store.in_data_dir(d.path)
        assert again.trading_state() == (TradingState.HALTED, "emergency stop")
        again.close()


def test_the_log_file_on_a_full_disk_says_so_once_not_a_traceback_per_line(
    disk: SmallDisk, capsys: pytest.CaptureFixture[str]
) -> None:
    import io

    from weekly_er_tui.journal import remove_handlers, setup_logging

    console = io.StringIO()
    handlers = setup_logging(disk.path, "INFO", ManualClock(NOW), console=console)
    try:
        disk.fill()
        for i in range(200):
            logging.getLogger("weekly_er_tui.test").warning("line %d %s", i, "x" * 200)
    finally:
        remove_handlers(handlers)  # closing never raises either
    import gc

    gc.collect()
    err = capsys.readouterr().err
    assert "Traceback" not in err and "Logging error" not in err and "ignored" not in err
    assert err.count("cannot write the log file") == 1, err[:500]
    assert "line 199" in console.getvalue(), "the console keeps every line"
