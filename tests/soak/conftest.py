"""The soak's options, its parametrization by seed and invariant, and its per-seed report.

- `pytest` (so `make test`): the short soak, one seeded week (SHORT_SEED).
- `pytest -m soak --soak-long tests/soak` (so `make soak`): SOAK_SEEDS seeds, 1 to 20.
- `pytest tests/soak --soak-seed 13 [--soak-seed 14]`: replay those seeds exactly.

Every test of the soak is marked `soak`. Each (seed, invariant) is one test, so the report says
which invariant held for which seed; a seed's week runs once, at its first invariant, and the
rest read what it left (under xdist a seed's invariants share one worker). At the end a table
shows every seed against every invariant (printed by tests/conftest.py).
"""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from tests.soak.invariants import INVARIANTS

SHORT_SEED = 1
SOAK_SEEDS = tuple(range(1, 21))

# Invariants that fail because of a known product bug: {invariant: reason}, applied as
# xfail(strict=True) so the suite passes while the bug stands and fails once it is fixed.
KNOWN_BUGS: dict[str, str] = {}

def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("soak", "the seeded week under fire (tests/soak)")
    group.addoption("--soak-long", action="store_true", default=False,
                    help=f"run {len(SOAK_SEEDS)} seeded weeks instead of one")
    group.addoption("--soak-seed", action="append", type=int, default=[], metavar="N",
                    help="run (replay) this seed; may be given more than once")


def soak_seeds(config: pytest.Config) -> list[int]:
    chosen: list[int] = config.getoption("--soak-seed", default=[]) or []
    if chosen:
        return list(dict.fromkeys(chosen))
    if config.getoption("--soak-long", default=False):
        return list(SOAK_SEEDS)
    return [SHORT_SEED]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "soak_case" not in metafunc.fixturenames:
        return
    params: list[Any] = []
    for seed in soak_seeds(metafunc.config):
        for name in INVARIANTS:
            # A seed's week runs once per process: under xdist its invariants share a worker.
            marks = [pytest.mark.xdist_group(f"soak-seed{seed}")]
            if name in KNOWN_BUGS:
                marks.append(pytest.mark.xfail(strict=True, reason=KNOWN_BUGS[name]))
            params.append(pytest.param((seed, name), id=f"seed{seed}-{name}", marks=marks))
    metafunc.parametrize("soak_case", params)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.soak)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Each invariant's verdict (and its seed's run note) rides on the report, so the table that
    tests/conftest.py prints at the end sees it from xdist workers too."""
    report = yield
    case = getattr(item, "callspec", None)
    if case is not None and "soak_case" in case.params and (
        report.when == "call" or (report.when == "setup" and not report.passed)
    ):
        seed, name = case.params["soak_case"]
        verdict = "ok" if report.passed else "FAIL"
        if hasattr(report, "wasxfail"):
            verdict = "xfail" if report.skipped else "XPASS"
        report.user_properties.append(("soak_verdict", (seed, name, verdict)))
        from tests.soak.test_soak_week import RUN_NOTES

        if seed in RUN_NOTES:
            report.user_properties.append(("soak_note", (seed, RUN_NOTES[seed])))
    return report
