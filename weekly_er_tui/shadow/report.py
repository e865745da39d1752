"""The shadow report: a week of would-be orders against the account's real executions.

Read from a shadow engine's data directory only (no connection): logs/shadow_orders.csv (what it
would have sent and closed), logs/trade_journal.csv (the account's real executions, reason
OTHER_SYSTEM: the system that traded) and logs/events_log.csv (the trading-state changes).

- The real executions are grouped into orders (by permId, else orderRef and orderId), at the time
  of their first execution, with their average price.
- A would-be order the gate accepted is matched to one real order of the same symbol and side
  whose time is within `window` (30 minutes unless told), the nearest first; each real order is
  matched once. What is left is listed on its own (only would-be, only real); orders the gate
  DENIED are listed with its reasons and not matched (they would not have been sent).
- P&L is realized P&L by average cost, before commissions: the would-be orders at their likely
  prices, and the other system's executions at their prices, each on its own day.
"""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from weekly_er_tui.clock import ET
from weekly_er_tui.journal import read_csv

from .journal import ACCEPTED, CLOSE, ORDER, SHADOW_ORDERS

DEFAULT_WINDOW = timedelta(minutes=30)
OTHER_SYSTEM = "OTHER_SYSTEM"
STATE_EVENTS = ("TRADING_HALTED", "TRADING_REDUCING")  # what a safety rule decided


@dataclass(frozen=True, slots=True)
class Order:
    """One order: a would-be one (ref, verdict, price source) or a real one (its executions)."""

    time: datetime
    symbol: str
    side: str  # BUY or SELL
    quantity: float
    price: float | None
    ref: str
    reason: str = ""
    verdict: str = ACCEPTED
    source: str = ""  # where a would-be price came from (bid, ask, last, ...)

    @property
    def signed(self) -> float:
        return self.quantity if self.side == "BUY" else -self.quantity


@dataclass(frozen=True, slots=True)
class Match:
    would_be: Order | None
    real: Order | None

    @property
    def minutes_apart(self) -> float | None:
        if self.would_be is None or self.real is None:
            return None
        return abs((self.real.time - self.would_be.time).total_seconds()) / 60


@dataclass(frozen=True, slots=True)
class Action:
    time: datetime
    what: str  # CLOSE, CANCEL, CANCEL_ALL, or a trading-state event
    text: str


@dataclass
class Day:
    day: date
    matches: list[Match] = field(default_factory=list)
    denied: list[Order] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)
    would_be_pnl: float = 0.0
    real_pnl: float = 0.0
    unpriced: int = 0  # would-be orders with no likely price (their P&L is not counted)


@dataclass
class Report:
    week_of: date
    window: timedelta
    days: list[Day]
    open_would_be: dict[str, float]

    @property
    def would_be_pnl(self) -> float:
        return sum(d.would_be_pnl for d in self.days)

    @property
    def real_pnl(self) -> float:
        return sum(d.real_pnl for d in self.days)


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(ET)


def _num(text: str) -> float | None:
    try:
        return float(text) if text else None
    except ValueError:
        return None


def monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _would_be(rows: Iterable[dict[str, str]]) -> list[Order]:
    return [Order(_time(r["timestamp"]), r["symbol"], r["side"], _num(r["quantity"]) or 0.0,
                  _num(r["likely_price"]), r["order_ref"], r["reason"], r["verdict"],
                  r["price_source"]) for r in rows if r["kind"] == ORDER]


def _real(rows: Iterable[dict[str, str]]) -> list[Order]:
    """The other system's executions, grouped into orders."""
    groups: dict[str, list[dict[str, str]]] = defaultdict(list)
    for r in rows:
        if r.get("reason") != OTHER_SYSTEM:
            continue
        key = r["perm_id"] if r.get("perm_id") not in ("", "0", None) else (
            f"{r['order_ref']}/{r['order_id']}" if r.get("order_id") not in ("", "0", None)
            else r["exec_id"])
        groups[key].append(r)
    out = []
    for key, execs in groups.items():
        qty = sum(_num(e["quantity"]) or 0.0 for e in execs)
        value = sum((_num(e["quantity"]) or 0.0) * (_num(e["price"]) or 0.0) for e in execs)
        first = min(execs, key=lambda e: _time(e["timestamp"]))
        side = "BUY" if first["side"].upper() in ("BOT", "BUY") else "SELL"
        out.append(Order(_time(first["timestamp"]), first["symbol"], side, qty,
                         value / qty if qty else None, first["order_ref"] or key))
    return sorted(out, key=lambda o: o.time)


def match(would_be: list[Order], real: list[Order], window: timedelta) -> list[Match]:
    """One-to-one, same symbol and side, within `window`, the nearest pairs first."""
    pairs = sorted(
        ((abs(r.time - w.time), i, j) for i, w in enumerate(would_be)
         for j, r in enumerate(real)
         if w.symbol == r.symbol and w.side == r.side and abs(r.time - w.time) <= window),
        key=lambda p: (p[0], p[1], p[2]))
    taken_w: dict[int, int] = {}
    taken_r: set[int] = set()
    for _, i, j in pairs:
        if i not in taken_w and j not in taken_r:
            taken_w[i] = j
            taken_r.add(j)
    out = [Match(w, real[taken_w[i]] if i in taken_w else None) for i, w in enumerate(would_be)]
    out += [Match(None, r) for j, r in enumerate(real) if j not in taken_r]
    return sorted(out, key=lambda m: (m.would_be or m.real).time)  # type: ignore[union-attr]


def _realize(orders: list[Order]) -> tuple[dict[date, float], dict[str, float], int]:
    """Realized P&L per day by average cost; what is left open; orders without a price."""
    pos: dict[str, float] = defaultdict(float)
    cost: dict[str, float] = defaultdict(float)
    pnl: dict[date, float] = defaultdict(float)
    unpriced = 0
    for o in sorted(orders, key=lambda o: o.time):
        if o.price is None:  # held all the same; its P&L cannot be told
            unpriced += 1
            pos[o.symbol] += o.signed
            if abs(pos[o.symbol]) < 1e-9:
                pos.pop(o.symbol)
            continue
        q, s = pos[o.symbol], o.signed
        if q and (q > 0) != (s > 0):  # reduces (and may turn over)
            closed = min(abs(q), abs(s))
            avg = cost[o.symbol] / abs(q)
            pnl[o.time.date()] += (o.price - avg) * closed * (1 if q > 0 else -1)
            cost[o.symbol] -= avg * closed
            left = abs(s) - closed
            pos[o.symbol] = q + s
            if left > 0:
                cost[o.symbol] = o.price * left
        else:
            pos[o.symbol] = q + s
            cost[o.symbol] += o.price * abs(s)
        if abs(pos[o.symbol]) < 1e-9:
            pos.pop(o.symbol)
            cost.pop(o.symbol, None)
    return dict(pnl), dict(pos), unpriced


def build(data_dir: Path | str, week: date | None = None,
          window: timedelta = DEFAULT_WINDOW) -> Report:
    """The report of `week` (any day of it; default: the week of the last would-be row)."""
    logs = Path(data_dir) / "logs"
    shadow_rows = read_csv(logs / SHADOW_ORDERS) if (logs / SHADOW_ORDERS).exists() else []
    trade_path = logs / "trade_journal.csv"
    trades = read_csv(trade_path) if trade_path.exists() else []
    events_path = logs / "events_log.csv"
    events = read_csv(events_path) if events_path.exists() else []
    if week is None:
        stamps = [_time(r["timestamp"]) for r in shadow_rows] or [datetime.now(ET)]
        week = max(stamps).date()
    start = monday_of(week)
    end = start + timedelta(days=7)

    def inside(t: datetime) -> bool:
        return start <= t.date() < end

    would_be = [o for o in _would_be(shadow_rows) if inside(o.time)]
    accepted = [o for o in would_be if o.verdict == ACCEPTED]
    real = [o for o in _real(trades) if inside(o.time)]
    days: dict[date, Day] = {}

    def day(t: datetime) -> Day:
        return days.setdefault(t.date(), Day(t.date()))

    for m in match(accepted, real, window):
        day((m.would_be or m.real).time).matches.append(m)  # type: ignore[union-attr]
    for o in would_be:
        if o.verdict != ACCEPTED:
            day(o.time).denied.append(o)
    for r in shadow_rows:
        if r["kind"] != ORDER and inside(t := _time(r["timestamp"])):
            text = r["note"] if r["kind"] != CLOSE else f"{r['reason']}: {r['note']}"
            day(t).actions.append(Action(t, r["kind"], text))
    for ev in events:
        if ev["event_type"] in STATE_EVENTS and inside(t := _time(ev["timestamp"])):
            day(t).actions.append(Action(t, ev["event_type"], ev["message"]))
    wb_pnl, open_wb, _ = _realize(accepted)
    real_pnl, _, _ = _realize(real)
    for d, v in wb_pnl.items():
        day(datetime.combine(d, datetime.min.time(), ET)).would_be_pnl = v
    for d, v in real_pnl.items():
        day(datetime.combine(d, datetime.min.time(), ET)).real_pnl = v
    for o in accepted:
        if o.price is None:
            day(o.time).unpriced += 1
    for each in days.values():
        each.actions.sort(key=lambda a: a.time)
    return Report(start, window, [days[k] for k in sorted(days)], open_wb)


def _o(o: Order) -> str:
    price = f"@ {o.price:,.2f}" if o.price is not None else "@ (no price)"
    src = f" ({o.source})" if o.source else ""
    return f"{o.time:%H:%M:%S} {o.side:<4} {o.quantity:g} {o.symbol} {price}{src}"


def text(report: Report) -> str:
    mins = report.window.total_seconds() / 60
    lines = [f"Shadow report, week of {report.week_of:%a %Y-%m-%d}",
             f"Would-be orders against the account's real executions (the other system's), "
             f"matched by symbol, side and time within {mins:g} minutes. P&L is realized, by "
             "average cost, before commissions.", ""]
    if not report.days:
        lines.append("Nothing this week: no would-be order, no real execution, no safety action.")
    for d in report.days:
        lines.append(f"{d.day:%a %Y-%m-%d}")
        for m in d.matches:
            if m.would_be is not None and m.real is not None:
                diff = ("" if m.would_be.price is None or m.real.price is None
                        else f", real - would-be {m.real.price - m.would_be.price:+.2f}/share")
                lines.append(f"  MATCHED    {_o(m.would_be)} [{m.would_be.reason}]  <->  real "
                             f"{_o(m.real)} ({m.minutes_apart:.1f} min apart{diff})")
            elif m.would_be is not None:
                lines.append(f"  WOULD-BE   {_o(m.would_be)} [{m.would_be.reason}]: no real "
                             "order matches")
            elif m.real is not None:
                lines.append(f"  REAL ONLY  {_o(m.real)}: no would-be order matches")
        for o in d.denied:
            lines.append(f"  DENIED     {_o(o)} [{o.reason}]: {o.verdict}")
        for a in d.actions:
            lines.append(f"  SAFETY     {a.time:%H:%M:%S} {a.what}: {a.text}")
        note = f" ({d.unpriced} would-be order(s) without a price not counted)" if d.unpriced \
            else ""
        lines.append(f"  P&L        would-be {d.would_be_pnl:+,.2f}; other system "
                     f"{d.real_pnl:+,.2f}{note}")
        lines.append("")
    wb = [m for d in report.days for m in d.matches if m.would_be is not None]
    matched = sum(1 for m in wb if m.real is not None)
    only_real = sum(1 for d in report.days for m in d.matches if m.would_be is None)
    lines.append(f"Week: would-be P&L {report.would_be_pnl:+,.2f}; other system "
                 f"{report.real_pnl:+,.2f}; {matched} of {len(wb)} would-be orders matched, "
                 f"{only_real} real order(s) unmatched")
    book = ", ".join(f"{s} {q:+g}" for s, q in sorted(report.open_would_be.items()))
    lines.append(f"Would-be positions open at the end of the week: {book or 'none'}")
    return "\n".join(lines) + "\n"


CSV_COLUMNS = ("day", "row", "time", "symbol", "side", "would_be_quantity", "would_be_price",
               "price_source", "order_ref", "reason", "verdict", "real_time", "real_quantity",
               "real_price", "real_ref", "minutes_apart", "note")


def to_csv(report: Report) -> str:
    buf = io.StringIO(newline="")
    w = csv.DictWriter(buf, CSV_COLUMNS, extrasaction="raise")
    w.writeheader()

    def fmt(v: float | None) -> str:
        return "" if v is None else f"{v:g}" if float(v).is_integer() else f"{v:.4f}"

    for d in report.days:
        base = {"day": d.day.isoformat()}
        for m in d.matches:
            wb, real = m.would_be, m.real
            row = dict(base, row="MATCHED" if wb and real else "WOULD_BE_ONLY" if wb
                       else "REAL_ONLY")
            if wb is not None:
                row |= {"time": wb.time.isoformat(), "symbol": wb.symbol, "side": wb.side,
                        "would_be_quantity": fmt(wb.quantity), "would_be_price": fmt(wb.price),
                        "price_source": wb.source, "order_ref": wb.ref, "reason": wb.reason,
                        "verdict": wb.verdict}
            if real is not None:
                row |= {"symbol": real.symbol, "side": real.side,
                        "real_time": real.time.isoformat(), "real_quantity": fmt(real.quantity),
                        "real_price": fmt(real.price), "real_ref": real.ref}
            row["minutes_apart"] = fmt(m.minutes_apart)
            w.writerow(row)
        for o in d.denied:
            w.writerow(dict(base, row="DENIED", time=o.time.isoformat(), symbol=o.symbol,
                            side=o.side, would_be_quantity=fmt(o.quantity),
                            would_be_price=fmt(o.price), price_source=o.source,
                            order_ref=o.ref, reason=o.reason, verdict=o.verdict))
        for a in d.actions:
            w.writerow(dict(base, row="SAFETY_ACTION", time=a.time.isoformat(), reason=a.what,
                            note=a.text))
        w.writerow(dict(base, row="PNL", note=json.dumps(
            {"would_be": round(d.would_be_pnl, 2), "other_system": round(d.real_pnl, 2),
             "unpriced_would_be_orders": d.unpriced})))
    return buf.getvalue()
