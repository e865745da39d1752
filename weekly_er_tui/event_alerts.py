"""The journaled events a trader must hear, as alerts: an order of ours filled (entry or exit,
with its average fill price) or ended (cancelled, rejected) after a part of it filled (what
filled, of how many: a partial entry or exit changes what the account holds as much as a whole
one), the Friday close's "flat" at the bell, an emergency close's FLAT, and IB's data farms
going down and coming back. One alert per order (keyed by its orderRef): two exits of one
symbol are two alerts, never one folded into the other.

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
from weekly_er_tui.store import OrderIntentRecord, Store

log = logging.getLogger("weekly_er_tui.event_alerts")

AlertSink = Callable[[Alert], None]

_WHY: dict[str, str] = {
    "FRIDAY_CLOSE": "Friday close", "EMERGENCY": "emergency close",
    "DAILY_LOSS": "daily-loss reduction", "EXIT": "strategy exit", "MANUAL": "closed by hand",
}
_ENDS = (EventType.ORDER_CANCELLED, EventType.ORDER_REJECTED)
_ENDED = ("CANCELLED", "REJECTED")  # the OrderWatcher's ends (a "Cancel asked" has no status)
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
            elif ev.event_type in _ENDS and ev.details.get("status") in _ENDED:
                self._ended(ev)
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
        intent = self.store.intent(ref) if ref and ref not in self._told else None
        if intent is None or intent.filled + 1e-9 < intent.quantity:
            return  # the trader's own fill, or an order not yet complete (its end tells)
        self._tell(ref, intent, ev, "")

    def _ended(self, ev: Event) -> None:
        """An order of ours cancelled or rejected after a part of it filled: what filled is
        what the trader holds (or no longer holds) now, so it is said, not only "cancelled"."""
        ref = str(ev.details.get("order_ref") or "")
        intent = self.store.intent(ref) if ref and ref not in self._told else None
        if intent is not None:
            ended = "cancelled" if ev.details.get("status") == "CANCELLED" else "rejected by IB"
            self._tell(ref, intent, ev, f"the rest {ended}")

    def _tell(self, ref: str, intent: OrderIntentRecord, ev: Event, rest: str) -> None:
        """The alert of one order's fills: the whole order, or (`rest`: how the remainder
        ended) the part that filled. Keyed by orderRef: two orders are two alerts."""
        fills = [x for x in self.store.executions(ref) if x.symbol == intent.symbol]
        shares = sum(abs(x.signed_qty) for x in fills)
        if shares <= 0:
            return  # nothing filled: the order's end is journaled, and alerted if IB refused it
        self._told.add(ref)
        average = sum(abs(x.signed_qty) * x.price for x in fills) / shares
        verb = "bought" if intent.side == "BUY" else "sold"
        of = f" of {intent.quantity:g}" if rest else ""
        what = f"{shares:g}{of} @ {average:.2f}" + (f", {rest}" if rest else "")
        done = f"{verb} {what}"
        in_part = " in part" if rest else ""
        facts: dict[str, Any] = {
            "side": intent.side, "shares": shares, "ordered": intent.quantity,
            "average_price": f"{average:.2f}", "fills": len(fills), "orderRef": ref,
            "reason": intent.reason,
        }
        if intent.reason == "ENTRY":
            short = " short" if intent.side == "SELL" else ""
            self._alert(Alert(
                key=f"position_entry:{intent.symbol}:{ref}", priority=Severity.MEDIUM,
                kind="trading",
                title=f"Entered {intent.symbol}{in_part}: {verb}{short} {what}",
                body=f"The strategy's entry order for {intent.symbol} "
                     f"{'ended' if rest else 'filled'}: {done} ({len(fills)} fill(s)).",
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
            key=f"position_exit:{intent.symbol}:{ref}",
            priority=Severity.LOW if whole else Severity.MEDIUM, kind="trading",
            title=f"Closed {intent.symbol}{in_part}: {done} ({why})",
            body=f"A closing order for {intent.symbol} {'ended' if rest else 'filled'}: "
                 f"{done} ({why})."
                 + (f" The {intent.quantity - shares:g} shares it did not "
                    f"{'sell' if intent.side == 'SELL' else 'buy back'} are still held."
                    if rest else ""),
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
