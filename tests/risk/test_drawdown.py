"""Drawdown is a loss from the baseline, never negative: an account that is up is 0.0% down.

A trader saw "Drawdown -0.5%" while the day's P&L was +1,240 (baseline 244,011, net liquidation
245,251). The figure is made once, in risk/rules.py, and every reader (the cockpit, `check
safety`, the control socket, the recorded scenes) takes it as it is: so it is right at source.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from weekly_er_tui.model import EngineState
from weekly_er_tui.risk import rules
from weekly_er_tui.scenes.fixtures import load_scene, scene_names

from .helpers import limits, snap
from .test_rules import run, use_of

PROPERTY = settings(max_examples=300, deadline=None)

# An equity path: a start and the moves after it (each a fraction of the value before it, from a
# 30% fall to a 30% rise), as a week of ticks might go.
PATHS = st.tuples(
    st.floats(min_value=1_000.0, max_value=50_000_000.0, allow_nan=False),
    st.lists(st.floats(min_value=-0.3, max_value=0.3, allow_nan=False), min_size=1, max_size=60),
)


def drawdown_of(nlv: float, baseline: float, kind: str) -> tuple[float, float]:
    report = run(snap(nlv=nlv), limits(stop_loss_baseline=kind), baseline_nlv=baseline)
    use = use_of(report, rules.EMERGENCY_STOP_LOSS)
    return use.value, use.use


@PROPERTY
@given(PATHS)
def test_along_any_equity_path_the_drawdown_is_never_negative(path: tuple[float, list[float]]
                                                              ) -> None:
    start, moves = path
    nlv, high = start, start
    for move in moves:
        nlv *= 1.0 + move
        high = max(high, nlv)
        for kind, baseline in (("session", start), ("week", start), ("high_water", high)):
            value, use = drawdown_of(nlv, baseline, kind)
            assert value >= 0.0 and use >= 0.0, (kind, baseline, nlv, value)
            if nlv >= baseline:
                assert value == 0.0, (kind, baseline, nlv, value)
            else:
                assert value == pytest.approx((baseline - nlv) / baseline)


def test_the_traders_afternoon_reads_zero() -> None:
    # The numbers of the finding: up 1,240 on the day.
    assert drawdown_of(245_251.0, 244_011.0, "session") == (0.0, 0.0)


@pytest.mark.parametrize("name", list(scene_names()))
def test_no_recorded_engine_state_carries_a_negative_drawdown(name: str) -> None:
    """The scenes are EngineStates the real engine published on the simulator: the figure the
    cockpit and the control socket receive."""
    state = load_scene(name).state
    assert isinstance(state, EngineState)
    if state.safety is None:
        return
    for use in state.safety.uses:
        if use.rule == rules.EMERGENCY_STOP_LOSS:
            assert use.value >= 0.0 and use.use >= 0.0, (name, use)
