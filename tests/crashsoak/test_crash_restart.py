"""issue 13: the crash-restart soak. `weekly-er-tui sim` and `weekly-er-tui run --headless` as two
processes on one simulated clock (--clock-start, --clock-speed, --clock-epoch), the engine
SIGKILLed at seeded moments of the entries, the fills and the Friday close and restarted at once,
partial fills on, the realism profile "real" (tests/crashsoak/harness.py). Every invariant of
tests/crashsoak/invariants.py is one test per seed; a failure names the seed, its kills, where
its files are, and how to replay it.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from tests.crashsoak.harness import CrashRun, plan, run_week
from tests.crashsoak.invariants import INVARIANTS

pytestmark = [pytest.mark.soak, pytest.mark.integration]

_RUNS: dict[int, CrashRun] = {}


@pytest.fixture(scope="session")
def crash_dir() -> Path:
    # Not pytest's tmp_path: it keeps only the last three sessions' directories, and a failed
    # seed's files (the gateway's lines, each engine's log, the record) must outlive them.
    return Path(tempfile.mkdtemp(prefix="weekly-er-crashsoak-"))


def week_of(seed: int, crash_dir: Path) -> CrashRun:
    """The seed's week, run once (at its first invariant) and kept for the others."""
    run = _RUNS.get(seed)
    if run is None:
        p = plan(seed)
        print(p.describe(), flush=True)
        run = _RUNS[seed] = run_week(p, crash_dir / f"seed{seed}")
    print(f"seed {seed}: {run.wall_seconds:.1f}s real, {run.incarnations} engine processes, "
          f"kills {run.kills_done}, not reached {run.kills_missed}; files in {run.workdir}")
    return run


@pytest.mark.timeout(300)
def test_crash_restart_week(crash_case: tuple[int, str], crash_dir: Path) -> None:
    seed, name = crash_case
    run = week_of(seed, crash_dir)
    try:
        INVARIANTS[name](run)
    except AssertionError as exc:
        raise AssertionError(
            f"crash seed {seed}, invariant {name}: {exc}\n  kills: {run.kills_done}\n"
            f"  files: {run.workdir}\n  replay: {run.replay}"
        ) from None


def test_every_seed_kills_a_running_engine() -> None:
    """The plan is what the seed says: at least one kill at an entry, a fill and a close."""
    for seed in (1, 2, 20):
        kinds = {k.kind for k in plan(seed).kills}
        assert kinds == {"entry", "fill", "close"}, (seed, plan(seed))
        assert plan(seed) == plan(seed)
