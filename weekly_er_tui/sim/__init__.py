"""A simulated IB Gateway that speaks the real TWS socket protocol on loopback.

The engine never imports this package; the CLI (`demo`, `sim`) and the tests do.
"""

from weekly_er_tui.sim.account import SimAccount
from weekly_er_tui.sim.market import Instrument, Market, Quote
from weekly_er_tui.sim.orders import SimExecution, SimOrder, fresh_run_id
from weekly_er_tui.sim.scenario import (
    EarningsEvent,
    Scenario,
    ScenarioError,
    demo_scenario,
    load_scenario,
    parse_scenario,
)
from weekly_er_tui.sim.server import GatewayEvent, SimulatedGateway

__all__ = [
    "EarningsEvent",
    "GatewayEvent",
    "Instrument",
    "Market",
    "Quote",
    "Scenario",
    "ScenarioError",
    "SimAccount",
    "SimExecution",
    "SimOrder",
    "SimulatedGateway",
    "demo_scenario",
    "fresh_run_id",
    "load_scenario",
    "parse_scenario",
]
