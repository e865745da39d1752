"""Whether the account's sources agree on a figure that would trigger an emergency action.

IB sends the account on separate streams with their own timing: positions when they change,
account values (cash, NetLiquidation) and portfolio rows a while after a position change and
otherwise about every 3 minutes, P&L about once a second. Net liquidation read as cash plus live
positions is only true when the cash belongs to those positions: between a sale's position update
and its cash, it is short by the sale's value. The emergency stop and the daily-loss reduction act
only on a figure the sources agree on; this module decides agreement, the safety package waits
for it (bounded) and journals what it waited for.

A breach is confirmed when the position stream and the account stream report the same positions
(so the cash is the cash of these positions) and one of:
- IB's daily P&L (reqPnL, current: it came after the latest fill) puts net liquidation where the
  snapshot does (session start + daily P&L, within `tolerance` of net liquidation);
- IB's own NetLiquidation is where the snapshot is (within `tolerance`);
- the breach has stood `settle_seconds` on streams that agree (IB's figures may be minutes old
  after a price move; a real move stays, a lagging stream catches up within a second or so).
"""

from __future__ import annotations

from dataclasses import dataclass

AGREEMENT_TOLERANCE = 0.01  # fraction of net liquidation two figures may differ by and agree
SETTLE_SECONDS = 1.0  # how long a breach on consistent streams must stand without other proof


@dataclass(frozen=True, slots=True)
class AccountEvidence:
    """What the account's sources say at one instant (broker/portfolio.py builds it)."""

    net_liquidation: float  # cash (account stream) + positions (position stream) at live prices
    # Symbols whose quantity differs between the position stream and the account stream, each as
    # "AAPL: position 0, account stream 130".
    unmatched_positions: tuple[str, ...] = ()
    ib_net_liquidation: float | None = None  # IB's NetLiquidation as of its last account update
    daily_pnl: float | None = None  # IB's reqPnL daily P&L
    pnl_current: bool = False  # a P&L update came after the latest execution


@dataclass(frozen=True, slots=True)
class Agreement:
    agreed: bool
    by: str = ""  # the source that agreed, in words
    waiting_for: tuple[str, ...] = ()  # what is missing, in words


def _close(a: float, b: float, net: float, tolerance: float) -> bool:
    return abs(a - b) <= tolerance * max(abs(net), 1.0)


def account_agreement(
    evidence: AccountEvidence,
    *,
    session_start: float | None,
    standing_seconds: float,
    tolerance: float = AGREEMENT_TOLERANCE,
    settle_seconds: float = SETTLE_SECONDS,
) -> Agreement:
    """Whether the sources agree on the snapshot's net liquidation (and with it the day's P&L).

    session_start: net liquidation at the session's start (the safety baseline), to place IB's
      daily P&L in dollars of net liquidation; None when unknown.
    standing_seconds: how long the breach has stood on streams that report the same positions.
    """
    net = evidence.net_liquidation
    if evidence.unmatched_positions:
        return Agreement(False, waiting_for=(
            "the account stream to report the positions the position stream has ("
            + "; ".join(evidence.unmatched_positions) + "): until then the cash is the cash "
            "of other positions",
        ))
    waiting: list[str] = []
    if evidence.daily_pnl is not None and session_start is not None:
        implied = session_start + evidence.daily_pnl
        if not evidence.pnl_current:
            waiting.append("IB's daily P&L after the latest fill")
        elif _close(implied, net, net, tolerance):
            return Agreement(True, by=f"IB's daily P&L (net liquidation {implied:,.0f})")
        else:
            waiting.append(f"IB's daily P&L to agree (it puts net liquidation at {implied:,.0f}, "
                           f"the snapshot at {net:,.0f})")
    else:
        waiting.append("IB's daily P&L (none yet)")
    ib_net = evidence.ib_net_liquidation
    if ib_net is not None and _close(ib_net, net, net, tolerance):
        return Agreement(True, by=f"IB's NetLiquidation ({ib_net:,.0f})")
    waiting.append("IB's NetLiquidation to agree ("
                   + (f"{ib_net:,.0f}" if ib_net is not None else "none yet") + ")")
    if standing_seconds >= settle_seconds:
        return Agreement(True, by=f"the breach standing {standing_seconds:.1f} s on streams "
                                  "that report the same positions")
    waiting.append(f"the breach to stand {settle_seconds:g} s on consistent streams")
    return Agreement(False, waiting_for=tuple(waiting))
