"""What the engine says as it stops: the journal line and the "monitoring stopped" alert, each
at the priority of what the stop leaves behind.

- Asked for (the trader quit, a signal, `--run-for`) with no position open: LOW, logged at INFO;
  nothing is left unwatched, so nobody is paged.
- Asked for with positions open: HIGH, with their count: they are at IB with no heartbeat, no
  safety check and no Friday close from this process.
- Not asked for (the engine's task cancelled under it, its host gone): HIGH, as loud as ever.
"""

from __future__ import annotations

from dataclasses import dataclass

from weekly_er_tui.model import Alert, Severity


@dataclass(frozen=True, slots=True)
class StopWords:
    severity: Severity  # of the journal event and of the alert
    message: str  # the journal's line
    alert: Alert


# Who stopped an engine that would not trade (a live account without allow_live, an account or
# data directory another engine holds): it did, and it said why in its own alert.
REFUSED = "itself (it refused to trade: see the alert before this one)"

# The kind's own words ("The rest of the system keeps running") are a part's failure's: after a
# stop nothing of this process runs.
_LEFT = "Nothing runs any more: orders and positions were left as they are at IB."
_RESTART = ("Start weekly-er-tui again to watch the positions; until then watch them in TWS "
            "(no stop-loss, daily-loss limit or Friday close runs for them).")


def _positions(n: int) -> str:
    return f"{n} position{'s' * (n != 1)}"


def stop_words(open_positions: int, stopped_by: str | None) -> StopWords:
    """`open_positions`: those open at IB (as last known while the link is down);
    `stopped_by`: who asked for the stop ("the trader", "SIGTERM"), None when nobody did."""
    left = f"{_positions(open_positions)} and open orders left as they are at IB"
    if stopped_by is None:
        return StopWords(
            Severity.HIGH,
            f"Monitoring stopped: the engine stopped without being asked to; {left}",
            Alert(key="monitoring_stopped", priority=Severity.HIGH, kind="system",
                  title="weekly-er-tui stopped unexpectedly: positions are no longer monitored",
                  body=f"The engine stopped without a stop being asked for (its host went "
                       f"away); {left}. Restart weekly-er-tui, and watch the positions in TWS "
                       f"until it is back.",
                  facts={"positions": open_positions, "action": _LEFT, "next_steps": _RESTART}),
        )
    if open_positions == 0:
        return StopWords(
            Severity.INFO,
            f"Monitoring stopped: engine stopped by {stopped_by}; no position open, open "
            f"orders left as they are",
            Alert(key="monitoring_stopped", priority=Severity.LOW, kind="system",
                  title=f"Engine stopped by {stopped_by} with no position open",
                  body=f"The engine was stopped by {stopped_by}. No position was open; working "
                       f"orders, if any, were left as they are at IB.",
                  facts={"positions": 0, "stopped_by": stopped_by, "action": _LEFT,
                         "next_steps": "No action needed; start weekly-er-tui again before the "
                                       "next entry or Friday close."}),
        )
    return StopWords(
        Severity.HIGH,
        f"Monitoring stopped: engine stopped by {stopped_by}; {left}",
        Alert(key="monitoring_stopped", priority=Severity.HIGH, kind="system",
              title=f"Engine stopped by {stopped_by} with {_positions(open_positions)} open: "
                    f"not monitored",
              body=f"The engine was stopped by {stopped_by}; {left}. No heartbeat, no safety "
                   f"check and no Friday close run for them until weekly-er-tui is started "
                   f"again: watch them in TWS meanwhile.",
              facts={"positions": open_positions, "stopped_by": stopped_by, "action": _LEFT,
                     "next_steps": _RESTART}),
    )
