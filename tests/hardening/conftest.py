"""The fuzz tests count the cases they try; the count is printed at the end of the run."""

from __future__ import annotations

from collections import Counter

import pytest

FUZZ_CASES: Counter[str] = Counter()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if FUZZ_CASES:
        parts = ", ".join(f"{k} {v}" for k, v in sorted(FUZZ_CASES.items()))
        terminalreporter.write_line(
            f"fuzz: {sum(FUZZ_CASES.values())} cases tried ({parts}); every one exit 0 or 2")
