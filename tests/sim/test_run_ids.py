"""IB never reuses a permId or an execId, across sessions too: each run of the simulator that a
person starts (`demo`, `sim`) has ids of its own; run 0 (the tests' default) is reproducible."""

from __future__ import annotations

from weekly_er_tui.sim import fresh_run_id
from weekly_er_tui.sim.orders import FIRST_PERM_ID, PERM_IDS_PER_RUN, first_perm_id


def test_two_runs_started_in_one_second_still_get_their_own_permids() -> None:
    a, b = fresh_run_id(), fresh_run_id()
    assert b > a
    assert first_perm_id(b) >= first_perm_id(a) + PERM_IDS_PER_RUN


def test_run_zero_keeps_the_reproducible_ids() -> None:
    assert first_perm_id(0) == FIRST_PERM_ID == 1_100_000_001
