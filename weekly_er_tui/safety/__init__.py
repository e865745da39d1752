"""Safety: the trading state, the monitor that checks the account, and what it does on a breach.

`manager.py` holds PositionSafetyManager (the engine's monitor); `guide_api.py` the enhancement
guide's standalone calls on it; `notices.py` what it tells a person; `closer.py` the one owner of
every closing action. The rules' names are risk/rules.py's (EMERGENCY_STOP_LOSS, ...).
"""

from weekly_er_tui.safety.manager import COALESCE_SECONDS, PositionSafetyManager
from weekly_er_tui.safety.notices import PORTFOLIO_RULES

__all__ = ["COALESCE_SECONDS", "PORTFOLIO_RULES", "PositionSafetyManager"]
