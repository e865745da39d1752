"""The journaled events a trader must hear, as alerts: an order of ours filled (entry or exit,
with its average fill price), the Friday close's "flat" at the bell, an emergency close's FLAT,
and IB's data farms going down and coming back.

It listens to the journal's events (every fact is journaled first, then published), so the
parts that journal them need not know who is told. The other verdicts already alert where they
are decided: the Friday close NOT FLAT (`friday_close_incomplete:result`) and an emergency close
INCOMPLETE (`emergency_stop:incomplete`).

Exits that are part of a whole close (the Friday close, an emergency close, the daily-loss
reduction) go to the alert log at LOW, one per order; the close's verdict carries them with
their prices, so twenty closing fills cost one message, not twenty that would use up the
hour's email limit right when the next alarm needs it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from weekly_er_tui.broker.connectivity import FARM_BROKEN, FARM_OK
from weekly_er_tui.journal import Event
from weekly_er_tui.model import Alert, EventType, Severity
from weekly_er_tui.risk.gate import FLATTENING_REASONS
from weekly_er_tui.store import Store

log = logging.getLogger("weekly_er_tui.event_alerts")

AlertSink = Callable[[Alert], None]

_WHY: dict[str, str] = {
    "FRIDAY_CLOSE": "Friday close", "EMERGENCY": "emergency close",
    "DAILY_LOSS": "daily-loss reduction", "EXIT": "strategy exit", "MANUAL": "closed by hand",
}
_RESTORED = {1101: 1100, 1102: 1100}  # IB's "connectivity restored" codes, and what they end


class EventAlerts:
    """Subscribe `on_event` to the journal."""

    def __init__(self, store: Store, alert: AlertSink) -> None:
        self.store = store
        self._alert = alert
        self._told: set[str] = set()  # orderRefs whose fill was alerted
        # The closes whose verdict lists their fills: the flattening ones.
        self._closing: dict[str, list[str]] = {r: [] for r in FLATTENING_REASONS}

    def on_event(self, ev: Event) -> None:
        try:
            if ev.event_type is EventType.ORDER_FILLED:
                self._filled(ev)
            elif ev.event_type is EventType.FRIDAY_CLOSE:
                self._friday_close(ev)
            elif ev.event_type is EventType.EMERGENCY_CLOSE:
                self._emergency_close(ev)
            elif ev.event_type is EventType.CONNECTIVITY:
                self._connectivity(ev)
        except Exception:  # an alert that cannot be built must not stop the journal's bus
            log.exception("no alert for event %s: %s", ev.event_type, ev.message)

    # -- fills -------------------------------------------------------------------------------
    def _filled(self, ev: Event) -> None:
        ref = str(ev.details.get("order_ref") or "")
        if not ref or ref in self._told:
            return
        intent = self.store.intent(ref)
        if intent is None or intent.filled + 1e-9 < intent.quantity:
            return  # the trader's own fill, or an order not yet complete
        fills = [x for x in self.store.executions(ref) if x.symbol == intent.symbol]
        shares = sum(abs(x.signed_qty) for x in fills)
        if shares <= 0:
            return
        self._told.add(ref)
        average = sum(abs(x.signed_qty) * x.price for x in fills) / shares
        verb = "bought" if intent.side == "BUY" else "sold"
        done = f"{verb} {shares:g} @ {average:.2f}"
        facts: dict[str, Any] = {
            "side": intent.side, "shares": shares, "average_price": f"{average:.2f}",
            "fills": len(fills), "orderRef": ref, "reason": intent.reason,
        }
        if intent.reason == "ENTRY":
            short = " short" if intent.side == "SELL" else ""
            self._alert(Alert(
                key=f"position_entry:{intent.symbol}", priority=Severity.MEDIUM, kind="trading",
                title=f"Entered {intent.symbol}: {verb}{short} {shares:g} @ {average:.2f}",
                body=f"The strategy's entry order for {intent.symbol} filled: {done} "
                     f"({len(fills)} fill(s)).",
                facts=facts, timestamp=ev.timestamp,
            ))
            return
        why = _WHY.get(intent.reason, intent.reason.lower().replace("_", " "))
        realized = [x.realized_pnl for x in fills]
        if all(r is not None for r in realized):
            facts["realized_pnl"] = f"{sum(r for r in realized if r is not None):+,.2f}"
        whole = intent.reason in self._closing
        if whole:
            self._closing[intent.reason].append(f"{intent.symbol}: {done}")
        self._alert(Alert(
            key=f"position_exit:{intent.symbol}",
            priority=Severity.LOW if whole else Severity.MEDIUM, kind="trading",
            title=f"Closed {intent.symbol}: {done} ({why})",
            body=f"A closing order for {intent.symbol} filled: {done} ({why}).",
            facts=facts, timestamp=ev.timestamp,
        ))

    def _take_fills(self, *reasons: str) -> str:
        lines = [line for r in reasons for line in self._closing[r]]
        for r in reasons:
            self._closing[r] = []
        return "\n".join(lines) or "(no closing fill of ours in this close)"

    # -- verdicts ----------------------------------------------------------------------------
    def _friday_close(self, ev: Event) -> None:
        d = ev.details
        if d.get("phase") != "result" or d.get("flat") is not True:
            return  # NOT FLAT is alerted by the strategy itself, CRITICAL
        symbols = [str(s) for s in d.get("symbols") or ()]
        what = f"{', '.join(symbols)} closed" if symbols else "no strategy position"
        self._alert(Alert(
            key="friday_close", priority=Severity.MEDIUM, kind="trading",
            title=f"Friday close: flat at the bell ({what})",
            body=f"{ev.message}.\nClosing fills:\n{self._take_fills('FRIDAY_CLOSE')}",
            facts={"closed": symbols}, timestamp=ev.timestamp,
        ))

    def _emergency_close(self, ev: Event) -> None:
        d = ev.details
        if d.get("scope") != "account" or d.get("flat") is not True:
            return  # INCOMPLETE is alerted by the closer itself, CRITICAL
        closed = [str(s) for s in d.get("closed") or ()]
        self._alert(Alert(
            key="emergency_close:flat", priority=Severity.CRITICAL, kind="safety",
            title=f"Emergency close FLAT: {len(closed)} position(s) closed"
                  + (f" ({', '.join(closed)})" if closed else ""),
            body=f"{ev.message}.\nClosing fills:\n"
                 f"{self._take_fills('EMERGENCY', 'DAILY_LOSS')}",
            facts={"closed": closed, "working_orders": d.get("working_orders", 0),
                   "why": d.get("why", [])},
            timestamp=ev.timestamp,
        ))

    # -- IB's connectivity -------------------------------------------------------------------
    def _connectivity(self, ev: Event) -> None:
        code = ev.details.get("code")
        if not isinstance(code, int):
            return
        if code in FARM_BROKEN:
            self._alert(Alert(
                key=f"degraded:{code}", priority=Severity.MEDIUM, kind="connection",
                title=f"IB {FARM_BROKEN[code]} down ({code})",
                body=f"{ev.message}. The link to TWS is up, but what this farm serves (prices, "
                     "bars or contract details) may not come until IB says it is OK again.",
                facts={"degraded": ev.details.get("degraded", [])}, timestamp=ev.timestamp,
            ))
        elif code in FARM_OK or code in _RESTORED:
            ended = FARM_OK.get(code) or _RESTORED[code]
            what = FARM_BROKEN.get(ended, "connectivity to IB's servers")
            self._alert(Alert(
                key=f"connectivity_restored:{ended}", priority=Severity.LOW, kind="connection",
                title=f"IB {what} OK again ({code})",
                body=f"{ev.message}.", facts={"still_degraded": ev.details.get("degraded", [])},
                timestamp=ev.timestamp,
            ))
