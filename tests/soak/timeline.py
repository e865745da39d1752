"""The seeded week under fire: one `random.Random(seed)` draws the week, the earnings calendar and
every fault, so a seed names one exact run (print it, replay it with `--soak-seed N`).

The plan is plain data:
- `scenario`: a scenario in the simulator's documented JSON format (SCENARIOS.md), its `timeline`
  holding every gateway fault at an absolute ET instant (written as scenario.json next to the
  run's data, so a failing week can also be watched with `weekly-er-tui demo --scenario`);
- `calendar_rows`: the strategy's earnings calendar (CSV rows);
- `actions`: everything the driver does, in time order: the timeline's faults, the SMTP server
  going down and coming back, the trader's scripted resume after the emergency stop.

The account starts with no positions, so every position the account ever holds is one the
strategy entered: "flat at the bell" means the whole account is flat, and the emergency stop's
close-everything closes only the strategy's positions.

Where faults may land (so that what the week must prove is well defined):
- the price shock that trips the emergency stop comes on an entry day (not the last one, so that
  entries follow the resume and the Friday close has work), 11:00 to 15:00 ET, after that day's
  10:00 entries, and moves every symbol by -35% to -45%: with at least the day's two fresh
  entries of $15k held that is a loss over 3% of the $200k account, the configured stop;
  normal moves of at most eight $15k positions (20-30% volatility) are more than ten standard
  deviations away from it. No network fault comes within 30 minutes before to 45 after it, and no
  partial-fill window covers that day's entries, so the stop fires cleanly on the shock;
- the SMTP server is down for one hour of simulated time that contains the shock, so the stop's
  CRITICAL alert meets a dead server and must get through once it is back;
- the trader resumes at 09:00 ET on the next session (before its 10:00 entries);
- the gateway goes down for 10 to 40 minutes, longer than the reconnect attempts: at night, in a
  session, or across the 10:00 entries of a day after the resume (they go late, when it is back);
- outages, stalls and connectivity losses stay out of the Friday close (from 40 minutes before it
  to the bell): a gateway that is down at the bell cannot be flat by any program. Drops may come
  anywhere but at the shock, the Friday close included;
- IB rejections: one aimed at one entry's symbol (that entry ends REJECTED), and one or two for
  whatever orders come next after the resume (entries or the Friday close, which retries).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from weekly_er_tui.clock import ET
from weekly_er_tui.strategy.calendars import MarketCalendar, market_calendar

ACCOUNT = "DU9000009"
CASH = 200_000.0
NOTIONAL = 15_000.0
EMERGENCY_STOP = 0.03

# Mondays of the weeks a seed may land in: plain weeks, Thanksgiving (Thursday closed, Friday
# closes at 13:00), Good Friday (the week ends on Thursday), and a Monday holiday (MLK day).
WEEKS = (
    date(2026, 9, 14), date(2026, 11, 16), date(2026, 11, 23), date(2026, 12, 7),
    date(2027, 1, 11), date(2027, 1, 18), date(2027, 2, 8), date(2027, 3, 22),
)  # fmt: skip

SYMBOLS: dict[str, dict[str, Any]] = {
    "AAPL": {"price": 190.0, "sector": "Technology", "volatility": 0.28},
    "MSFT": {"price": 410.0, "sector": "Technology", "volatility": 0.24},
    "NVDA": {"price": 135.0, "sector": "Technology", "volatility": 0.30},
    "JPM": {"price": 205.0, "sector": "Financials", "volatility": 0.22},
    "BAC": {"price": 42.0, "sector": "Financials", "volatility": 0.25},
    "XOM": {"price": 112.0, "sector": "Energy", "volatility": 0.24},
    "CVX": {"price": 155.0, "sector": "Energy", "volatility": 0.22},
    "JNJ": {"price": 152.0, "sector": "Healthcare", "volatility": 0.18},
    "PFE": {"price": 28.0, "sector": "Healthcare", "volatility": 0.22},
    "KO": {"price": 61.0, "sector": "Consumer Staples", "volatility": 0.16},
}  # fmt: skip

SIM_ACTIONS = frozenset({"drop", "refuse", "stall", "reject", "partial_fills", "connectivity",
                         "price_shock"})
DRIVER_ACTIONS = frozenset({"smtp_down", "smtp_up", "resume"})


def et_at(d: date, hh: int, mm: int = 0) -> datetime:
    return datetime.combine(d, time(hh, mm), tzinfo=ET)


def _fmt(when: datetime) -> str:
    return when.astimezone(ET).strftime("%a %Y-%m-%d %H:%M:%S ET")


@dataclass(frozen=True)
class Action:
    """One thing the driver does at `at`: a timeline entry for the gateway (`entry`, in the
    scenario's JSON form), or a driver action (SMTP down/up, the trader's resume)."""

    at: datetime
    kind: str  # a timeline action, or one of DRIVER_ACTIONS
    entry: dict[str, Any] | None = None
    role: str = ""  # why it is there: "emergency shock", "gateway down", ...

    def describe(self) -> str:
        params = {k: v for k, v in (self.entry or {}).items() if k not in ("at", "action")}
        extra = " ".join(f"{k}={v}" for k, v in params.items())
        role = f"  [{self.role}]" if self.role else ""
        return f"{_fmt(self.at)}  {self.kind}{' ' + extra if extra else ''}{role}"


@dataclass
class SoakPlan:
    seed: int
    monday: date
    sessions: list[date]
    last_session: date
    close_at: datetime
    bell: datetime
    calendar_rows: list[str]
    entries: list[tuple[str, date, date, str]]  # symbol, entry session, report date, timing
    shock_at: datetime
    resume_at: datetime
    smtp_down: tuple[datetime, datetime]
    targeted_reject: str  # the symbol whose entry IB rejects
    actions: list[Action] = field(default_factory=list)

    @property
    def start(self) -> datetime:
        """08:00 ET on the week's first session: the engine plans the week at start-up."""
        return et_at(self.sessions[0], 8)

    @property
    def end(self) -> datetime:
        """Two minutes after the bell of the week's last session."""
        return self.bell + timedelta(minutes=2)

    @property
    def symbols(self) -> list[str]:
        return sorted({s for s, *_ in self.entries})

    def scenario(self) -> dict[str, Any]:
        """The simulator's scenario (SCENARIOS.md format) with the gateway's faults."""
        return {
            "name": f"soak-seed-{self.seed}",
            "description": f"The week of {self.monday} under fire (tests/soak, seed {self.seed})",
            "seed": self.seed,
            "account": {"id": ACCOUNT, "cash": CASH},
            "symbols": {s: dict(SYMBOLS[s]) for s in sorted(SYMBOLS)},
            "earnings": [{"symbol": s, "date": r.isoformat(), "timing": t}
                         for s, _, r, t in self.entries],
            "timeline": [a.entry for a in self.actions if a.entry is not None],
        }

    def describe(self) -> str:
        lines = [
            f"soak seed {self.seed}: week of {self.monday} ({len(self.sessions)} sessions, last "
            f"{self.last_session}, Friday close {_fmt(self.close_at)}, bell {_fmt(self.bell)})",
            "calendar: " + "; ".join(self.calendar_rows),
        ]
        lines += ["  " + a.describe() for a in self.actions]
        return "\n".join(lines)

    def to_json(self) -> str:
        return json.dumps({
            "seed": self.seed,
            "scenario": self.scenario(),
            "calendar": self.calendar_rows,
            "driver": [{"at": a.at.astimezone(ET).isoformat(), "action": a.kind, "role": a.role}
                       for a in self.actions if a.kind in DRIVER_ACTIONS],
        }, indent=2)


class _Zones:
    """Intervals where a fault of some class may not land."""

    def __init__(self) -> None:
        self.zones: list[tuple[datetime, datetime]] = []

    def add(self, start: datetime, end: datetime) -> None:
        self.zones.append((start, end))

    def free(self, start: datetime, end: datetime) -> bool:
        return all(end <= a or start >= b for a, b in self.zones)


def _minute(rng: random.Random, start: datetime, end: datetime) -> datetime:
    """A random whole minute in [start, end)."""
    minutes = max(1, int((end - start).total_seconds() // 60))
    return start + timedelta(minutes=rng.randrange(minutes))


def _entry(at: datetime, action: str, **params: Any) -> dict[str, Any]:
    return {"at": at.astimezone(ET).isoformat(), "action": action, **params}


def generate(seed: int, cal: MarketCalendar | None = None) -> SoakPlan:
    """The week, calendar and fault timeline of `seed` (the same seed, the same plan)."""
    cal = cal or market_calendar()
    rng = random.Random(seed)
    monday = rng.choice(WEEKS)
    sessions = cal.sessions_in_week(monday)
    last = sessions[-1]
    bell = cal.session_close(last)
    close_at = bell - timedelta(minutes=15)
    entry_days = sessions[:-1]

    # The calendar: on every entry day one report after that day's close (AMC) and one before
    # the next session's open (BMO); both are entered at 10:00 ET that day.
    names = rng.sample(sorted(SYMBOLS), 2 * len(entry_days))
    entries: list[tuple[str, date, date, str]] = []
    for i, d in enumerate(entry_days):
        entries.append((names[2 * i], d, d, "AMC"))
        entries.append((names[2 * i + 1], d, cal.next_session(d), "BMO"))
    rows = [f"{s},{r.isoformat()},{t},," for s, _, r, t in entries]

    actions: list[Action] = []

    def sim(at: datetime, action: str, role: str, **params: Any) -> None:
        actions.append(Action(at, action, _entry(at, action, **params), role))

    # The emergency: a market-wide gap on one entry day (not the last, so that entries come
    # after the resume and the Friday close has positions to close), after that day's entries.
    shock_day = rng.choice(entry_days[:-1])
    shock_at = _minute(rng, et_at(shock_day, 11), et_at(shock_day, 15))
    pct = -float(rng.randint(35, 45))
    sim(shock_at, "price_shock", "emergency shock", pct=pct)
    resume_at = et_at(cal.next_session(shock_day), 9)
    actions.append(Action(resume_at, "resume", role="the trader resumes"))
    smtp_from = shock_at - timedelta(minutes=rng.randint(5, 45))
    smtp_to = smtp_from + timedelta(hours=1)
    actions.append(Action(smtp_from, "smtp_down", role="SMTP server down for an hour"))
    actions.append(Action(smtp_to, "smtp_up", role="SMTP server back"))

    network = _Zones()  # outages, stalls, connectivity
    network.add(shock_at - timedelta(minutes=30), shock_at + timedelta(minutes=45))
    network.add(close_at - timedelta(minutes=40), bell + timedelta(minutes=5))
    drops = _Zones()
    drops.add(shock_at - timedelta(minutes=30), shock_at + timedelta(minutes=45))

    def session_slot(duration: timedelta, zones: _Zones, day: date | None = None,
                     earliest: tuple[int, int] = (9, 35)) -> datetime | None:
        for _ in range(200):
            d = day or rng.choice(sessions)
            lo = et_at(d, *earliest)
            hi = cal.session_close(d) - duration - timedelta(minutes=5)
            if hi <= lo:
                continue
            at = _minute(rng, lo, hi)
            if zones.free(at, at + duration):
                return at
        return None

    def night_slot(duration: timedelta, zones: _Zones) -> datetime | None:
        for _ in range(200):
            d = rng.choice(sessions[:-1])
            at = _minute(rng, et_at(d, 20), et_at(d, 20) + timedelta(hours=8))
            if zones.free(at, at + duration):
                return at
        return None

    # The gateway down for longer than the reconnect attempts (an IB Gateway restart): at night,
    # across an entry day's 10:00 (the entries go late, when the link is back), or in a session.
    down = timedelta(minutes=rng.randint(10, 40))
    where = rng.randrange(3)
    later_days = [d for d in entry_days if d > shock_day]
    if where == 0:
        at = night_slot(down, network)
    elif where == 1 and later_days:
        d = rng.choice(later_days)
        at = _minute(rng, et_at(d, 9, 40), et_at(d, 9, 59))
        down = max(down, et_at(d, 10, 5) - at)
    else:
        at = session_slot(down, network)
    if at is not None:
        minutes = int(down.total_seconds() // 60)
        sim(at, "refuse", "gateway down", duration=f"{minutes}m")
        sim(at, "drop", "gateway down")
        network.add(at - timedelta(minutes=5), at + down + timedelta(minutes=5))

    for _ in range(rng.randint(1, 2)):
        span = timedelta(minutes=rng.randint(3, 20))
        at = session_slot(span, network)
        if at is not None:
            sim(at, "stall", "stall", duration=f"{int(span.total_seconds() // 60)}m")
            network.add(at - timedelta(minutes=5), at + span + timedelta(minutes=5))

    for code, lo, hi in ((1100, 3, 15), (2103, 2, 10)):
        span = timedelta(minutes=rng.randint(lo, hi))
        at = session_slot(span, network)
        if at is not None:
            sim(at, "connectivity", f"connectivity {code}", code=code,
                duration=f"{int(span.total_seconds() // 60)}m")
            network.add(at - timedelta(minutes=2), at + span + timedelta(minutes=2))
    at = session_slot(timedelta(minutes=1), network)
    if at is not None:
        sim(at, "connectivity", "connectivity 1101", code=1101)
        network.add(at - timedelta(minutes=2), at + timedelta(minutes=3))

    for _ in range(rng.randint(2, 4)):
        if rng.random() < 0.2:
            at = night_slot(timedelta(minutes=1), drops)
        else:
            at = session_slot(timedelta(minutes=1), drops)
        if at is not None:
            sim(at, "drop", "connection drop")
    if rng.random() < 0.5:  # a drop while the Friday close runs
        sim(close_at + timedelta(seconds=rng.choice((0, 30, 90))), "drop",
            "drop during the Friday close")

    # Small single-symbol moves that must not trip anything.
    for _ in range(rng.randint(1, 2)):
        at = session_slot(timedelta(minutes=1), drops)
        if at is not None:
            sim(at, "price_shock", "small move", symbol=rng.choice(names),
                pct=round(rng.choice((-1, 1)) * rng.uniform(1.5, 4.0), 1))

    # Partial fills: one entry day other than the shock day, and (one time in two) the close.
    other_days = [d for d in entry_days if d != shock_day]
    if other_days:
        d = rng.choice(other_days)
        sim(et_at(d, 9, 55), "partial_fills", "partial fills at the entries",
            parts=rng.randint(2, 4), interval=rng.choice((0, 60, 120)), duration="40m")
    if rng.random() < 0.5:
        sim(close_at - timedelta(minutes=5), "partial_fills", "partial fills at the close",
            parts=rng.randint(2, 3), interval=rng.choice((0, 60)), duration="30m")

    # IB rejections: one entry (not one the shock day needs), then whatever comes next after
    # the resume.
    candidates = [(s, d) for s, d, _, _ in entries if d != shock_day]
    target, target_day = rng.choice(candidates) if candidates else ("", shock_day)
    if target:
        sim(et_at(target_day, 9, 0), "reject", "reject one entry", symbol=target, count=1,
            reason="Simulated margin check")
    after = resume_at + timedelta(hours=1, minutes=30)
    if after < close_at - timedelta(minutes=30):
        at = _minute(rng, after, close_at - timedelta(minutes=20))
        sim(at, "reject", "reject the next orders", count=rng.randint(1, 2),
            reason="Simulated rejection")

    actions.sort(key=lambda a: a.at)
    return SoakPlan(
        seed=seed, monday=monday, sessions=sessions, last_session=last, close_at=close_at,
        bell=bell, calendar_rows=rows, entries=entries, shock_at=shock_at, resume_at=resume_at,
        smtp_down=(smtp_from, smtp_to), targeted_reject=target, actions=actions,
    )
