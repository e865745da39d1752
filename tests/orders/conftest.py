"""The order tests run a whole engine on the simulated gateway: the safety tests' rig."""

from tests.safety.conftest import rig

__all__ = ["rig"]
