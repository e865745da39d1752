"""Safety: the trading state, the monitor that checks the account, and what it does on a breach.

`manager.py` holds PositionSafetyManager (the documented API and the engine's monitor).
"""

from weekly_er_tui.safety.manager import (
    COALESCE_SECONDS,
    DAILY_LOSS,
    EMERGENCY_STOP,
    ORPHAN,
    PORTFOLIO_RULES,
    PositionSafetyManager,
)

__all__ = ["COALESCE_SECONDS", "DAILY_LOSS", "EMERGENCY_STOP", "ORPHAN",
           "PORTFOLIO_RULES", "PositionSafetyManager"]
