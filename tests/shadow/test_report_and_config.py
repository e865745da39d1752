"""The config's `mode`, `--shadow`, and the shadow report on journals written by hand: the
matching window, what matches nothing, DENIED orders, a would-be order with no quote."""

from __future__ import annotations

import argparse
import csv
import io
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from weekly_er_tui import cli
from weekly_er_tui.cli.common import config_of
from weekly_er_tui.clock import ET
from weekly_er_tui.config import ConfigError, load_config, parse_config
from weekly_er_tui.journal import TRADE_COLUMNS, CsvAppender
from weekly_er_tui.shadow import report
from weekly_er_tui.shadow.journal import ShadowJournal, likely_price


def test_mode_is_checked_with_the_field_the_value_and_the_fix() -> None:
    assert parse_config('{"mode": "shadow"}').shadow is True
    assert parse_config("{}").mode == "trade"
    with pytest.raises(ConfigError) as exc:
        parse_config('{"mode": "shadwo"}')
    assert exc.value.problems == [
        "mode: must be 'trade' or 'shadow' (got 'shadwo'); did you mean 'shadow'? ('trade' "
        "sends orders; 'shadow' decides and journals everything and sends nothing)"]


def test_run_shadow_flag_makes_the_config_shadow(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text("{}")
    loaded = load_config(str(path))
    assert config_of(loaded, argparse.Namespace(shadow=True)).shadow is True
    assert config_of(loaded, argparse.Namespace(shadow=False)).shadow is False
    assert config_of(loaded, argparse.Namespace()).shadow is False


def test_likely_price_is_the_touch_then_last_mark_limit() -> None:
    assert likely_price("BUY", 9.9, 10.1, 10.0, 10.0, None).price == 10.1
    assert likely_price("SELL", 9.9, 10.1, 10.0, 10.0, None).source == "bid"
    assert likely_price("SELL", None, 10.1, 10.0, 9.0, None).source == "last"
    assert likely_price("SELL", float("nan"), None, None, 9.0, None).source == "mark"
    assert likely_price("BUY", None, None, None, None, 11.0).source == "limit"
    none = likely_price("BUY", None, None, None, None, None)
    assert (none.price, none.source) == (None, "none")


def at(day: int, hh: int, mm: int) -> datetime:
    return datetime(2026, 11, day, hh, mm, tzinfo=ET)


def write_week(data_dir: Path) -> None:
    j = ShadowJournal(data_dir)
    p = likely_price
    j.order(at(23, 10, 0), order_ref="WER-A", symbol="AAPL", side="BUY", quantity=50,
            order_type="MKT", limit_price=None, reason="ENTRY", verdict="ACCEPTED",
            price=p("BUY", 199.9, 200.0, None, None, None))
    j.order(at(23, 10, 0), order_ref="WER-N", symbol="NVDA", side="BUY", quantity=10,
            order_type="MKT", limit_price=None, reason="ENTRY",
            verdict="DENIED: sector Technology weight after fill 34% over 30%",
            price=p("BUY", 139.9, 140.0, None, None, None))
    j.order(at(24, 10, 0), order_ref="WER-X", symbol="XOM", side="BUY", quantity=40,
            order_type="MKT", limit_price=None, reason="ENTRY", verdict="ACCEPTED",
            price=p("BUY", None, None, None, None, None))
    j.close_action(at(27, 12, 45), reason="FRIDAY_CLOSE", note="would have closed AAPL +50")
    j.order(at(27, 12, 45), order_ref="wer-fc-A", symbol="AAPL", side="SELL", quantity=50,
            order_type="MKT", limit_price=None, reason="FRIDAY_CLOSE", verdict="ACCEPTED",
            price=p("SELL", 204.0, 204.1, None, None, None))
    j.close()
    trades = CsvAppender(data_dir / "logs" / "trade_journal.csv", TRADE_COLUMNS)

    def fill(t: datetime, ref: str, perm: int, sym: str, side: str, qty: float,
             price: float) -> None:
        trades.append([t.isoformat(), ref, "3", str(perm), f"e{perm}.{qty}", sym, side,
                       f"{qty:g}", f"{price:g}", "1", "", "OTHER_SYSTEM"])

    fill(at(23, 10, 5), "o1", 11, "AAPL", "BOT", 30, 200.2)  # two parts of one order
    fill(at(23, 10, 6), "o1", 11, "AAPL", "BOT", 20, 200.3)
    fill(at(24, 11, 0), "o2", 12, "XOM", "BOT", 40, 110.0)  # an hour after: outside 30 min
    fill(at(27, 12, 50), "o3", 13, "AAPL", "SLD", 50, 203.9)
    trades.close()


def test_the_report_matches_within_the_window_and_lists_the_rest(tmp_path: Path) -> None:
    write_week(tmp_path)
    rep = report.build(tmp_path, date(2026, 11, 25))
    assert rep.week_of == date(2026, 11, 23)
    mon, tue, fri = rep.days
    (m,) = mon.matches
    assert m.would_be is not None and m.real is not None
    assert (m.real.quantity, round(m.real.price or 0, 2)) == (50, 200.24)  # one order, 2 fills
    assert m.minutes_apart == pytest.approx(5)
    assert [o.symbol for o in mon.denied] == ["NVDA"]
    # XOM: an hour apart is no match at 30 minutes; it is at 90.
    assert [(x.would_be is None, x.real is None) for x in tue.matches] == [
        (False, True), (True, False)]
    assert tue.unpriced == 1
    assert [a.what for a in fri.actions] == ["CLOSE"]
    assert fri.would_be_pnl == pytest.approx(50 * (204.0 - 200.0))
    assert fri.real_pnl == pytest.approx(50 * 203.9 - (30 * 200.2 + 20 * 200.3))
    assert rep.open_would_be == {"XOM": 40}
    wide = report.build(tmp_path, date(2026, 11, 23), timedelta(minutes=90))
    assert all(x.would_be and x.real for x in wide.days[1].matches)


def test_shadow_report_command_text_and_csv(tmp_path: Path) -> None:
    write_week(tmp_path)
    out, err = io.StringIO(), io.StringIO()
    assert cli.main(["shadow-report", "--data-dir", str(tmp_path), "--week", "2026-11-23"],
                    out, err) == 0
    text = out.getvalue()
    assert "within 30 minutes" in text and "DENIED" in text and "REAL ONLY" in text
    assert "Would-be positions open at the end of the week: XOM +40" in text
    out = io.StringIO()
    assert cli.main(["shadow-report", "--data-dir", str(tmp_path), "--csv"], out, err) == 0
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert {r["row"] for r in rows} == {"MATCHED", "DENIED", "WOULD_BE_ONLY", "REAL_ONLY",
                                        "SAFETY_ACTION", "PNL"}
    assert cli.main(["shadow-report", "--data-dir", str(tmp_path / "none")], out, err) == 2
    assert "run --shadow" in err.getvalue()
