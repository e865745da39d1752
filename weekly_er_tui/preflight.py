"""The checks `run` makes of a valid config's files before it trades, for `check-config` to run
too: everything the alerts refuse to start with (kinds, templates, the CA file, push URLs) and
the earnings calendar. So `check-config` exit 0 means `run` starts with everything it was given.
Each check is the one the engine itself calls (AlertManager's and the strategy's), not a copy.
"""

from __future__ import annotations

from pathlib import Path

from weekly_er_tui.alerts import config_problems
from weekly_er_tui.config import AppConfig
from weekly_er_tui.strategy.calendars import CalendarError, load_calendar


def preflight(config: AppConfig) -> list[str]:
    """Every problem `run` would find in the files and names the config points at."""
    problems = list(config_problems(config.alerts))
    strategy = config.strategy
    if strategy.enabled and strategy.calendar_file:
        try:
            load_calendar(Path(strategy.calendar_file))
        except CalendarError as exc:
            problems += [f"strategy.calendar_file: {p}" for p in exc.problems]
    return problems
