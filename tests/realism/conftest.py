"""The product against the realistic simulator, one notes row per test file: the safety tests'
engine rig (a real TradingEngine over TCP on the real profile)."""

from tests.safety.conftest import rig

__all__ = ["rig"]
