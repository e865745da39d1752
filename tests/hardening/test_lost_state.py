"""Lost state is rebuilt, not forgotten: an empty or missing state database while the account
holds the strategy's positions (this app's orderRefs in the week's executions) -> the positions
are rebuilt from them, said loudly, and the Friday close closes them."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.engine.rig import Rig, close_rig, et, open_rig
from weekly_er_tui.clock import ManualClock
from weekly_er_tui.model import EventType, Severity
from weekly_er_tui.store import Store, StoreError

HELD = ("AAPL", "JNJ", "NVDA")


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    r = await open_rig(tmp_path, ManualClock(et(2026, 11, 18, 9, 0)), [
        "AAPL,2026-11-18,AMC,,",  # entry Wed 10:00
        "JNJ,2026-11-19,AMC,,", "NVDA,2026-11-20,BMO,,",  # entries Thu 10:00
    ])
    try:
        yield r
    finally:
        await close_rig(r)


def state_files(rig: Rig) -> list[Path]:
    return list((rig.data_dir / "state").glob("weekly_er.sqlite*"))


async def entered_and_stopped(rig: Rig) -> dict[str, float]:
    await rig.start_engine()
    await rig.enter(et(2026, 11, 18, 10))
    await rig.enter(et(2026, 11, 19, 10))
    held = {s: rig.sim_position(s) for s in HELD}
    assert all(q > 0 for q in held.values())
    await rig.stop_engine()
    return held


async def closes_them_on_friday(rig: Rig, held: dict[str, float]) -> None:
    rebuilt = [e for e in rig.events(EventType.SYSTEM) if e["severity"] == "CRITICAL"
               and e["message"].startswith("State database was empty")]
    assert len(rebuilt) == 1
    assert rebuilt[0]["details"]["rebuilt"] == {s: q for s, q in held.items()}
    for s in HELD:
        assert s in rebuilt[0]["message"]
    assert "KO" not in rebuilt[0]["details"]["rebuilt"]  # the trader's own stays theirs
    alerts = [a for a in rig.eng.alerts.records if a.priority is Severity.CRITICAL
              and "rebuilt" in a.title]
    assert alerts and all(s in alerts[0].title for s in HELD)
    assert {s: p.quantity for s, p in rig.eng.store.tracked_positions().items()} == held

    fc = await rig.friday_close()
    assert fc.flat is True
    assert all(rig.sim_position(s) == 0 for s in HELD)
    assert rig.sim_position("KO") == 100


async def test_a_deleted_state_database_is_rebuilt_and_closed_on_friday(rig: Rig) -> None:
    held = await entered_and_stopped(rig)
    for f in state_files(rig):
        f.unlink()
    rig.manual.set(et(2026, 11, 20, 9, 0))
    await rig.start_engine(planned=False)
    await closes_them_on_friday(rig, held)


async def test_an_empty_state_database_is_rebuilt_and_closed_on_friday(rig: Rig) -> None:
    held = await entered_and_stopped(rig)
    for f in state_files(rig):
        f.unlink()
    (rig.data_dir / "state" / "weekly_er.sqlite").write_bytes(b"")
    rig.manual.set(et(2026, 11, 20, 9, 0))
    await rig.start_engine(planned=False)
    await closes_them_on_friday(rig, held)


async def test_the_whole_data_directory_lost_on_thursday_is_rebuilt_from_ib(rig: Rig) -> None:
    await rig.start_engine()
    await rig.step_to_entry(et(2026, 11, 19, 10))  # Thursday's entries only
    await rig.until(lambda: all(rig.sim_position(s) > 0 for s in ("JNJ", "NVDA"))
                    and rig.journaled_all())
    held = {s: rig.sim_position(s) for s in ("JNJ", "NVDA")}
    await rig.stop_engine()
    shutil.rmtree(rig.data_dir)
    rig.manual.set(et(2026, 11, 19, 11, 0))  # the same day: IB still reports the executions
    await rig.start_engine(planned=False)
    rebuilt = [e for e in rig.events(EventType.SYSTEM) if e["severity"] == "CRITICAL"
               and e["message"].startswith("State database was empty")]
    assert len(rebuilt) == 1 and rebuilt[0]["details"]["rebuilt"] == held
    # The entries already filled are never sent again (their intents are rebuilt too).
    for ref in ("WER-20261119-JNJ-ENTRY", "WER-20261120-NVDA-ENTRY"):
        intent = rig.eng.store.intent(ref)
        assert intent is not None and intent.status == "FILLED"
    before = len(rig.ours())
    fc = await rig.friday_close()
    assert fc.flat is True and all(rig.sim_position(s) == 0 for s in held)
    sells = [x for x in rig.ours()[before:] if x.side == "SLD"]
    assert {x.symbol: x.qty for x in sells} == held
    assert not [x for x in rig.ours()[before:] if x.side == "BOT"], "no entry sent twice"


def test_the_corrupt_database_message_says_what_the_next_start_does(tmp_path: Path) -> None:
    db = tmp_path / "state" / "weekly_er.sqlite"
    db.parent.mkdir(parents=True)
    db.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4096)
    with pytest.raises(StoreError) as err:
        Store(db)
    text = str(err.value)
    assert "moved aside" in text and "nothing was started" in text
    assert "The next start creates a new, empty database, starts ACTIVE" in text
    assert "rebuilds the strategy's positions" in text and "Friday close closes them" in text
