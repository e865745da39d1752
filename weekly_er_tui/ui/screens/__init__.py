"""The cockpit's modal screens: help, and the confirmations that stand between a key and money."""

from weekly_er_tui.ui.screens.confirm import QuitConfirmScreen, ResumeConfirmScreen
from weekly_er_tui.ui.screens.flatten import FlattenConfirmScreen
from weekly_er_tui.ui.screens.help import HelpScreen

__all__ = ["FlattenConfirmScreen", "HelpScreen", "QuitConfirmScreen", "ResumeConfirmScreen"]
