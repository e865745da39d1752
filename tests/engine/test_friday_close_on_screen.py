"""What the cockpit says of the Friday close, from the engine's own states during a real close
on the simulator: the banner counts what the closer closes (the strategy's positions, not every
position in the account, the trader's own among them), and the session line says "Friday close
done" only once the closer has given its verdict."""

from __future__ import annotations

from datetime import datetime

from tests.engine.rig import Rig, et
from tests.engine.test_close_own_shares import rig
from weekly_er_tui.model import EngineState, FridayPhase
from weekly_er_tui.strategy.calendars import market_calendar
from weekly_er_tui.ui.widgets.banner import banner_lines
from weekly_er_tui.ui.widgets.session import session_parts

__all__ = ["rig"]


def friday_part(now: datetime, state: EngineState) -> str:
    parts = {label: value for label, value, _ in session_parts(now, market_calendar(), state)}
    return parts["Friday close"]


async def test_the_banner_counts_the_strategys_positions_and_done_waits_for_the_verdict(
    rig: Rig,
) -> None:
    await rig.start_engine()
    await rig.enter(et(2026, 11, 19, 10))
    strategy = sorted(e.symbol for e in rig.plan())
    seen: list[tuple[datetime, EngineState]] = []
    rig.eng.subscribe(lambda state: seen.append((rig.clock.now(), state)))

    fc = await rig.friday_close()
    assert fc.flat is True
    closing = [(now, s) for now, s in seen if s.closing.running]
    assert closing, "no state published while the close ran"
    held = len(closing[0][1].portfolio.open_positions)
    assert held > len(strategy)  # the trader's own positions are in the account too
    for now, state in closing:
        lines = [f"{line.label} {line.text}" for line in banner_lines(state)]
        said = [t for t in lines if "closing" in t]
        assert said, lines
        assert f"closing {len(strategy)} positions" in said[0], said[0]
        assert all(symbol in said[0] for symbol in strategy), said[0]
        assert f"closing {held} " not in said[0]
        if now >= fc.close_at:
            assert friday_part(now, state) != "done", (now, state.friday_close)
    verdict = [(now, s) for now, s in seen if s.friday_close is not None
               and s.friday_close.phase is FridayPhase.CLOSED]
    assert verdict and friday_part(*verdict[0]) == "done"
