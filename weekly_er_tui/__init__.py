"""weekly-er-tui: a terminal cockpit for a weekly earnings-report strategy at Interactive Brokers.

The documented integration API is importable from here:

    from weekly_er_tui import RobustIBConnection, ConnectionConfig, ConnectionMonitor
    from weekly_er_tui import PositionSafetyManager, SafetyLimits

Names are resolved lazily so that `import weekly_er_tui` stays cheap and never loads textual.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "RobustIBConnection": "weekly_er_tui.broker.connection",
    "ConnectionConfig": "weekly_er_tui.broker.connection",
    "ConnectionMonitor": "weekly_er_tui.broker.connection",
    "PositionSafetyManager": "weekly_er_tui.safety",
    "SafetyLimits": "weekly_er_tui.config",
    "AppConfig": "weekly_er_tui.config",
    "load_config": "weekly_er_tui.config",
}

__all__ = [*_EXPORTS, "__version__"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'weekly_er_tui' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
