"""Shared fixtures.

The ib_async decoder only LOGS a message it cannot parse and drops it: a wrong field count in the
simulator shows up as a silent hang. So every test fails on an ERROR record from ib_async that the
test did not declare with `ib_log_guard.expect(...)`.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Iterator

import pytest

# ib_async names its decoder logger "ib_async.Decoder" (capital D); watch both spellings.
IB_LOGGERS = (
    "ib_async.Decoder", "ib_async.decoder", "ib_async.wrapper", "ib_async.client", "ib_async.ib",
)


# A dropped socket reads as a clean close or, with data in flight, as a reset.
LINK_FAULT_LOGS = (
    "Peer closed connection", "Connection reset by peer", "API connection failed",
    "Make sure API port", "Socket disconnect",
)


class IbLogGuard(logging.Handler):
    """Collects ERROR records from ib_async's loggers; `expect(regex)` allows matching ones."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: list[logging.LogRecord] = []
        self.expected: list[re.Pattern[str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def expect(self, pattern: str) -> None:
        self.expected.append(re.compile(pattern))

    def expect_link_faults(self) -> None:
        """What ib_async logs at ERROR when a test drops, refuses or resets the link."""
        for pattern in LINK_FAULT_LOGS:
            self.expect(pattern)

    def unexpected(self) -> list[str]:
        out = []
        for rec in self.records:
            msg = rec.getMessage()
            if rec.exc_info and rec.exc_info[1] is not None:
                msg += f" ({rec.exc_info[1]!r})"
            if not any(p.search(msg) for p in self.expected):
                out.append(f"{rec.name}: {msg}")
        return out


@pytest.fixture(autouse=True)
def ib_log_guard() -> Iterator[IbLogGuard]:
    guard = IbLogGuard()
    loggers = [logging.getLogger(name) for name in IB_LOGGERS]
    for lg in loggers:
        lg.addHandler(guard)
    try:
        yield guard
    finally:
        for lg in loggers:
            lg.removeHandler(guard)
    bad = guard.unexpected()
    if bad:
        pytest.fail("unexpected ERROR records from ib_async:\n  " + "\n  ".join(bad))


@pytest.fixture(autouse=True)
def engine_lock_dir(tmp_path_factory: pytest.TempPathFactory,
                    monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test's account locks in a directory of its own: the suites of several checkouts run
    at once on this machine with the same demo accounts."""
    path = tmp_path_factory.mktemp("locks")
    path.chmod(0o700)
    monkeypatch.setenv("WEEKLY_ER_TUI_RUNTIME_DIR", str(path))
    yield


# Fixtures of the simulated gateway, shared by every integration test.
from tests.fixtures_sim import *  # noqa: E402, F403


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "kind_simulator(why): the test needs the kind simulator (sim/realism.py "
        "Realism.kind()) for a wire-format reason; integration tests run on Realism.real()")


# Figures the suites report at the end: the soak's table of invariants per seed, the fuzz count.
# Their tests attach them to their reports (user_properties), so they reach this process from
# xdist workers as well as in a plain run; this is an initial conftest, loaded in both.
_SOAK_VERDICTS: dict[tuple[int, str], str] = {}
_SOAK_NOTES: dict[int, str] = {}
_FUZZ_CASES: Counter[str] = Counter()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    for key, value in report.user_properties:
        if key == "soak_verdict":
            seed, name, verdict = value
            _SOAK_VERDICTS[(int(seed), str(name))] = str(verdict)
        elif key == "soak_note":
            seed, note = value
            _SOAK_NOTES[int(seed)] = str(note)
        elif key == "fuzz_cases":
            _FUZZ_CASES.update(value)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    tr = terminalreporter
    if _SOAK_VERDICTS:
        from tests.soak.invariants import INVARIANTS

        seeds = sorted({s for s, _ in _SOAK_VERDICTS})
        names = [n for n in INVARIANTS if any((s, n) in _SOAK_VERDICTS for s in seeds)]
        width = max(len(n) for n in names)
        tr.section("soak: invariants per seed")
        tr.write_line("seed".ljust(width) + " |" + "".join(f"{s:>6}" for s in seeds))
        for name in names:
            cells = "".join(f"{_SOAK_VERDICTS.get((s, name), '-'):>6}" for s in seeds)
            tr.write_line(f"{name.ljust(width)} |{cells}")
        for seed in seeds:
            if seed in _SOAK_NOTES:
                tr.write_line(_SOAK_NOTES[seed])
    if _FUZZ_CASES:
        parts = ", ".join(f"{k} {v}" for k, v in sorted(_FUZZ_CASES.items()))
        tr.write_line(f"fuzz: {sum(_FUZZ_CASES.values())} cases tried ({parts}); "
                      "every one exit 0 or 2")
