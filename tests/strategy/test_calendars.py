from __future__ import annotations

from datetime import UTC, date, datetime, time
from pathlib import Path

import pytest

from weekly_er_tui.clock import ET
from weekly_er_tui.strategy.calendars import (
    CalendarError,
    CalendarRangeError,
    EarningsRow,
    MarketCalendar,
    load_calendar,
    market_calendar,
    parse_calendar,
)

HEADER = "symbol,report_date,timing,side,notional\n"


def et(d: date, hh: int, mm: int = 0) -> datetime:
    return datetime.combine(d, time(hh, mm), tzinfo=ET)


def problems(text: str, cal: MarketCalendar) -> list[str]:
    with pytest.raises(CalendarError) as info:
        parse_calendar(text, "calendar.csv", cal)
    return info.value.problems


# -- exchange sessions -------------------------------------------------------------------------


def test_calendar_is_built_once() -> None:
    assert market_calendar() is market_calendar()


def test_thanksgiving_and_the_early_close_after_it(cal: MarketCalendar) -> None:
    assert not cal.is_session(date(2026, 11, 26))
    assert cal.is_session(date(2026, 11, 27))
    assert cal.session_close(date(2026, 11, 27)) == et(date(2026, 11, 27), 13)
    assert cal.session_open(date(2026, 11, 27)) == et(date(2026, 11, 27), 9, 30)
    assert cal.is_early_close(date(2026, 11, 27))
    assert not cal.is_early_close(date(2026, 11, 25))
    assert cal.previous_session(date(2026, 11, 27)) == date(2026, 11, 25)
    assert cal.next_session(date(2026, 11, 25)) == date(2026, 11, 27)


def test_christmas_eve_closes_early(cal: MarketCalendar) -> None:
    assert cal.session_close(date(2026, 12, 24)) == et(date(2026, 12, 24), 13)
    assert not cal.is_session(date(2026, 12, 25))


def test_times_are_utc_aware(cal: MarketCalendar) -> None:
    close = cal.session_close(date(2026, 11, 25))
    assert close.tzinfo is not None and close.utcoffset() == UTC.utcoffset(None)


def test_good_friday_2027(cal: MarketCalendar) -> None:
    assert not cal.is_session(date(2027, 3, 26))
    assert cal.last_session_of_week(date(2027, 3, 22)) == date(2027, 3, 25)
    assert cal.last_session_of_week(date(2027, 3, 28)) == date(2027, 3, 25)  # Sunday: same ISO week
    assert cal.sessions_in_week(date(2027, 3, 24)) == [
        date(2027, 3, 22),
        date(2027, 3, 23),
        date(2027, 3, 24),
        date(2027, 3, 25),
    ]


def test_thanksgiving_week_sessions(cal: MarketCalendar) -> None:
    assert cal.sessions_in_week(date(2026, 11, 26)) == [
        date(2026, 11, 23),
        date(2026, 11, 24),
        date(2026, 11, 25),
        date(2026, 11, 27),
    ]
    assert cal.last_session_of_week(date(2026, 11, 23)) == date(2026, 11, 27)


def test_dst_boundary_weeks(cal: MarketCalendar) -> None:
    # Clocks go back on Sunday 2026-11-01: 16:00 ET is 20:00 UTC on Friday, 21:00 UTC on Monday.
    assert cal.session_close(date(2026, 10, 30)) == datetime(2026, 10, 30, 20, 0, tzinfo=UTC)
    assert cal.session_close(date(2026, 11, 2)) == datetime(2026, 11, 2, 21, 0, tzinfo=UTC)
    assert cal.session_open(date(2026, 11, 2)) == datetime(2026, 11, 2, 14, 30, tzinfo=UTC)
    # And forward on Sunday 2027-03-14.
    assert cal.session_close(date(2027, 3, 12)) == datetime(2027, 3, 12, 21, 0, tzinfo=UTC)
    assert cal.session_close(date(2027, 3, 15)) == datetime(2027, 3, 15, 20, 0, tzinfo=UTC)


def test_previous_and_next_session_skip_weekends_and_holidays(cal: MarketCalendar) -> None:
    assert cal.previous_session(date(2026, 11, 23)) == date(2026, 11, 20)  # Monday -> Friday
    assert cal.previous_session(date(2026, 11, 22)) == date(2026, 11, 20)  # from a Sunday
    assert cal.next_session(date(2026, 11, 20)) == date(2026, 11, 23)
    assert cal.next_session(date(2027, 3, 25)) == date(2027, 3, 29)  # over Good Friday


def test_is_open(cal: MarketCalendar) -> None:
    d = date(2026, 11, 27)
    assert not cal.is_open(et(d, 9, 29))
    assert cal.is_open(et(d, 9, 30))
    assert cal.is_open(et(d, 12, 59))
    assert not cal.is_open(et(d, 13, 0))  # the early close
    assert not cal.is_open(et(date(2026, 11, 26), 11))  # Thanksgiving
    assert not cal.is_open(et(date(2026, 11, 28), 11))  # Saturday
    with pytest.raises(ValueError, match="timezone-aware"):
        cal.is_open(datetime(2026, 11, 27, 11))


def test_current_or_next_session(cal: MarketCalendar) -> None:
    assert cal.current_or_next_session(et(date(2026, 11, 25), 8)) == date(2026, 11, 25)
    assert cal.current_or_next_session(et(date(2026, 11, 25), 15, 59)) == date(2026, 11, 25)
    assert cal.current_or_next_session(et(date(2026, 11, 25), 16)) == date(2026, 11, 27)
    assert cal.current_or_next_session(et(date(2026, 11, 27), 13)) == date(2026, 11, 30)
    assert cal.current_or_next_session(et(date(2026, 11, 28), 10)) == date(2026, 11, 30)


def test_not_a_session_has_no_hours(cal: MarketCalendar) -> None:
    with pytest.raises(ValueError, match=r"2026-11-26 \(Thursday\) is an NYSE holiday"):
        cal.session_close(date(2026, 11, 26))


def test_outside_the_window_is_an_error_not_a_guess(cal: MarketCalendar) -> None:
    with pytest.raises(CalendarRangeError, match="outside the XNYS calendar"):
        cal.is_session(date(2040, 1, 2))


# -- the earnings calendar ----------------------------------------------------------------------


def test_parse_a_good_calendar(cal: MarketCalendar) -> None:
    text = (
        "Symbol, Report_Date ,Timing,Side,Notional\n"
        "aapl,2026-11-24,bmo,,\n"
        "\n"
        "# a comment line\n"
        "NVDA,2026-11-25,AMC,short,15000\n"
        'BRK B,2026-11-25,,sell,"$12,500"\n'
        "DE,2026-11-27,,long\n"  # a short row: the missing notional is blank
        ",,,,\n"  # a spreadsheet's empty row
    )
    rows = parse_calendar(text, "calendar.csv", cal)
    assert rows == [
        EarningsRow("AAPL", date(2026, 11, 24), "BMO", "BUY", None, 2),
        EarningsRow("NVDA", date(2026, 11, 25), "AMC", "SELL", 15000.0, 5),
        EarningsRow("BRK B", date(2026, 11, 25), "", "SELL", 12500.0, 6),
        EarningsRow("DE", date(2026, 11, 27), "", "BUY", None, 7),
    ]


def test_only_required_columns(cal: MarketCalendar) -> None:
    rows = parse_calendar("report_date,symbol\n2026-11-24,MSFT\n", "c.csv", cal)
    assert rows == [EarningsRow("MSFT", date(2026, 11, 24), "", "BUY", None, 2)]


def test_header_only_is_an_empty_calendar(cal: MarketCalendar) -> None:
    assert parse_calendar(HEADER, "c.csv", cal) == []


def test_every_bad_row_is_reported_with_its_line(cal: MarketCalendar) -> None:
    text = (
        HEADER  # line 1
        + "AAPL,2026-11-24,BMO,,\n"  # 2 good
        + ",2026-11-24,BMO,,\n"  # 3 empty symbol
        + "AA$PL,2026-11-24,BMO,,\n"  # 4 bad symbol
        + "\n"  # 5 blank: skipped, still counted
        + "MSFT,2026-13-01,BMO,,\n"  # 6 bad date
        + "MSFT,11/24/2026,BMO,,\n"  # 7 bad date format
        + "IBM,2026-11-24,premarket,,\n"  # 8 bad timing
        + "ORCL,2026-11-24,AMC,up,\n"  # 9 bad side
        + "ADBE,2026-11-24,AMC,,-5\n"  # 10 bad notional
        + "CRM,2026-11-24,AMC,,lots\n"  # 11 bad notional
        + "AAPL,2026-11-24,AMC,,\n"  # 12 duplicate of line 2
        + "HD,2026-11-28,BMO,,\n"  # 13 Saturday
        + "LOW,2026-11-26,BMO,,\n"  # 14 Thanksgiving
        + "TGT,2026-11-24,BMO,,,extra\n"  # 15 too many fields
        + "WMT,,BMO,,\n"  # 16 empty date
        + "DE,2026-11-27,BMO,,0\n"  # 17 zero notional
    )
    assert problems(text, cal) == [
        "calendar.csv line 3: symbol is empty",
        "calendar.csv line 4: symbol 'AA$PL' is not a ticker (letters, digits, '.', '-' or one "
        "space as in 'BRK B'; at most 12 characters)",
        "calendar.csv line 6: report_date '2026-13-01' is not a date YYYY-MM-DD",
        "calendar.csv line 7: report_date '11/24/2026' is not a date YYYY-MM-DD",
        "calendar.csv line 8: timing 'premarket' must be BMO (before market open), AMC (after "
        "market close) or blank (unknown)",
        "calendar.csv line 9: side 'up' must be long, short, buy or sell (blank means long)",
        "calendar.csv line 10: notional '-5' must be a number of dollars greater than 0 (or "
        "blank for strategy.notional_per_position)",
        "calendar.csv line 11: notional 'lots' must be a number of dollars greater than 0 (or "
        "blank for strategy.notional_per_position)",
        "calendar.csv line 12: AAPL 2026-11-24 is already on line 2 (duplicate row; keep one)",
        "calendar.csv line 13: report_date 2026-11-28 is a Saturday, not a trading session",
        "calendar.csv line 14: report_date 2026-11-26 (Thursday) is an NYSE holiday, not a "
        "trading session",
        "calendar.csv line 15: 6 fields but the header has 5 columns (a value with a comma in it "
        'needs "quotes")',
        "calendar.csv line 16: report_date is empty",
        "calendar.csv line 17: notional '0' must be a number of dollars greater than 0 (or "
        "blank for strategy.notional_per_position)",
    ]


def test_one_row_with_several_problems_reports_each(cal: MarketCalendar) -> None:
    found = problems(HEADER + "A#B,2026-02-30,soon,flat,x\n", cal)
    assert [p.split(": ")[1].split(" ")[0] for p in found] == [
        "symbol",
        "report_date",
        "timing",
        "side",
        "notional",
    ]
    assert all(p.startswith("calendar.csv line 2: ") for p in found)


def test_line_numbers_count_lines_inside_quotes(cal: MarketCalendar) -> None:
    text = HEADER + 'AAPL,2026-11-24,BMO,"long\n",\nMSFT,2026-13-01,,,\n'
    found = problems(text, cal)
    assert found[-1] == "calendar.csv line 4: report_date '2026-13-01' is not a date YYYY-MM-DD"


def test_unknown_column_suggests_the_close_one(cal: MarketCalendar) -> None:
    found = problems("symbol,reprot_date,timing\nAAPL,2026-11-24,BMO\n", cal)
    assert found == [
        "calendar.csv line 1: unknown column 'reprot_date'; did you mean 'report_date'? "
        "(known columns: symbol, report_date, timing, side, notional)",
        "calendar.csv line 1: the header has no 'report_date' column (required: symbol, "
        "report_date)",
    ]


def test_unknown_optional_column_still_checks_the_rows(cal: MarketCalendar) -> None:
    found = problems("ticker,symbol,report_date\nx,AAPL,2026-11-28\n", cal)
    assert found == [
        "calendar.csv line 1: unknown column 'ticker'; did you mean 'symbol'? "
        "(known columns: symbol, report_date, timing, side, notional)",
        "calendar.csv line 2: report_date 2026-11-28 is a Saturday, not a trading session",
    ]


def test_duplicate_column(cal: MarketCalendar) -> None:
    found = problems("symbol,report_date,side,side\nAAPL,2026-11-24,long,short\n", cal)
    assert found == ["calendar.csv line 1: column 'side' appears twice in the header; keep one"]


def test_empty_file(cal: MarketCalendar) -> None:
    found = problems("\n\n", cal)
    assert found[0].startswith("calendar.csv: the file is empty")


def test_report_date_outside_the_calendar_window(cal: MarketCalendar) -> None:
    found = problems(HEADER + "AAPL,2045-01-03,BMO,,\n", cal)
    assert found == [
        "calendar.csv line 2: report_date 2045-01-03 is outside the XNYS calendar this app knows "
        "(2016-01-01 to 2035-12-31)"
    ]


def test_calendar_error_message_lists_every_problem(cal: MarketCalendar) -> None:
    with pytest.raises(CalendarError) as info:
        parse_calendar(HEADER + ",2026-11-24,,,\nX,2026-11-28,,,\n", "calendar.csv", cal)
    text = str(info.value)
    assert "2 problem(s)" in text and "strategy will not start" in text
    assert "line 2" in text and "line 3" in text


def test_load_calendar_reads_a_file_with_a_bom(tmp_path: Path, cal: MarketCalendar) -> None:
    path = tmp_path / "calendar.csv"
    path.write_text("\ufeff" + HEADER + "AAPL,2026-11-24,BMO,,\r\nMSFT,2026-11-24,AMC,,\r\n")
    rows = load_calendar(path, cal)
    assert [(r.symbol, r.line) for r in rows] == [("AAPL", 2), ("MSFT", 3)]


def test_load_calendar_names_the_file_in_each_problem(tmp_path: Path, cal: MarketCalendar) -> None:
    path = tmp_path / "er.csv"
    path.write_text(HEADER + "AAPL,2026-13-01,,,\n")
    with pytest.raises(CalendarError) as info:
        load_calendar(path, cal)
    assert info.value.problems == [
        "er.csv line 2: report_date '2026-13-01' is not a date YYYY-MM-DD"
    ]
    assert info.value.source == str(path)


def test_load_calendar_missing_file(tmp_path: Path, cal: MarketCalendar) -> None:
    with pytest.raises(CalendarError, match=r"no such file; set strategy\.calendar_file"):
        load_calendar(tmp_path / "nope.csv", cal)


def test_load_calendar_not_utf8(tmp_path: Path, cal: MarketCalendar) -> None:
    path = tmp_path / "calendar.csv"
    path.write_bytes(HEADER.encode() + b"N\xe9STLE,2026-11-24,,,\n")
    with pytest.raises(CalendarError, match="not UTF-8"):
        load_calendar(path, cal)
