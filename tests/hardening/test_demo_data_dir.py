"""The demo never deletes a state database it did not create: its own data directory carries a
marker; a trader's data directory (a state database, no marker) is refused, naming it."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

from weekly_er_tui import cli
from weekly_er_tui.cli.demo import DEMO_MARKER
from weekly_er_tui.model import TradingState
from weekly_er_tui.store import Store

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)


def demo(*args: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(["demo", "--headless", *args], out=out, err=err)
    return code, err.getvalue()


def traders_data_dir(path: Path) -> Path:
    store = Store.in_data_dir(path)
    store.set_trading_state(TradingState.HALTED, "emergency stop on Tuesday", NOW)
    assert store.record_intent("WER-20261119-JNJ-ENTRY", "JNJ", "BUY", 66, "MKT", "ENTRY", NOW)
    store.close()
    return path


def test_the_demo_refuses_a_traders_data_directory_and_leaves_it_alone(tmp_path: Path) -> None:
    data = traders_data_dir(tmp_path / "live-data")
    code, err = demo("--data-dir", str(data), "--run-for", "1s")
    assert code == 2
    assert str(data) in err and "not a demo data directory" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    store = Store.in_data_dir(data)
    assert store.trading_state() == (TradingState.HALTED, "emergency stop on Tuesday")
    assert store.intent("WER-20261119-JNJ-ENTRY") is not None
    store.close()
    assert not (data / DEMO_MARKER).exists()


def test_the_demo_refuses_a_directory_with_the_traders_journals(tmp_path: Path) -> None:
    data = tmp_path / "live-data"
    (data / "logs").mkdir(parents=True)
    (data / "logs" / "trade_journal.csv").write_text("timestamp\n")
    code, err = demo("--data-dir", str(data), "--run-for", "1s")
    assert code == 2 and str(data) in err
    assert (data / "logs" / "trade_journal.csv").read_text() == "timestamp\n"


def test_the_demo_starts_afresh_in_its_own_directory(tmp_path: Path) -> None:
    data = tmp_path / "demo-data"
    code, err = demo("--data-dir", str(data), "--run-for", "1s")
    assert code == 0, err
    assert (data / DEMO_MARKER).exists()
    store = Store.in_data_dir(data)
    store.set_trading_state(TradingState.HALTED, "left over from the last demo", NOW)
    store.close()
    code, err = demo("--data-dir", str(data), "--run-for", "1s")
    assert code == 0, err
    store = Store.in_data_dir(data)
    assert store.trading_state()[0] is TradingState.ACTIVE  # its own database, made fresh
    store.close()
