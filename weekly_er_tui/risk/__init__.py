"""Pure risk decisions: no I/O, no ib_async, no asyncio, no textual.

rules.py turns a portfolio snapshot and the safety limits into violations and a risk score;
gate.py accepts or refuses one order intent before it is sent; correlation.py finds the held
stocks that move together.
"""

from __future__ import annotations

from weekly_er_tui.risk.correlation import correlated_groups, daily_returns, pearson
from weekly_er_tui.risk.gate import GateDecision, MarketQuote, OrderIntent, check_order
from weekly_er_tui.risk.rules import (
    daily_loss_halt_line,
    daily_loss_losers,
    evaluate,
    risk_score,
)

__all__ = [
    "GateDecision",
    "MarketQuote",
    "OrderIntent",
    "check_order",
    "correlated_groups",
    "daily_loss_halt_line",
    "daily_loss_losers",
    "daily_returns",
    "evaluate",
    "pearson",
    "risk_score",
]
