"""The Friday close against the simulated gateway: the exchange's early close and Good Friday,
partial fills that leave the backup work to do, and a gateway drop as the close starts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from tests.conftest import IbLogGuard
from tests.engine.rig import LINK_FAULT_LOGS, Rig, close_rig, et, open_rig
from weekly_er_tui.clock import ET, ManualClock
from weekly_er_tui.model import EventType, PlanStatus, Severity
from weekly_er_tui.sim import SimExecution


@pytest.fixture
async def rigs(tmp_path: Path) -> AsyncIterator[list[Rig]]:
    made: list[Rig] = []
    yield made
    for r in made:
        await close_rig(r)


async def started(rigs: list[Rig], tmp_path: Path, start: tuple[int, ...], rows: list[str]
                  ) -> Rig:
    rig = await open_rig(tmp_path, ManualClock(et(*start)), rows)
    rigs.append(rig)
    await rig.start_engine()
    return rig


def closing_fills(rig: Rig) -> list[SimExecution]:
    refs = {e.order_ref for e in rig.plan()}
    return [x for x in rig.ours() if x.order_ref not in refs]


def flat(rig: Rig) -> bool:
    return all(rig.sim_position(e.symbol) == 0 for e in rig.plan())


async def test_the_early_close_of_2026_11_27_closes_before_13_00(
    rigs: list[Rig], tmp_path: Path
) -> None:
    rig = await started(rigs, tmp_path, (2026, 11, 25, 9, 0), [
        "AAPL,2026-11-25,AMC,,",  # entry Wed
        "MSFT,2026-11-27,BMO,,",  # entry Wed too: Thanksgiving does not trade
    ])
    fc = rig.close_state()
    assert (fc.close_at.astimezone(ET), fc.backup_at.astimezone(ET), fc.bell.astimezone(ET)) == (
        et(2026, 11, 27, 12, 45), et(2026, 11, 27, 12, 55), et(2026, 11, 27, 13, 0))
    assert {e.planned_entry.astimezone(ET) for e in rig.plan()} == {et(2026, 11, 25, 10)}
    await rig.enter(et(2026, 11, 25, 10))
    assert rig.sim_position("AAPL") > 0 and rig.sim_position("MSFT") > 0

    fc = await rig.friday_close()
    closes = closing_fills(rig)
    assert sorted(x.symbol for x in closes) == ["AAPL", "MSFT"]
    for x in closes:
        when = x.time.astimezone(ET)
        assert when.date().isoformat() == "2026-11-27" and when.hour < 13
        assert when == et(2026, 11, 27, 12, 45)
    assert fc.flat is True and flat(rig)
    started_ev = rig.events(EventType.FRIDAY_CLOSE)[0]
    assert started_ev["details"]["bell"] == et(2026, 11, 27, 13, 0).isoformat()
    assert started_ev["timestamp"].startswith("2026-11-27T12:45")
    rig.assert_journal_is_the_simulators()


async def test_good_friday_week_closes_on_thursday(rigs: list[Rig], tmp_path: Path) -> None:
    rig = await started(rigs, tmp_path, (2027, 3, 24, 9, 0), [
        "JPM,2027-03-24,AMC,,",  # entry Wed
        "XOM,2027-03-25,BMO,,",  # entry Wed
        "NVDA,2027-03-25,AMC,,",  # Thursday is the week's last session: skipped
    ])
    fc = rig.close_state()
    assert fc.last_session.isoformat() == "2027-03-25"
    assert fc.close_at.astimezone(ET) == et(2027, 3, 25, 15, 45)
    assert rig.entry("NVDA").status is PlanStatus.SKIPPED
    await rig.enter(et(2027, 3, 24, 10))

    fc = await rig.friday_close()
    closes = closing_fills(rig)
    assert sorted(x.symbol for x in closes) == ["JPM", "XOM"]
    assert {x.time.astimezone(ET) for x in closes} == {
        et(2027, 3, 25, 15, 45)}
    assert fc.flat is True and flat(rig)
    assert all(e["timestamp"].startswith("2027-03-25")
               for e in rig.events(EventType.FRIDAY_CLOSE))
    assert not rig.eng.calendar.is_session(et(2027, 3, 26, 12).date())
    rig.assert_journal_is_the_simulators()


async def test_partial_fills_at_the_close_the_backup_closes_the_rest(
    rigs: list[Rig], tmp_path: Path, ib_log_guard: IbLogGuard
) -> None:
    ib_log_guard.expect(r"Error 202, reqId \d+: Order Canceled")  # the backup cancels them
    rig = await started(rigs, tmp_path, (2026, 11, 19, 9, 0), [
        "JNJ,2026-11-19,AMC,,", "NVDA,2026-11-20,BMO,,",  # entries Thu
    ])
    await rig.enter(et(2026, 11, 19, 10))
    held = {s: rig.sim_position(s) for s in ("JNJ", "NVDA")}
    fc = rig.close_state()

    # The close's orders fill a quarter at once, the rest an hour later: after the bell.
    rig.gw.partial_fills(4, interval=3600)
    rig.manual.set(fc.close_at)
    await rig.until(lambda: len(closing_fills(rig)) == 2 and rig.journaled_all())
    part = {s: rig.sim_position(s) for s in held}
    assert all(0 < part[s] < held[s] for s in held)
    assert not rig.has_phase("done")  # still working

    rig.gw.partial_fills(1)
    rig.manual.set(fc.backup_at)
    await rig.until(lambda: rig.has_phase("backup") and flat(rig) and rig.journaled_all())
    backup = [e for e in rig.events(EventType.FRIDAY_CLOSE)
              if e["details"].get("phase") == "backup"]
    assert backup[0]["severity"] == "CRITICAL"
    assert backup[0]["details"]["open"] == part
    interrupted = [e for e in rig.events(EventType.FRIDAY_CLOSE)
                   if e["details"].get("interrupted")]
    assert interrupted, "the close still working at the backup time is said so"
    critical = [a for a in rig.eng.alerts.records if a.priority is Severity.CRITICAL]
    assert any("Friday close backup" in a.title and "JNJ" in a.title and "NVDA" in a.title
               for a in critical), [a.title for a in rig.eng.alerts.records]
    # The backup sold exactly what was left, at the backup's instant.
    rest = [x for x in closing_fills(rig) if x.time == fc.backup_at]
    assert {x.symbol: x.qty for x in rest} == part

    rig.manual.set(fc.bell)
    await rig.until(lambda: rig.has_phase("result"))
    result = rig.events(EventType.FRIDAY_CLOSE)[-1]
    assert result["severity"] == "INFO" and result["details"]["flat"] is True
    assert rig.close_state().flat is True and not rig.gw.open_orders()
    rows = rig.assert_journal_is_the_simulators()
    assert {r["reason"] for r in rows} == {"ENTRY", "FRIDAY_CLOSE"}


async def test_a_drop_as_the_close_starts_back_after_60s_is_flat_before_the_bell(
    rigs: list[Rig], tmp_path: Path, ib_log_guard: IbLogGuard
) -> None:
    for pattern in LINK_FAULT_LOGS:
        ib_log_guard.expect(pattern)
    rig = await started(rigs, tmp_path, (2026, 11, 19, 9, 0), [
        "JNJ,2026-11-19,AMC,,", "NVDA,2026-11-20,BMO,,",
    ])
    await rig.enter(et(2026, 11, 19, 10))
    fc = rig.close_state()

    # The gateway goes away (and stays away) just as the close begins.
    rig.manual.set(fc.close_at - timedelta(seconds=1))
    rig.gw.refuse_connections()
    rig.gw.drop_all()
    await rig.until(lambda: not rig.eng.monitor.is_connected)
    rig.manual.set(fc.close_at)
    await rig.until(lambda: rig.has_phase("waiting"))
    assert not closing_fills(rig)

    # Back 60 s later (simulated time): the close resumes at once and finishes.
    back = fc.close_at + timedelta(seconds=60)
    rig.manual.set(back)
    rig.gw.accept_connections()
    await rig.until(lambda: rig.has_phase("done") and rig.journaled_all(), timeout=15)
    assert rig.close_phases()[:4] == ["started", "waiting", "resumed", "done"]
    closes = closing_fills(rig)
    assert sorted(x.symbol for x in closes) == ["JNJ", "NVDA"]
    assert {x.time for x in closes} == {back}
    assert flat(rig)

    rig.manual.set(fc.backup_at)
    await rig.until(lambda: rig.has_phase("backup"))
    rig.manual.set(fc.bell)
    await rig.until(lambda: rig.has_phase("result"))
    assert rig.close_state().flat is True
    assert rig.events(EventType.FRIDAY_CLOSE)[-1]["severity"] == "INFO"
    assert rig.events(EventType.RECONNECTED)
    rig.assert_journal_is_the_simulators()


async def test_a_drop_while_the_close_orders_fill_finishes_at_the_reconnect(
    rigs: list[Rig], tmp_path: Path, ib_log_guard: IbLogGuard
) -> None:
    for pattern in LINK_FAULT_LOGS:
        ib_log_guard.expect(pattern)
    rig = await started(rigs, tmp_path, (2026, 11, 19, 9, 0), [
        "JNJ,2026-11-19,AMC,,", "NVDA,2026-11-20,BMO,,",
    ])
    await rig.enter(et(2026, 11, 19, 10))
    fc = rig.close_state()

    # The close's orders fill in two halves 30 s apart; the link drops after the first half.
    rig.gw.partial_fills(2, interval=30)
    rig.manual.set(fc.close_at)
    await rig.until(lambda: len(closing_fills(rig)) == 2 and rig.journaled_all())
    rig.gw.refuse_connections()
    rig.gw.drop_all()
    await rig.until(lambda: not rig.eng.monitor.is_connected)
    back = fc.close_at + timedelta(seconds=60)
    rig.manual.set(back)
    await rig.until(lambda: len(closing_fills(rig)) == 4)  # filled while the link was down
    rig.gw.partial_fills(1)
    rig.gw.accept_connections()
    await rig.until(lambda: rig.eng.monitor.is_connected and rig.journaled_all())
    assert flat(rig)

    # Back at 15:46 with nothing left to do: the close says so at once, naming what it closed.
    def done() -> dict[str, object] | None:
        ev = [e for e in rig.events(EventType.FRIDAY_CLOSE) if e["details"].get("phase") == "done"]
        return ev[0]["details"] if ev else None

    await rig.until(done, timeout=5)
    details = done()
    assert details is not None and details["closed"] == ["JNJ", "NVDA"] and details["flat"]
    rig.manual.set(fc.backup_at)
    await rig.until(lambda: rig.has_phase("backup"))
    rig.manual.set(fc.bell)
    await rig.until(lambda: rig.has_phase("result"))
    assert rig.close_state().flat is True
    rig.assert_journal_is_the_simulators()
