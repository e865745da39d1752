"""False emergencies over the realistic soak: emergency actions the simulator's true account did
not justify, counted over whole seeded weeks on the `real` realism profile.

    python bench/bench_soak.py            # seeds 1, 2 and 3 (about 40 s each on a quiet machine)
    BENCH_SOAK_SEEDS=1,2,3,4,5 python bench/bench_soak.py

Each seed is the soak's week under fire (tests/soak: the REAL TradingEngine against the simulated
gateway over TCP, SMTP on loopback, a seeded fault timeline with its scripted emergency): account
values trailing positions, positions trailing fills, P&L once a second and unset at first, IB's
message orders and the rest of the real profile. Every HALT, REDUCING and emergency close is
judged against the simulator's true account at that instant by the soak's `no_false_emergency`
invariant (tests/soak/invariants.py, `unjustified_emergencies`). Target: 0. Baseline: every
emergency action the weeks took (the scripted shocks' justified ones among them), so a week that
took none cannot pass for a clean one.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.soak.harness import run_week
from tests.soak.invariants import unjustified_emergencies
from tests.soak.timeline import generate

SEEDS = tuple(int(s) for s in os.environ.get("BENCH_SOAK_SEEDS", "1,2,3").split(",") if s)


def _quiet(line: str) -> None:
    """The harness's progress lines: to stderr, so the table stays readable."""
    print(line, file=sys.stderr, flush=True)


async def _run() -> list[dict[str, Any]]:
    false: list[str] = []
    actions = 0
    weeks: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in SEEDS:
            run = await run_week(generate(seed), Path(tmp) / f"seed{seed}", _quiet)
            if run.error:
                raise RuntimeError(f"soak seed {seed} did not complete: {run.error}")
            wrong = unjustified_emergencies(run)
            false += [f"seed {seed}: {w}" for w in wrong]
            actions += len(run.emergencies)
            weeks.append(f"{seed}: {len(wrong)}/{len(run.emergencies)} in {run.wall_seconds:.0f}s")
    for line in false:
        _quiet(f"false emergency: {line}")
    return [{
        "name": "false_emergencies_realistic_soak", "value": len(false), "unit": "",
        "baseline": actions, "ratio": None, "target": "0", "met": not false,
        "note": f"seeds {', '.join(weeks)} (false/all emergency actions); real profile",
    }]


def run() -> list[dict[str, Any]]:
    """One row: name, value, unit, baseline, ratio, target, met (and a note)."""
    return asyncio.run(_run())


if __name__ == "__main__":
    for row in run():
        print(row)
