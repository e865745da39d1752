"""When the disk refuses the records: tell a person once, keep retrying, say when it is back.

The journal (logs/*.csv) and the state database never let a failing disk (ENOSPC, EROFS, EIO)
stop a safety action: they keep what they could not write in memory and log it to the console
(see journal.CsvAppender and store.StateDb). This watch is the loud part: a CRITICAL event and
alert naming what fails and where the records went, a retry every second (real time: the disk is
a machine matter, not a market one) that writes the kept records out when the disk is back, and
an event when it is.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from weekly_er_tui.model import Alert, EventType, Severity

log = logging.getLogger("weekly_er_tui.records")


def has_console_log() -> bool:
    """True when the root logger writes to a console stream (headless, the CLI commands); the
    Textual app has none: its terminal is the screen's."""
    return any(type(h) is logging.StreamHandler for h in logging.getLogger().handlers)

RETRY_SECONDS = 1.0

# (where, error): error is None when `where` is written again.
TroubleListener = Callable[[str, str | None], None]


class RecordsWatch:
    """Wires the journal's and the store's trouble reports to an event, an alert and a retry."""

    def __init__(self, journal: object, store: object, alert: Callable[[Alert], None],
                 retry_seconds: float = RETRY_SECONDS) -> None:
        # Duck-typed (journal.Journal, store.Store) so this module sits beside them, not above.
        self._journal = journal
        self._store = store
        self._alert = alert
        self._retry_seconds = retry_seconds
        self.failing: dict[str, str] = {}
        self._retry: asyncio.TimerHandle | None = None
        for part in (journal, store):
            add = getattr(part, "add_trouble_listener", None)
            if add is not None:
                add(self._on_trouble)

    def _on_trouble(self, where: str, error: str | None) -> None:
        if error is not None:
            first = not self.failing
            known = where in self.failing
            self.failing[where] = error
            if not known:
                self._report_failing(where, error, first)
            self._schedule_retry()
        elif self.failing.pop(where, None) is not None:
            self._event(EventType.SYSTEM, Severity.HIGH,
                        f"Records written again: {where} is on disk, with what was kept in "
                        f"memory meanwhile" + ("" if self.failing else "; entries allowed again"),
                        {"where": where, "still_failing": sorted(self.failing)})
            if not self.failing:
                self.cancel()

    def _report_failing(self, where: str, error: str, first: bool) -> None:
        console = has_console_log()
        kept = ("kept in memory and logged to the console (stderr / the headless log)" if console
                else "kept in memory only (the screen owns this terminal: no console log)")
        lost = ("the console log is the record" if console
                else "they are lost: keep the app running until the disk is back")
        message = (
            f"Records are failing: {where} cannot be written ({error}). They are {kept} and "
            f"will be written out when the disk is back; if the app stops before that, {lost}. "
            f"Closing orders still go out; new entries are refused until records work. "
            f"Free space on the disk (or fix its permissions or device) now."
        )
        self._event(EventType.SYSTEM, Severity.CRITICAL, message,
                    {"where": where, "error": error,
                     "fallback": ["memory", "console"] if console else ["memory"]})
        self._alert(Alert(
            key=f"records_failing:{where}", priority=Severity.CRITICAL, kind="system",
            title=f"Records failing: {where} cannot be written ({error})",
            body=message, facts={"where": where, "error": error},
        ))

    def _event(self, kind: EventType, severity: Severity, message: str,
               details: dict[str, object]) -> None:
        event = getattr(self._journal, "event", None)
        if event is None:
            log.log(logging.CRITICAL if severity is Severity.CRITICAL else logging.WARNING,
                    "%s", message)
            return
        event(kind, severity, message, details)

    def _schedule_retry(self) -> None:
        if self._retry is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (a command-line tool): the next write retries
            return
        self._retry = loop.call_later(self._retry_seconds, self._retry_now)

    def _retry_now(self) -> None:
        self._retry = None
        for part in (self._journal, self._store):
            retry = getattr(part, "retry_records", None)
            if retry is not None:
                try:
                    retry()
                except Exception:  # a retry must never kill the loop that runs the close
                    log.exception("retrying the records failed")
        if self.failing:
            self._schedule_retry()

    def cancel(self) -> None:
        if self._retry is not None:
            with contextlib.suppress(Exception):
                self._retry.cancel()
            self._retry = None
