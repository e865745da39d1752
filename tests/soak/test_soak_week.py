"""issue 9: the week under fire. A seeded random fault timeline against the whole system for a
full trading week, then every invariant checked (tests/soak/invariants.py).

The seed is printed with the plan of its week (calendar and every fault, in time order); a failing
invariant names its seed and how to replay it: `pytest tests/soak --soak-seed N`. The generated
scenario (the simulator's JSON format) and calendar are in the seed's directory, soak_plan.json.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.conftest import IbLogGuard
from tests.soak.harness import EXPECTED_IB_ERRORS, SoakRun, run_week
from tests.soak.invariants import INVARIANTS
from tests.soak.timeline import generate

pytestmark = [pytest.mark.soak, pytest.mark.integration]

_RUNS: dict[int, SoakRun] = {}
RUN_NOTES: dict[int, str] = {}


@pytest.fixture(scope="session")
def soak_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("soak")


def week_of(seed: int, soak_dir: Path) -> SoakRun:
    """The seed's week, run once (at its first invariant) and kept for the others."""
    run = _RUNS.get(seed)
    if run is None:
        plan = generate(seed)
        print(plan.describe(), flush=True)
        run = asyncio.run(run_week(plan, soak_dir / f"seed{seed}"))
        _RUNS[seed] = run
        RUN_NOTES[seed] = (
            f"seed {seed}: week of {plan.monday}, {run.wall_seconds:.1f}s, {run.steps} clock "
            f"steps, {len(run.executions)} fills, RSS {run.rss_day1_kb / 1024:.0f} MB after "
            f"day 1 -> {run.rss_end_kb / 1024:.0f} MB at the end; data in {run.data_dir}"
        )
    print(RUN_NOTES[seed])
    return run


@pytest.mark.timeout(300)
def test_week_under_fire(soak_case: tuple[int, str], soak_dir: Path,
                         ib_log_guard: IbLogGuard) -> None:
    seed, name = soak_case
    ib_log_guard.expect_link_faults()
    for pattern in EXPECTED_IB_ERRORS:
        ib_log_guard.expect(pattern)
    run = week_of(seed, soak_dir)
    try:
        INVARIANTS[name](run)
    except AssertionError as exc:
        raise AssertionError(
            f"soak seed {seed}, invariant {name}: {exc}\n"
            f"replay exactly: pytest tests/soak --soak-seed {seed}\n{run.plan.describe()}"
        ) from None
