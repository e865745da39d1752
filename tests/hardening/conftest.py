"""The fuzz tests count the cases they try; the count rides on each test's report (so it reaches
the main process from xdist workers) and tests/conftest.py prints the total at the end."""

from __future__ import annotations

from collections import Counter
from collections.abc import Generator

import pytest

FUZZ_CASES: Counter[str] = Counter()
_REPORTED: Counter[str] = Counter()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.when == "call":
        new = FUZZ_CASES - _REPORTED
        if new:
            report.user_properties.append(("fuzz_cases", dict(new)))
            _REPORTED.update(new)
    return report
