"""What must hold after every seeded week. Each check raises AssertionError saying what broke.

`INVARIANTS` names them in the order the soak reports them.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tests.soak.harness import CLIENT_ID, SoakRun
from weekly_er_tui.clock import ET
from weekly_er_tui.journal import EVENT_COLUMNS
from weekly_er_tui.model import EventType, PlanStatus, Severity
from weekly_er_tui.order_life import OPEN_STATUSES, IntentStatus

TRADING_EVENTS = {EventType.TRADING_HALTED.value, EventType.TRADING_RESUMED.value,
                  EventType.TRADING_PAUSED.value, EventType.TRADING_REDUCING.value}
GROWTH_LIMIT = 1.20  # memory at the end / memory after the first simulated day


@dataclass(frozen=True)
class Ev:
    """One row of events_log.csv, parsed."""

    when: datetime
    type: str
    severity: str
    message: str
    details: dict[str, Any]


def _events(run: SoakRun) -> list[Ev]:
    return [Ev(datetime.fromisoformat(r["timestamp"]), r["event_type"], r["severity"],
               r["message"], json.loads(r["details"] or "{}")) for r in run.rows()]


def week_completed(run: SoakRun) -> None:
    """The driver reached the end of the week without the system getting stuck."""
    assert run.error is None, f"the week did not complete: {run.error}"
    assert run.reached is not None and run.reached >= run.plan.end


def journal_is_the_simulators(run: SoakRun) -> None:
    """trade_journal.csv holds exactly the simulator's executions: none lost, none twice."""
    ids = [r["exec_id"] for r in run.trades]
    twice = sorted(i for i, n in Counter(ids).items() if n > 1)
    assert not twice, f"fills journaled more than once: {twice}"
    sim = {x.exec_id: x for x in run.executions}
    assert all(x.client_id == CLIENT_ID for x in run.executions), "a fill not of our orders"
    lost = sorted(set(sim) - set(ids))
    extra = sorted(set(ids) - set(sim))
    assert not lost, f"executions of the simulator missing from the journal: {lost}"
    assert not extra, f"journaled fills the simulator never made: {extra}"
    for r in run.trades:
        x = sim[r["exec_id"]]
        got = (r["order_ref"], r["symbol"], r["side"], float(r["quantity"]), float(r["price"]))
        want = (x.order_ref, x.symbol, x.side, x.qty, x.price)
        assert got == want, f"journal row {got} != simulator execution {want}"
    assert run.executions, "the week made no fill at all"


def no_order_ref_twice(run: SoakRun) -> None:
    """The gateway never received the same orderRef twice; every order carried one of ours."""
    twice = sorted(ref for ref, n in Counter(run.order_refs).items() if n > 1)
    assert not twice, f"orderRefs sent more than once: {twice}"
    assert all(ref.lower().startswith("wer-") for ref in run.order_refs), run.order_refs


def flat_after_the_friday_close(run: SoakRun) -> None:
    """After the bell: no position, no working order, nothing tracked, the close said flat."""
    assert run.positions_end == {}, f"positions left after the bell: {run.positions_end}"
    assert run.open_orders_end == [], f"working orders after the bell: {run.open_orders_end}"
    assert run.tracked_end == {}, f"strategy positions still tracked: {run.tracked_end}"
    phases = [e.details.get("phase") for e in _events(run)
              if e.type == EventType.FRIDAY_CLOSE.value]
    assert phases and phases[0] == "started" and phases[-1] == "result", phases
    result = [e for e in _events(run) if e.type == EventType.FRIDAY_CLOSE.value][-1]
    assert result.details.get("flat") is True, result.message
    assert result.when <= run.plan.bell, "the close's result came after the bell"
    assert run.friday_phase == "flat", run.friday_phase


def entries_and_closes_happened(run: SoakRun) -> None:
    """Every planned entry was entered (on time or late after an outage) and closed, or was
    rejected by IB through a scripted rejection: none refused by the pre-trade gate, skipped or
    failed; the emergency close and the Friday close both sold."""
    events = _events(run)
    by_ib = {e.details.get("order_ref") for e in events
             if e.type == EventType.ORDER_REJECTED.value and e.details.get("code") == 201}
    bad = [(e.symbol, e.status.value, e.note) for e in run.plan_end
           if not (e.status is PlanStatus.CLOSED
                   or (e.status is PlanStatus.REJECTED and e.order_ref in by_ib))]
    assert not bad, f"entries that did not end CLOSED (or rejected by IB): {bad}"
    target = run.plan.targeted_reject
    if target:
        status = {e.symbol: e.status for e in run.plan_end}.get(target)
        assert status is PlanStatus.REJECTED, f"{target}: IB rejected its entry, yet {status}"
    scripted = sum(int((a.entry or {}).get("count", 0)) for a in run.plan.actions
                   if a.kind == "reject")
    rejected = [e.symbol for e in run.plan_end if e.status is PlanStatus.REJECTED]
    assert len(rejected) <= scripted, f"{rejected} rejected, {scripted} rejections scripted"
    reasons = Counter(r["reason"] for r in run.trades)
    assert reasons["ENTRY"] and reasons["EMERGENCY"], reasons
    # The shock is never on the last entry day: what is entered after the resume, the Friday
    # close sells.
    late = [r for r in run.trades if r["reason"] == "ENTRY"
            and datetime.fromisoformat(r["timestamp"]) >= run.plan.resume_at]
    if late:
        assert reasons["FRIDAY_CLOSE"], f"entries after the resume, no Friday close: {reasons}"


def safety_states_follow_the_rules(run: SoakRun) -> None:
    """HALTED by the emergency stop at the shock, and only then; flat and HALTED until the
    scripted resume; ACTIVE from the resume on; no entry sent while HALTED."""
    plan = run.plan
    events = _events(run)
    states = [e for e in events if e.type in TRADING_EVENTS]
    got = [(e.type, e.when) for e in states]
    want = [(EventType.TRADING_HALTED.value, plan.shock_at),
            (EventType.TRADING_RESUMED.value, plan.resume_at)]
    assert got == want, (
        "trading state history " + str([(t, w.astimezone(ET).isoformat()) for t, w in got])
        + " != " + str([(t, w.astimezone(ET).isoformat()) for t, w in want]))
    assert "emergency stop" in str(states[0].details.get("reason")), states[0].message
    closes = [e for e in events if e.type == EventType.EMERGENCY_CLOSE.value]
    assert closes and all(plan.shock_at <= e.when < plan.resume_at for e in closes), [
        (e.when.isoformat(), e.message) for e in closes]
    finished = [e for e in closes if "finished" in e.message]
    assert finished and finished[-1].details.get("flat") is True, finished
    assert run.state_before_resume is not None and run.state_before_resume.value == "HALTED", (
        f"state before the scripted resume: {run.state_before_resume}")
    assert run.positions_at_resume == {} and run.orders_at_resume == 0, (
        f"at the resume: positions {run.positions_at_resume}, {run.orders_at_resume} orders")
    entries_while_halted = [
        e.message for e in events if e.type == EventType.ORDER_SUBMITTED.value
        and e.details.get("reason") == "ENTRY" and plan.shock_at <= e.when < plan.resume_at]
    assert not entries_while_halted, entries_while_halted
    assert run.trading_state_end is not None and run.trading_state_end.value == "ACTIVE"


def critical_alerts_delivered(run: SoakRun) -> None:
    """Every CRITICAL alert reached the SMTP server, those during its outage once it was back."""
    events = _events(run)
    kinds = (EventType.ALERT_SENT.value, EventType.ALERT_FAILED.value)
    crit = [e for e in events if e.type in kinds and e.details.get("channel") == "email"
            and e.details.get("priority") == Severity.CRITICAL.value]
    sent = [e for e in crit if e.type == EventType.ALERT_SENT.value]
    failed = [e for e in crit if e.type == EventType.ALERT_FAILED.value]
    assert sent, "no CRITICAL alert was sent (the emergency stop must send one)"
    assert any("Emergency stop" in e.message for e in sent), [e.message for e in sent]
    down, up = run.plan.smtp_down
    assert failed, "no CRITICAL alert met the SMTP outage"
    for f in failed:
        assert f.details.get("will_retry") is True, f"given up: {f.message}"
        assert down <= f.when < up, f"failed outside the outage: {f.message}"
        later = [s for s in sent if s.details["key"] == f.details["key"] and s.when >= f.when]
        assert later, f"never delivered after the server was back: {f.message}"
        assert run.smtp_back_at is not None and later[0].when >= run.smtp_back_at
    received = [s for _, s in run.smtp_received if "[CRITICAL]" in s]
    assert len(received) == len(sent), (
        f"{len(sent)} CRITICAL alerts journaled as sent, the server received {len(received)}")
    for prio, title, status in run.alert_status:
        if prio == Severity.CRITICAL.value:
            assert "email sent" in status, f"CRITICAL alert {title!r}: {status}"
    assert run.alerts_pending == 0, f"{run.alerts_pending} alerts still queued at the end"


def events_log_parses(run: SoakRun) -> None:
    """events_log.csv: the documented columns; every row a known type and severity, an ISO
    timestamp (never going back), details that are a JSON object."""
    assert run.events_path is not None
    with open(run.events_path, encoding="utf-8") as fh:
        header = fh.readline().strip()
    assert header == ",".join(EVENT_COLUMNS), header
    rows = run.rows()
    assert len(rows) > 100, f"only {len(rows)} events in a week under fire"
    types, severities = {t.value for t in EventType}, {s.value for s in Severity}
    previous: datetime | None = None
    for i, r in enumerate(rows, start=2):
        assert set(r) == set(EVENT_COLUMNS) and None not in r.values(), f"line {i}: {r}"
        when = datetime.fromisoformat(r["timestamp"])
        assert when.tzinfo is not None, f"line {i}: naive timestamp {r['timestamp']}"
        assert previous is None or when >= previous, f"line {i}: time went back"
        previous = when
        assert r["event_type"] in types, f"line {i}: unknown event type {r['event_type']}"
        assert r["severity"] in severities, f"line {i}: unknown severity {r['severity']}"
        assert isinstance(json.loads(r["details"] or "{}"), dict), f"line {i}: {r['details']}"


DRAWDOWN_SLACK = 0.005  # of net liquidation: the engine's quotes may trail the truth a price step
DAILY_LOSS_SLACK = 0.01  # fraction of the daily-loss line, for the same reason


def unjustified_emergencies(run: SoakRun) -> list[str]:
    """Every emergency action (the emergency stop's HALT and close, the daily loss's REDUCING,
    its closes and its HALT) that the simulator's true account at that instant did not justify,
    in words. The truth is gw.account (cash and positions at the simulator's prices), taken when
    the engine journaled the action; the engine's own figures are what is being judged."""
    stop = run.emergency_stop
    reduce_line = -run.max_daily_loss * (1 - DAILY_LOSS_SLACK)
    halt_line = -run.max_daily_loss * (1 + run.daily_loss_halt_margin) * (1 - DAILY_LOSS_SLACK)
    wrong: list[str] = []
    for t in run.emergencies:
        drawdown = 1 - t.net_liquidation / t.reference if t.reference > 0 else 0.0
        text = f"{t.reason} {t.message}".lower()
        if t.type == EventType.TRADING_HALTED.value or (
                t.type == EventType.EMERGENCY_CLOSE.value and t.reason in ("EMERGENCY",
                                                                           "DAILY_LOSS")):
            if "emergency stop" in text or t.reason == "EMERGENCY":
                ok, need = drawdown >= stop - DRAWDOWN_SLACK, f"a true drawdown of {stop:.1%}"
            elif "daily loss" in text or t.reason == "DAILY_LOSS":
                ok, need = t.daily_pnl <= halt_line, f"a true day P&L below {halt_line:,.0f}"
            else:
                continue  # a HALT for another reason (the trader's, a lost database) is no limit's
        elif (t.type == EventType.TRADING_REDUCING.value and "daily loss" in text) or (
                t.type == EventType.EMERGENCY_CLOSE.value and "(daily loss)" in t.message):
            ok, need = t.daily_pnl <= reduce_line, f"a true day P&L below {reduce_line:,.0f}"
        else:
            continue  # a close's verdict, the Friday close, the trader's flatten
        if not ok:
            wrong.append(
                f"{t.when.astimezone(ET):%a %H:%M:%S} ET {t.type} ({t.message[:120]}): the true "
                f"account was {t.net_liquidation:,.0f} ({-drawdown:+.2%} from {t.reference:,.0f},"
                f" day P&L {t.daily_pnl:,.0f}); it needed {need}")
    return wrong


def emergencies_were_true(run: SoakRun) -> None:
    """No emergency action that the account's true value did not justify (a stream lagging
    another is not a loss), and the week's scripted shock was one that did."""
    wrong = unjustified_emergencies(run)
    assert not wrong, "emergency actions on figures the true account did not have:\n  " + \
        "\n  ".join(wrong)
    halts = [t for t in run.emergencies if t.type == EventType.TRADING_HALTED.value]
    assert halts, "the scripted shock halted nothing: the check above judged no action"


def orders_end_as_journaled(run: SoakRun) -> None:
    """Every order the simulator received from the engine ends in a state its events and its
    intent explain: sent (ORDER_SUBMITTED), filled (ORDER_FILLED, intent FILLED), ended unfilled
    (ORDER_CANCELLED or ORDER_REJECTED, intent CANCELLED or REJECTED; IB's Inactive is a
    rejection), or still working (an open intent, no end journaled); the intent's filled
    quantity is the simulator's."""
    seen: dict[str, set[str]] = {}
    for e in _events(run):
        ref = e.details.get("order_ref")
        if e.type.startswith("ORDER_") and isinstance(ref, str):
            seen.setdefault(ref.casefold(), set()).add(e.type)
    intents = {ref.casefold(): v for ref, v in run.intents_end.items()}
    done = {EventType.ORDER_CANCELLED.value, EventType.ORDER_REJECTED.value}
    wrong: list[str] = []
    for o in run.orders_end:
        key = o.order_ref.casefold()
        got = seen.get(key, set())
        intent = intents.get(key)
        what = f"{o.order_ref} (#{o.order_id} {o.symbol}, {o.filled:g}/{o.quantity:g} {o.status})"
        if EventType.ORDER_SUBMITTED.value not in got:
            wrong.append(f"{what}: no ORDER_SUBMITTED")
        if intent is None:
            wrong.append(f"{what}: no intent in the store")
            continue
        status, filled = intent
        if abs(filled - o.filled) > 1e-9:
            wrong.append(f"{what}: intent says {filled:g} filled")
        if o.filled > 0 and EventType.ORDER_FILLED.value not in got:
            wrong.append(f"{what}: filled, no ORDER_FILLED")
        if o.status == "Filled":
            if status != IntentStatus.FILLED.value:
                wrong.append(f"{what}: intent {status}")
        elif o.status in ("Cancelled", "Inactive"):
            want = EventType.ORDER_REJECTED.value if o.status == "Inactive" else None
            if not got & done or (want and want not in got):
                wrong.append(f"{what}: its end journaled as {sorted(got)}")
            allowed = {IntentStatus.CANCELLED.value, IntentStatus.REJECTED.value}
            if o.filled > 0:
                allowed.add(IntentStatus.PARTIAL.value)
            if status not in allowed:
                wrong.append(f"{what}: intent {status}")
        else:
            if got & done or status not in {s.value for s in OPEN_STATUSES}:
                wrong.append(f"{what}: still working, yet journaled {sorted(got)}, intent "
                             f"{status}")
    assert run.orders_end, "the simulator received no order of ours"
    assert not wrong, "orders whose end no event explains:\n  " + "\n  ".join(wrong)


def memory_is_bounded(run: SoakRun) -> None:
    """The process's RSS at the end is within 20% of its RSS after the first simulated day."""
    assert run.rss_day1_kb > 0 and run.rss_end_kb > 0, (run.rss_day1_kb, run.rss_end_kb)
    ratio = run.rss_end_kb / run.rss_day1_kb
    assert ratio <= GROWTH_LIMIT, (
        f"RSS grew {ratio:.2f}x: {run.rss_day1_kb} kB after day 1, {run.rss_end_kb} kB at the end")


INVARIANTS: dict[str, Callable[[SoakRun], None]] = {
    "week_completed": week_completed,
    "journal_exact": journal_is_the_simulators,
    "order_refs_once": no_order_ref_twice,
    "flat_after_close": flat_after_the_friday_close,
    "entries_and_closes": entries_and_closes_happened,
    "safety_states": safety_states_follow_the_rules,
    "critical_alerts": critical_alerts_delivered,
    "events_log": events_log_parses,
    "memory": memory_is_bounded,
    "no_false_emergency": emergencies_were_true,
    "orders_explained": orders_end_as_journaled,
}
