from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest

from weekly_er_tui.clock import ET
from weekly_er_tui.config import StrategyConfig
from weekly_er_tui.journal import Fill
from weekly_er_tui.model import PlanStatus
from weekly_er_tui.strategy.base import Strategy, StrategyContext
from weekly_er_tui.strategy.calendars import EarningsRow, MarketCalendar
from weekly_er_tui.strategy.plan import (
    HoldThroughReport,
    PlannedEntry,
    describe_plan_entry,
    entry_missed,
    entry_order_ref,
    entry_time_of,
    friday_close_times,
    plan_event_details,
    plan_symbols,
    to_plan_entry,
    week_plan,
)

TEN = time(10, 0)


def et(d: date, hh: int, mm: int = 0) -> datetime:
    return datetime.combine(d, time(hh, mm), tzinfo=ET)


def r(symbol: str, d: date, timing: str = "BMO", side: str = "BUY") -> EarningsRow:
    return EarningsRow(symbol, d, timing, side, None, 2)  # type: ignore[arg-type]


def one(row: EarningsRow, cal: MarketCalendar, week_of: date | None = None) -> PlannedEntry:
    [p] = week_plan([row], week_of or row.report_date, cal, TEN)
    return p


def test_bmo_tuesday_enters_monday(cal: MarketCalendar) -> None:
    p = one(r("AAPL", date(2026, 11, 17)), cal)
    assert p.status is PlanStatus.PLANNED
    assert p.entry_session == date(2026, 11, 16)
    assert p.entry_at == et(date(2026, 11, 16), 10)
    assert p.note == ""


def test_amc_wednesday_enters_wednesday(cal: MarketCalendar) -> None:
    p = one(r("NVDA", date(2026, 11, 18), "AMC"), cal)
    assert (p.status, p.entry_at) == (PlanStatus.PLANNED, et(date(2026, 11, 18), 10))


def test_bmo_friday_after_thanksgiving_enters_wednesday(cal: MarketCalendar) -> None:
    p = one(r("DE", date(2026, 11, 27)), cal)
    assert p.status is PlanStatus.PLANNED
    assert p.entry_at == et(date(2026, 11, 25), 10)  # Thursday is Thanksgiving


def test_monday_bmo_is_skipped(cal: MarketCalendar) -> None:
    p = one(r("XOM", date(2026, 11, 23)), cal)
    assert p.status is PlanStatus.SKIPPED
    assert p.entry_at == et(date(2026, 11, 20), 10)  # where it would have been
    assert "previous week" in p.note and "over the weekend" in p.note


def test_bmo_tuesday_after_a_monday_holiday_is_skipped(cal: MarketCalendar) -> None:
    # Labor Day 2026 is Monday 2026-09-07: Tuesday is the week's first session.
    p = one(r("XOM", date(2026, 9, 8)), cal)
    assert p.status is PlanStatus.SKIPPED and "Fri 2026-09-04" in p.note


def test_monday_amc_is_planned(cal: MarketCalendar) -> None:
    p = one(r("XOM", date(2026, 11, 23), "AMC"), cal)
    assert (p.status, p.entry_at) == (PlanStatus.PLANNED, et(date(2026, 11, 23), 10))


def test_amc_on_the_last_session_is_skipped(cal: MarketCalendar) -> None:
    p = one(r("YY", date(2026, 11, 20), "AMC"), cal)
    assert p.status is PlanStatus.SKIPPED
    assert "Friday close sells before the report" in p.note


def test_amc_on_thursday_before_good_friday_is_skipped(cal: MarketCalendar) -> None:
    p = one(r("YY", date(2027, 3, 25), "AMC"), cal)
    assert p.status is PlanStatus.SKIPPED and "last session" in p.note


def test_bmo_on_thursday_before_good_friday_is_planned(cal: MarketCalendar) -> None:
    p = one(r("YY", date(2027, 3, 25)), cal)
    assert (p.status, p.entry_at) == (PlanStatus.PLANNED, et(date(2027, 3, 24), 10))


def test_blank_timing_is_entered_as_bmo(cal: MarketCalendar) -> None:
    p = one(r("ZZ", date(2026, 11, 18), ""), cal)
    assert (p.status, p.entry_at) == (PlanStatus.PLANNED, et(date(2026, 11, 17), 10))
    assert "timing unknown" in p.note


def test_blank_timing_on_monday_is_skipped(cal: MarketCalendar) -> None:
    assert one(r("ZZ", date(2026, 11, 16), ""), cal).status is PlanStatus.SKIPPED


def test_blank_timing_on_the_last_session_is_planned_with_a_warning(cal: MarketCalendar) -> None:
    p = one(r("ZZ", date(2026, 11, 20), ""), cal)
    assert p.status is PlanStatus.PLANNED
    assert "the Friday close will have sold first" in p.note


def test_entry_time_outside_the_session_is_skipped_not_moved(cal: MarketCalendar) -> None:
    [p] = week_plan([r("KMX", date(2026, 12, 28), "AMC")], date(2026, 12, 28), cal, time(17))
    assert p.status is PlanStatus.SKIPPED
    assert "entry time 17:00 ET is outside the session of Mon 2026-12-28 (09:30-16:00 ET)" in p.note
    [p] = week_plan([r("KMX", date(2026, 12, 28), "AMC")], date(2026, 12, 28), cal, time(9))
    assert p.status is PlanStatus.SKIPPED


def test_entry_time_after_an_early_close_is_skipped() -> None:
    # A made-up exchange with a mid-week early close (real ones fall on a week's last session).
    days = [date(2026, 11, 9) + timedelta(days=i) for i in range(19)]
    hours = {
        d: (et(d, 9, 30), et(d, 13 if d == date(2026, 11, 18) else 16))
        for d in days
        if d.weekday() < 5
    }
    fake = MarketCalendar(hours, days[0], days[-1], "TEST")
    [p] = week_plan([r("KMX", date(2026, 11, 18), "AMC")], date(2026, 11, 18), fake, time(14))
    assert p.status is PlanStatus.SKIPPED
    assert "outside the session of Wed 2026-11-18 (09:30-13:00 ET)" in p.note
    [p] = week_plan([r("KMX", date(2026, 11, 18), "AMC")], date(2026, 11, 18), fake, time(12))
    assert p.status is PlanStatus.PLANNED


def test_entry_time_is_new_york_time_across_dst(cal: MarketCalendar) -> None:
    # Monday 2026-11-02 is the first session after clocks went back: 10:00 ET is 15:00 UTC.
    p = one(r("DST", date(2026, 11, 3)), cal)
    assert p.entry_at.utcoffset() == timedelta(0)
    assert (p.entry_at.hour, p.entry_at.minute) == (15, 0)
    p = one(r("DST", date(2026, 10, 29)), cal)
    assert p.entry_at.hour == 14


def test_week_plan_takes_only_this_weeks_reports_in_entry_order(cal: MarketCalendar) -> None:
    rows = [
        r("NEXT", date(2026, 11, 30), "AMC"),
        r("B", date(2026, 11, 25), "AMC"),
        r("A", date(2026, 11, 25), "AMC"),
        r("EARLY", date(2026, 11, 24)),
        r("LAST", date(2026, 11, 20), "AMC"),
    ]
    plan = week_plan(rows, date(2026, 11, 28), cal, TEN)  # a Saturday: the same ISO week
    assert [p.row.symbol for p in plan] == ["EARLY", "A", "B"]
    assert week_plan(rows, date(2026, 12, 14), cal, TEN) == []


def test_a_report_on_a_non_session_built_in_code_is_skipped(cal: MarketCalendar) -> None:
    p = one(r("HOL", date(2026, 11, 26), "AMC"), cal)
    assert p.status is PlanStatus.SKIPPED
    assert p.note == "2026-11-26 (Thursday) is an NYSE holiday: no report is expected on it"


def test_friday_close_on_the_early_close(cal: MarketCalendar) -> None:
    fc = friday_close_times(date(2026, 11, 23), cal, 15, 5)
    assert fc.last_session == date(2026, 11, 27)
    assert fc.close_at == et(date(2026, 11, 27), 12, 45)
    assert fc.backup_at == et(date(2026, 11, 27), 12, 55)
    assert fc.bell == et(date(2026, 11, 27), 13, 0)


def test_friday_close_on_thursday_before_good_friday(cal: MarketCalendar) -> None:
    fc = friday_close_times(date(2027, 3, 22), cal, 15, 5)
    assert fc.last_session == date(2027, 3, 25)
    assert fc.close_at == et(date(2027, 3, 25), 15, 45)
    assert fc.backup_at == et(date(2027, 3, 25), 15, 55)
    assert fc.bell == et(date(2027, 3, 25), 16, 0)


def test_friday_close_on_an_ordinary_friday_after_dst(cal: MarketCalendar) -> None:
    fc = friday_close_times(date(2026, 11, 2), cal, 30, 10)
    assert fc.close_at == et(date(2026, 11, 6), 15, 30)
    assert fc.close_at.utcoffset() == timedelta(0) and fc.close_at.hour == 20


def test_friday_close_rejects_offsets_out_of_order(cal: MarketCalendar) -> None:
    with pytest.raises(ValueError, match="backup_offset_minutes < close_offset_minutes"):
        friday_close_times(date(2026, 11, 23), cal, 5, 15)
    with pytest.raises(ValueError, match="before the session opens"):
        friday_close_times(date(2026, 11, 23), cal, 300, 5)  # 13:00 - 5 h is before 09:30


def test_to_plan_entry_and_its_journal_forms(cal: MarketCalendar) -> None:
    p = one(r("ZZ", date(2026, 11, 18), "", "SELL"), cal)
    e = to_plan_entry(p, 66, 10_000.0, order_ref=entry_order_ref(p.row), note="priced at 150")
    assert (e.symbol, e.report_date, e.timing, e.side) == ("ZZ", "2026-11-18", "", "SELL")
    assert (e.quantity, e.notional, e.status) == (66, 10_000.0, PlanStatus.PLANNED)
    assert e.planned_entry == et(date(2026, 11, 17), 10)
    assert e.order_ref == "WER-20261118-ZZ-ENTRY"
    assert e.note.startswith("timing unknown") and e.note.endswith("; priced at 150")
    assert to_plan_entry(p, 0, 0.0, status=PlanStatus.FAILED).status is PlanStatus.FAILED
    line = describe_plan_entry(e)
    assert line.startswith(
        "ZZ reports 2026-11-18 timing unknown: short 66 shares (~$10,000), "
        "entry Tue 2026-11-17 10:00 ET, PLANNED ("
    )
    details = plan_event_details(e)
    assert details["planned_entry"] == "2026-11-17T10:00:00-05:00"
    assert details["status"] == "PLANNED" and details["quantity"] == 66


def test_entry_order_ref_is_deterministic_and_has_no_spaces() -> None:
    row = r("BRK B", date(2026, 11, 18))
    assert entry_order_ref(row) == entry_order_ref(row) == "WER-20261118-BRK_B-ENTRY"


def test_entry_time_of_config() -> None:
    assert entry_time_of(StrategyConfig()) == time(10, 0)
    assert entry_time_of(StrategyConfig(entry_time="9:45")) == time(9, 45)


def test_entry_missed_after_the_entry_session_closes(cal: MarketCalendar) -> None:
    e = to_plan_entry(one(r("A", date(2026, 11, 25), "AMC"), cal), 1, 1.0)
    assert not entry_missed(e, et(date(2026, 11, 25), 15, 59), cal)
    assert entry_missed(e, et(date(2026, 11, 25), 16, 0), cal)


# -- the default strategy through the interface ----------------------------------------------------


def ctx_for(cal: MarketCalendar, **kw: object) -> StrategyContext:
    rows = (
        r("AAPL", date(2026, 11, 24)),  # BMO Tue -> Mon 11-23
        r("NVDA", date(2026, 11, 25), "AMC", "SELL"),  # AMC Wed -> Wed 11-25
        r("XOM", date(2026, 11, 23)),  # Monday BMO: skipped
    )
    base: dict[str, object] = dict(
        week_of=date(2026, 11, 23),
        calendar=cal,
        config=StrategyConfig(),
        max_position_value=50_000.0,
        reports=rows,
        prices={"AAPL": 150.0, "NVDA": 200.0},
    )
    base.update(kw)
    return StrategyContext(**base)  # type: ignore[arg-type]


def test_default_strategy_is_a_strategy() -> None:
    assert isinstance(HoldThroughReport(), Strategy)


def test_default_plan_is_sized(cal: MarketCalendar) -> None:
    plan = HoldThroughReport().plan(ctx_for(cal, prices={"AAPL": 150.0}))
    assert [(e.symbol, e.status, e.quantity, e.notional) for e in plan] == [
        ("XOM", PlanStatus.SKIPPED, 0, 0.0),
        ("AAPL", PlanStatus.PLANNED, 66, 10_000.0),
        ("NVDA", PlanStatus.PLANNED, 0, 10_000.0),
    ]
    assert "no price yet" in plan[2].note
    assert all(e.order_ref.startswith("WER-") for e in plan)
    assert plan_symbols(plan) == ["AAPL", "NVDA"]


def test_default_on_time_proposes_due_entries_only(cal: MarketCalendar) -> None:
    s = HoldThroughReport()
    ctx = ctx_for(cal)
    ctx = ctx_for(cal, plan=tuple(s.plan(ctx)))
    assert s.on_time(ctx, et(date(2026, 11, 23), 9, 59)) == []
    [aapl] = s.on_time(ctx, et(date(2026, 11, 23), 10, 0))
    assert (aapl.symbol, aapl.side, aapl.quantity, aapl.reason) == ("AAPL", "BUY", 66, "entry")
    assert aapl.order_ref == "WER-20261124-AAPL-ENTRY"
    # Still due later that session (the runner refuses a ref it already recorded) ...
    assert [p.symbol for p in s.on_time(ctx, et(date(2026, 11, 23), 15, 0))] == ["AAPL"]
    # ... but not once the session has closed, nor when already held.
    assert s.on_time(ctx, et(date(2026, 11, 23), 16, 0)) == []
    held = ctx_for(cal, plan=ctx.plan, positions={"AAPL": 66.0})
    assert s.on_time(held, et(date(2026, 11, 23), 10, 0)) == []
    [nvda] = s.on_time(ctx, et(date(2026, 11, 25), 10, 30))
    assert (nvda.symbol, nvda.side, nvda.quantity) == ("NVDA", "SELL", 50)


def test_default_on_time_sizes_at_the_current_price(cal: MarketCalendar) -> None:
    s = HoldThroughReport()
    plan = tuple(s.plan(ctx_for(cal)))
    ctx = ctx_for(cal, plan=plan, prices={"AAPL": 100.0})
    [p] = s.on_time(ctx, et(date(2026, 11, 23), 10))
    assert p.quantity == 100


def test_default_on_time_waits_for_a_price_and_skips_non_planned(cal: MarketCalendar) -> None:
    s = HoldThroughReport()
    plan = tuple(s.plan(ctx_for(cal)))
    assert s.on_time(ctx_for(cal, plan=plan, prices={}), et(date(2026, 11, 23), 10)) == []
    entering = (
        to_plan_entry(one(r("AAPL", date(2026, 11, 24)), cal), 66, 1.0, PlanStatus.ENTERING),
    )
    assert s.on_time(ctx_for(cal, plan=entering), et(date(2026, 11, 23), 10)) == []


def test_default_on_time_never_after_the_friday_close(cal: MarketCalendar) -> None:
    s = HoldThroughReport()
    # An entry on the last session could only come from a custom plan: still never proposed.
    row = r("LATE", date(2026, 11, 27), "AMC")
    p = PlannedEntry(row, date(2026, 11, 27), et(date(2026, 11, 27), 12, 50), PlanStatus.PLANNED)
    ctx = ctx_for(cal, reports=(row,), plan=(to_plan_entry(p, 1, 1.0),), prices={"LATE": 10.0})
    assert s.on_time(ctx, et(date(2026, 11, 27), 12, 44)) == []  # not yet due
    assert s.on_time(ctx, et(date(2026, 11, 27), 12, 50)) == []  # due, but after 12:45


def test_default_on_fill_is_harmless(cal: MarketCalendar) -> None:
    HoldThroughReport().on_fill(ctx_for(cal), Fill("e1", "AAPL", "BOT", 66, 150.0))
