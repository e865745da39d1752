"""The records-failing alert says where the records went: the console only when there is one."""

from __future__ import annotations

import io
import logging
from pathlib import Path

from weekly_er_tui.journal import remove_handlers, setup_logging
from weekly_er_tui.model import Alert
from weekly_er_tui.records import RecordsWatch, has_console_log


def test_headless_logs_to_the_console_and_the_app_does_not(tmp_path: Path) -> None:
    assert not has_console_log()  # the app: the log file only
    handlers = setup_logging(tmp_path, console=io.StringIO())
    try:
        assert has_console_log()  # headless and the CLI commands
    finally:
        remove_handlers(handlers)
    assert not any(type(h) is logging.StreamHandler for h in logging.getLogger().handlers)


def test_the_alert_names_the_console_only_when_there_is_one(tmp_path: Path) -> None:
    sent: list[Alert] = []
    handlers = setup_logging(tmp_path, console=io.StringIO())
    try:
        watch = RecordsWatch(None, None, sent.append)
        watch._report_failing("events_log.csv", "[Errno 28] No space left on device", True)
    finally:
        remove_handlers(handlers)
    assert "logged to the console" in sent[-1].body
    watch = RecordsWatch(None, None, sent.append)
    watch._report_failing("events_log.csv", "[Errno 28] No space left on device", True)
    assert "kept in memory only" in sent[-1].body and "console log is" not in sent[-1].body
