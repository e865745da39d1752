"""The NYSE calendar kept on disk (strategy/calendar_cache.py): the same sessions as
exchange_calendars builds, never a damaged or foreign file trusted, never a start refused
because the cache cannot be written."""

from __future__ import annotations

import json
import logging
from datetime import date
from pathlib import Path

import pytest

from weekly_er_tui.strategy import calendar_cache
from weekly_er_tui.strategy.calendars import MarketCalendar

FIRST, LAST = date(2025, 1, 1), date(2027, 12, 31)


class Builds:
    """MarketCalendar.from_exchange over a small window, counting the builds."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> MarketCalendar:
        self.count += 1
        return MarketCalendar.from_exchange("XNYS", FIRST, LAST)


def kept(directory: Path, build: Builds) -> MarketCalendar:
    return calendar_cache.cached_calendar(build, "XNYS", FIRST, LAST, directory)


def test_the_kept_calendar_has_exchange_calendars_sessions_to_the_second(tmp_path: Path) -> None:
    build = Builds()
    first = kept(tmp_path, build)
    second = kept(tmp_path, build)
    assert build.count == 1, "the second start read the kept file"
    fresh = MarketCalendar.from_exchange("XNYS", FIRST, LAST)
    assert dict(second.sessions) == dict(fresh.sessions) == dict(first.sessions)
    assert (second.first, second.last, second.name) == (FIRST, LAST, "XNYS")
    # Thanksgiving 2026 closed, the day after closes at 13:00 ET.
    assert not second.is_session(date(2026, 11, 26))
    assert second.is_early_close(date(2026, 11, 27))


def test_the_file_is_named_after_the_installed_exchange_calendars(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    build = Builds()
    kept(tmp_path, build)
    monkeypatch.setattr(calendar_cache, "source_version", lambda: "99.0")
    kept(tmp_path, build)
    assert build.count == 2, "a new exchange_calendars (new holidays) builds its own calendar"
    assert len(list(tmp_path.glob("calendar-XNYS-*.json"))) == 2


@pytest.mark.parametrize("damage", [
    "",                                  # emptied (a full disk while writing)
    "{not json",
    '{"format": 1, "code": "XNYS", "first": "2025-01-01", "last": "2027-12-31", '
    '"sessions": [["2026-11-27", 1795000000, 1794000000]]}',     # closes before it opens
    '{"format": 1, "code": "XNYS", "first": "2025-01-01", "last": "2027-12-31", '
    '"sessions": [["2031-01-02", 1900000000, 1900020000]]}',     # outside its window
    '{"format": 1, "code": "XNYS", "first": "2025-01-01", "last": "2027-12-31", '
    '"sessions": []}',
    '{"format": 1, "code": "XNAS", "first": "2025-01-01", "last": "2027-12-31", '
    '"sessions": [["2026-11-27", 1795000000, 1795020000]]}',     # another exchange's
])
def test_a_damaged_file_is_not_trusted_but_rebuilt_and_said(
        tmp_path: Path, damage: str, caplog: pytest.LogCaptureFixture) -> None:
    path = calendar_cache.cache_file("XNYS", FIRST, LAST, tmp_path)
    path.write_text(damage)
    build = Builds()
    with caplog.at_level(logging.WARNING, "weekly_er_tui.calendar"):
        calendar = kept(tmp_path, build)
    assert build.count == 1
    assert dict(calendar.sessions) == dict(MarketCalendar.from_exchange(
        "XNYS", FIRST, LAST).sessions)
    assert "not trusted" in caplog.text and str(path) in caplog.text
    assert json.loads(path.read_text())["sessions"], "the damaged file was replaced"


def test_a_cache_path_that_is_a_file_costs_only_time(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A cache that cannot be written (here a file stands where its directory should be: a
    read-only directory would not stop root, as CI runs) is said and costs only time."""
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the cache directory should be")
    build = Builds()
    with caplog.at_level(logging.WARNING, "weekly_er_tui.calendar"):
        calendar = kept(blocker, build)
        again = kept(blocker, build)
    assert calendar.is_session(date(2026, 11, 27)) and again.is_session(date(2026, 11, 27))
    assert build.count == 2
    assert "not written" in caplog.text


def test_the_cache_directory_follows_the_environment(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEEKLY_ER_TUI_CACHE_DIR", str(tmp_path / "ours"))
    assert calendar_cache.cache_dir() == tmp_path / "ours"
    monkeypatch.delenv("WEEKLY_ER_TUI_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert calendar_cache.cache_dir() == tmp_path / "xdg" / "weekly-er-tui"
