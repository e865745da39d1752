"""WeeklyERStrategy on a ManualClock, with fakes for exactly what it calls: an executor-like broker
(submissions, cancels, flattens, positions, fills the way FillRecorder makes them), a price source
and a link to IB. Store and Journal are the real ones in tmp_path.

The whole week against the simulated gateway is an integration test of its own; these pin the
runner's decisions: when it sends, what, and what the Friday close does.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from weekly_er_tui.broker.orders import FlattenResult, SubmitResult, make_intent
from weekly_er_tui.clock import ET, AcceleratedClock, Clock, ManualClock
from weekly_er_tui.config import AppConfig, StrategyConfig
from weekly_er_tui.journal import Fill, Journal, read_csv
from weekly_er_tui.model import Alert, EventType, FridayPhase, PlanStatus, Severity, TradingState
from weekly_er_tui.order_life import tracked_after
from weekly_er_tui.risk.gate import GateDecision, OrderIntent
from weekly_er_tui.store import Store
from weekly_er_tui.strategy.calendars import MarketCalendar
from weekly_er_tui.strategy.weekly_er import WeeklyERStrategy


def et(y: int, m: int, d: int, hh: int, mm: int = 0, ss: int = 0) -> datetime:
    return datetime.combine(date(y, m, d), time(hh, mm, ss), tzinfo=ET)


def ref(symbol: str, report: str) -> str:
    return f"WER-{report.replace('-', '')}-{symbol}-ENTRY"


# A normal week (2026-11-16 .. 11-20): four entries, two reports that cannot be held through.
WEEK = """symbol,report_date,timing,side,notional
AAPL,2026-11-17,BMO,,
MSFT,2026-11-17,AMC,,
GOOG,2026-11-19,BMO,,5000
NVDA,2026-11-19,AMC,short,
TSLA,2026-11-16,BMO,,
AMZN,2026-11-20,AMC,,
"""
PRICES = {"AAPL": 190.0, "MSFT": 400.0, "GOOG": 170.0, "NVDA": 150.0, "TSLA": 250.0,
          "AMZN": 200.0, "DE": 380.0, "XYZ": 50.0, "IBM": 250.0, "META": 500.0}
AAPL, MSFT, GOOG, NVDA = (ref("AAPL", "2026-11-17"), ref("MSFT", "2026-11-17"),
                          ref("GOOG", "2026-11-19"), ref("NVDA", "2026-11-19"))
# 10,000 / price rounded down; GOOG's 5,000 comes from the calendar.
SIZES = {AAPL: 52, MSFT: 25, GOOG: 29, NVDA: 66}
FRIDAY_CLOSE = et(2026, 11, 20, 15, 45)


# -- fakes ----------------------------------------------------------------------------------
@dataclass
class FakeTrade:
    intent: OrderIntent
    order: Any = None
    contract: Any = None

    def __post_init__(self) -> None:
        self.order = SimpleNamespace(orderRef=self.intent.order_ref)
        self.contract = SimpleNamespace(symbol=self.intent.symbol)


class FakeBroker:
    """What the runner calls on the OrderExecutor, over a pretend account. Fills are made the
    way FillRecorder makes them: journal, store (intent, tracked position), then listeners."""

    def __init__(self, store: Store, journal: Journal, clock: Clock) -> None:
        self.store, self.journal, self.clock = store, journal, clock
        self.positions: dict[str, float] = {}
        self.submitted: list[tuple[datetime, OrderIntent]] = []
        self.flattens: list[tuple[datetime, str, list[str], bool]] = []
        self.cancelled: list[str] = []
        self.working: list[FakeTrade] = []
        self.refuse: str | None = None
        self.fill_entries = True
        self.close_fractions: list[float] = []  # share of each flatten that fills (default all)
        self.listeners: list[Any] = []
        self._seq = 0

    async def submit(self, intent: OrderIntent) -> SubmitResult:
        if self.refuse:
            return SubmitResult(intent, False, GateDecision(False, (self.refuse,), ()),
                                message=self.refuse)
        now = self.clock.now()
        if not self.store.record_intent(intent.order_ref, intent.symbol, intent.side,
                                        intent.quantity, intent.order_type, intent.reason, now):
            return SubmitResult(intent, False, GateDecision(True, (), ()),
                                message="already recorded")
        self._seq += 1
        self.store.update_intent(intent.order_ref, "SUBMITTED", now, order_id=self._seq)
        self.submitted.append((now, intent))
        trade = FakeTrade(intent)
        self.working.append(trade)
        if self.fill_entries and intent.reason == "ENTRY":
            asyncio.get_running_loop().call_soon(self.fill, trade, intent.quantity)
        return SubmitResult(intent, True, GateDecision(True, (), ()), order_id=self._seq)

    def fill(self, trade: FakeTrade, qty: float) -> None:
        intent, now = trade.intent, self.clock.now()
        rec = self.store.intent(intent.order_ref)
        assert rec is not None
        self._seq += 1
        fill = Fill(exec_id=f"x{self._seq}", symbol=intent.symbol, side=intent.side,
                    quantity=qty, price=PRICES[intent.symbol], order_ref=intent.order_ref,
                    reason=rec.reason, timestamp=now)
        assert self.journal.record_fill(fill)
        filled = rec.filled + qty
        self.store.update_intent(intent.order_ref, "FILLED" if filled >= rec.quantity
                                 else "PARTIAL", now, filled=filled)
        signed = qty if intent.side == "BUY" else -qty
        tracked = self.store.tracked_positions().get(intent.symbol)
        before = tracked.quantity if tracked is not None else 0.0
        after = tracked_after(  # the store's one rule for the strategy's book
            tracked.quantity if tracked is not None else None, signed, rec.reason == "ENTRY")
        if after is None:
            self.store.untrack_position(intent.symbol)
        elif after != before:
            self.store.track_position(intent.symbol, after - before,
                                      tracked.order_ref if tracked else intent.order_ref, now)
        held = self.positions.get(intent.symbol, 0.0) + signed
        if held:
            self.positions[intent.symbol] = held
        else:
            self.positions.pop(intent.symbol, None)
        if filled >= rec.quantity and trade in self.working:
            self.working.remove(trade)
        for fn in self.listeners:
            fn(fill)

    def working_orders(self, symbols: Iterable[str] | None = None) -> list[FakeTrade]:
        wanted = None if symbols is None else set(symbols)
        return [t for t in self.working if wanted is None or t.intent.symbol in wanted]

    async def cancel_orders(self, trades: Sequence[FakeTrade], timeout: float = 10.0) -> bool:
        for t in trades:
            self.cancelled.append(t.intent.order_ref)
            self.working.remove(t)
            self.store.update_intent(t.intent.order_ref, "CANCELLED", self.clock.now())
        return True

    def open_positions(self, symbols: Iterable[str] | None = None) -> dict[str, float]:
        wanted = None if symbols is None else set(symbols)
        return {s: q for s, q in self.positions.items() if wanted is None or s in wanted}

    def owned_open(self, owned: dict[str, float]) -> dict[str, float]:
        """The book's part still held (the executor's rule, with no trader's own shares)."""
        out: dict[str, float] = {}
        for symbol, mine in owned.items():
            pos = self.positions.get(symbol, 0.0)
            if mine and pos * mine > 0:
                out[symbol] = math.copysign(min(abs(mine), abs(pos)), mine)
        return out

    async def flatten(self, reason: str = "EMERGENCY", symbols: Iterable[str] | None = None, *,
                      owned: Any = None, attempts: int = 3, order_timeout: float = 30.0,
                      cancel_first: bool = True) -> FlattenResult:
        scope = sorted(symbols or (owned() if owned is not None else ()))
        self.flattens.append((self.clock.now(), reason, scope, cancel_first))
        if cancel_first:
            await self.cancel_orders(self.working_orders(scope))
        share = self.close_fractions.pop(0) if self.close_fractions else 1.0
        to_close = (self.owned_open(owned()) if owned is not None
                    else self.open_positions(scope))
        for symbol, qty in to_close.items():
            n = math.floor(abs(qty) * share)
            if n <= 0:
                continue
            self._seq += 1
            close_ref = f"wer-{reason.lower()}-{symbol}-{self._seq}"
            side = "SELL" if qty > 0 else "BUY"
            self.store.record_intent(close_ref, symbol, side, n, "MKT", reason, self.clock.now())
            self.fill(FakeTrade(make_intent(symbol, side, n, "MKT", None, close_ref, reason)), n)
        remaining = (self.owned_open(owned()) if owned is not None
                     else self.open_positions(scope))
        return FlattenResult(
            closed=tuple(s for s in scope if s not in remaining),
            failed=tuple((s, "partially filled") for s in sorted(remaining)),
            remaining=tuple(sorted(remaining)), working_orders=0, seconds=0.0,
        )


class FakePortfolio:
    def __init__(self, prices: dict[str, float]) -> None:
        self.prices = dict(prices)

    def price(self, symbol: str) -> float | None:
        return self.prices.get(symbol)

    def quote(self, symbol: str) -> tuple[float | None, float | None, float | None]:
        return None, None, None


class Link:
    """The link to IB: `wait_connected` is a real wait (an Event), not a Clock one."""

    def __init__(self) -> None:
        self.up = True
        self._event = asyncio.Event()
        self._event.set()

    def is_connected(self) -> bool:
        return self.up

    async def wait_connected(self) -> None:
        await self._event.wait()

    def drop(self) -> None:
        self.up = False
        self._event.clear()

    def restore(self) -> None:
        self.up = True
        self._event.set()


@dataclass
class Harness:
    runner: WeeklyERStrategy
    clock: ManualClock
    broker: FakeBroker
    portfolio: FakePortfolio
    store: Store
    journal: Journal
    link: Link
    data_dir: Path
    state: list[TradingState] = field(default_factory=lambda: [TradingState.ACTIVE])
    alerts: list[Alert] = field(default_factory=list)
    changes: list[int] = field(default_factory=list)
    task: asyncio.Task[None] | None = None

    def events(self, kind: EventType | None = None) -> list[dict[str, Any]]:
        rows = read_csv(self.data_dir / "logs" / "events_log.csv")
        out = [dict(r, details=json.loads(r["details"])) for r in rows]
        return [r for r in out if kind is None or r["event_type"] == kind.value]

    def close_events(self) -> list[tuple[str, str]]:
        return [(e["details"].get("phase", ""), e["severity"])
                for e in self.events(EventType.FRIDAY_CLOSE)]

    def status(self, order_ref: str) -> PlanStatus:
        return next(e for e in self.runner.plan if e.order_ref == order_ref).status

    def entry(self, order_ref: str) -> Any:
        return next(e for e in self.runner.plan if e.order_ref == order_ref)

    def sent(self) -> list[tuple[datetime, str, str, float]]:
        return [(t.astimezone(ET), i.order_ref, i.side, i.quantity)
                for t, i in self.broker.submitted]

    def start(self) -> None:
        self.task = asyncio.create_task(self.runner.run())

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
            await drain()


def make(
    tmp_path: Path, cal: MarketCalendar, start: datetime, csv_text: str | None = WEEK, *,
    broker: FakeBroker | None = None, clock: ManualClock | None = None,
    history: Any = None, **strategy: Any,
) -> Harness:
    data_dir = tmp_path / "data"
    calendar_file = None
    if csv_text is not None:
        calendar_file = tmp_path / "calendar.csv"
        calendar_file.write_text(csv_text)
    config = AppConfig(strategy=StrategyConfig(
        calendar_file=str(calendar_file) if calendar_file else None, **strategy
    ))
    clock = clock or ManualClock(start)
    store = broker.store if broker else Store.in_data_dir(data_dir)
    journal = broker.journal if broker else Journal(data_dir, clock)
    broker = broker or FakeBroker(store, journal, clock)
    link = Link()
    portfolio = FakePortfolio(PRICES)
    box: dict[str, Harness] = {}
    runner = WeeklyERStrategy(
        config, clock=clock, journal=journal, store=store, executor=broker,  # type: ignore[arg-type]
        portfolio=portfolio,  # type: ignore[arg-type]
        trading_state=lambda: box["h"].state[0], is_connected=link.is_connected,
        wait_connected=link.wait_connected, alert=lambda a: box["h"].alerts.append(a),
        calendar=cal, history=history, on_change=lambda: box["h"].changes.append(1),
    )
    broker.listeners = [runner.on_fill]
    h = Harness(runner, clock, broker, portfolio, store, journal, link, data_dir)
    box["h"] = h
    return h


async def drain() -> None:
    for _ in range(40):
        await asyncio.sleep(0)


async def run_until(h: Harness, when: datetime) -> None:
    """Step the clock from wakeup to wakeup (draining the loop at each) up to `when`."""
    target = when.astimezone(ET)
    for _ in range(10_000):
        await drain()
        wake = h.clock.next_wakeup
        if wake is None or wake > target:
            if target > h.clock.now():
                h.clock.set(target)
            await drain()
            return
        h.clock.set(wake)
    raise AssertionError("the runner never went to sleep for long: a busy loop?")


# -- the week --------------------------------------------------------------------------------
async def test_a_week_enters_at_the_planned_instants_with_the_planned_sizes(
    tmp_path: Path, cal: MarketCalendar
) -> None:
    h = make(tmp_path, cal, et(2026, 11, 15, 12))
    assert h.runner.load() is None
    h.start()
    await run_until(h, et(2026, 11, 16, 9))
    # The plan is there (and journaled) before the first entry.
    assert [e.symbol for e in h.runner.plan] == ["TSLA", "AAPL", "MSFT", "GOOG", "NVDA", "AMZN"]
    assert {e.order_ref: e.quantity for e in h.runner.plan if e.quantity} == SIZES
    assert h.status(ref("TSLA", "2026-11-16")) is PlanStatus.SKIPPED
    assert h.status(ref("AMZN", "2026-11-20")) is PlanStatus.SKIPPED
    assert len(h.events(EventType.STRATEGY)) >= 6

    await run_until(h, et(2026, 11, 20, 16, 5))
    assert h.sent() == [
        (et(2026, 11, 16, 10), AAPL, "BUY", 52),
        (et(2026, 11, 17, 10), MSFT, "BUY", 25),
        (et(2026, 11, 18, 10), GOOG, "BUY", 29),
        (et(2026, 11, 19, 10), NVDA, "SELL", 66),
    ]
    # One Friday close at 15:45 ET for exactly the strategy's positions; then flat.
    assert h.broker.flattens == [
        (FRIDAY_CLOSE, "FRIDAY_CLOSE", ["AAPL", "GOOG", "MSFT", "NVDA"], False)
    ]
    assert h.broker.positions == {}
    assert all(h.status(r) is PlanStatus.CLOSED for r in SIZES)
    assert h.close_events() == [("started", "INFO"), ("done", "INFO"), ("backup", "INFO"),
                                ("result", "INFO")]
    state = h.runner.friday_close_state
    assert state is not None and state.phase is FridayPhase.FLAT and state.flat is True
    assert not [a for a in h.alerts if a.priority is Severity.CRITICAL]
    assert h.changes
    # Every fill journaled once; the close's fills carry the reason FRIDAY_CLOSE.
    fills = read_csv(h.data_dir / "logs" / "trade_journal.csv")
    assert len(fills) == 8 and len({f["exec_id"] for f in fills}) == 8
    assert sorted(f["reason"] for f in fills) == ["ENTRY"] * 4 + ["FRIDAY_CLOSE"] * 4
    # The finished week stays on show until an hour before the next week's first open.
    assert h.clock.next_wakeup == et(2026, 11, 23, 8, 30)
    await run_until(h, et(2026, 11, 23, 8, 31))
    assert h.runner.week_of == date(2026, 11, 23) and h.runner.plan == ()
    state = h.runner.friday_close_state
    assert state is not None and state.close_at == et(2026, 11, 27, 12, 45)
    await h.stop()


async def test_paused_sends_no_entry_and_skips_with_the_reason(
    tmp_path: Path, cal: MarketCalendar
) -> None:
    h = make(tmp_path, cal, et(2026, 11, 15, 12))
    h.state[0] = TradingState.PAUSED
    h.start()
    await run_until(h, et(2026, 11, 20, 16, 5))
    assert h.broker.submitted == []
    for r in SIZES:
        e = h.entry(r)
        assert e.status is PlanStatus.SKIPPED
        assert "trading is PAUSED" in e.note and "not entered by" in e.note
    assert h.broker.flattens == []  # nothing held: the close has nothing to sell
    assert [p for p, _ in h.close_events()] == ["started", "done", "backup", "result"]
    await h.stop()


async def test_resumed_within_the_session_the_entry_goes_late_with_a_note(
    tmp_path: Path, cal: MarketCalendar
) -> None:
    h = make(tmp_path, cal, et(2026, 11, 15, 12))
    h.state[0] = TradingState.HALTED
    h.start()
    await run_until(h, et(2026, 11, 16, 10, 30))
    assert h.broker.submitted == [] and h.status(AAPL) is PlanStatus.PLANNED
    h.state[0] = TradingState.ACTIVE
    await run_until(h, et(2026, 11, 16, 10, 31))
    # Checked again every minute of the Clock while due: sent at the next check.
    assert h.sent() == [(et(2026, 11, 16, 10, 31), AAPL, "BUY", 52)]
    e = h.entry(AAPL)
    assert e.status is PlanStatus.ENTERED
    assert "sent 10:31 ET, after the planned 10:00" in e.note and "HALTED" in e.note
    await h.stop()


async def test_a_gate_refusal_is_denied_with_the_reason_not_rejected_as_ib_would(
    tmp_path: Path, cal: MarketCalendar
) -> None:
    h = make(tmp_path, cal, et(2026, 11, 15, 12))
    h.broker.refuse = "AAPL is on restricted_symbols"
    h.start()
    await run_until(h, et(2026, 11, 16, 12))
    e = h.entry(AAPL)
    assert e.status is PlanStatus.DENIED
    assert "refused by the pre-trade gate: AAPL is on restricted_symbols" in e.note
    await h.stop()


async def test_disconnected_at_the_entry_waits_for_the_link_then_sends(
    tmp_path: Path, cal: MarketCalendar
) -> None:
    h = make(tmp_path, cal, et(2026, 11, 15, 12))
    h.link.drop()
    h.start()
    await run_until(h, et(2026, 11, 16, 10, 20))
    assert h.broker.submitted == []
    h.link.restore()  # real time: the clock does not move
    await drain()
    assert h.sent() == [(et(2026, 11, 16, 10, 20), AAPL, "BUY", 52)]
    # Down all of Tuesday's session: MSFT is skipped at its deadline, 5 min before the close.
    await run_until(h, et(2026, 11, 17, 9))
    h.link.drop()
    await run_until(h, et(2026, 11, 17, 16))
    e = h.entry(MSFT)
    assert e.status is PlanStatus.SKIPPED
    assert "not entered by Tue 15:55 ET: not connected to IB" in e.note
    await h.stop()


async def test_no_price_until_the_deadline_is_skipped_with_the_reason(
    tmp_path: Path, cal: MarketCalendar
) -> None:
    h = make(tmp_path, cal, et(2026, 11, 15, 12))
    h.portfolio.prices.pop("MSFT")
    h.start()
    await run_until(h, et(2026, 11, 17, 16))
    e = h.entry(MSFT)
    assert e.status is PlanStatus.SKIPPED
    assert "not entered by Tue 15:55 ET: no price for MSFT yet" in e.note
    [waiting] = [ev for ev in h.events(EventType.STRATEGY) if "waiting" in ev["message"]]
    assert waiting["severity"] == "MEDIUM"
    await h.stop()


# -- restarts ----------------------------------------------------------------------------------
async def test_a_restart_mid_week_sends_no_order_twice(
    tmp_path: Path, cal: MarketCalendar
) -> None:
    first = make(tmp_path, cal, et(2026, 11, 15, 12))
    first.start()
    await run_until(first, et(2026, 11, 17, 12))
    await first.stop()
    assert [r for _, r, _, _ in first.sent()] == [AAPL, MSFT]

    # A new process on the same store and the same account, Tuesday noon.
    second = make(tmp_path, cal, first.clock.now(), broker=first.broker, clock=first.clock)
    second.start()
    await run_until(second, et(2026, 11, 20, 16, 5))
    assert [(t, r) for t, r, _, _ in second.sent()] == [
        (et(2026, 11, 16, 10), AAPL), (et(2026, 11, 17, 10), MSFT),
        (et(2026, 11, 18, 10), GOOG), (et(2026, 11, 19, 10), NVDA),
    ]
    assert second.broker.flattens[0][2] == ["AAPL", "GOOG", "MSFT", "NVDA"]
    assert all(second.status(r) is PlanStatus.CLOSED for r in SIZES)
    await second.stop()


async def test_restart_keeps_recorded_intents_and_skips_entries_missed_while_down(
    tmp_path: Path, cal: MarketCalendar
) -> None:
    start = et(2026, 11, 18, 9)  # Wednesday before the open
    h = make(tmp_path, cal, start)
    monday = et(2026, 11, 16, 10)
    # AAPL was entered and filled on Monday; GOOG's order was recorded and is still working.
    h.store.record_intent(AAPL, "AAPL", "BUY", 52, "MKT", "ENTRY", monday)
    h.store.update_intent(AAPL, "FILLED", monday, filled=52)
    h.store.track_position("AAPL", 52, AAPL, monday)
    h.broker.positions["AAPL"] = 52
    h.store.record_intent(GOOG, "GOOG", "BUY", 29, "MKT", "ENTRY", monday)
    h.start()
    await run_until(h, et(2026, 11, 18, 12))
    assert h.status(AAPL) is PlanStatus.ENTERED
    assert h.status(GOOG) is PlanStatus.ENTERING  # due now, but recorded: never sent again
    missed = h.entry(MSFT)  # Tuesday 10:00 passed with no intent while the app was down
    assert missed.status is PlanStatus.SKIPPED
    assert "entry time passed while the app was not running" in missed.note
    assert h.broker.submitted == []
    await run_until(h, et(2026, 11, 19, 11))
    assert h.sent() == [(et(2026, 11, 19, 10), NVDA, "SELL", 66)]
    await h.stop()


async def test_started_late_in_the_entry_session_the_entry_still_goes(
    tmp_path: Path, cal: MarketCalendar
) -> None:
    h = make(tmp_path, cal, et(2026, 11, 16, 14, 7))
    h.start()
    await run_until(h, et(2026, 11, 16, 15))
    assert h.sent() == [(et(2026, 11, 16, 14, 7), AAPL, "BUY", 52)]
    assert "sent 14:07 ET, after the planned 10:00" in h.entry(AAPL).note
    await h.stop()


# -- the Friday close --------------------------------------------------------------------------
THANKSGIVING_WEEK = """symbol,report_date,timing
NVDA,2026-11-24,AMC
DE,2026-11-27,BMO
"""


async def test_friday_close_on_the_early_close_of_2026_11_27_is_at_12_45(
    tmp_path: Path, cal: MarketCalendar
) -> None:
    h = make(tmp_path, cal, et(2026, 11, 22, 12), THANKSGIVING_WEEK)
    h.start()
    await run_until(h, et(2026, 11, 27, 13, 5))
    assert [(t, r) for t, r, _, _ in h.sent()] == [
        (et(2026, 11, 24, 10), ref("NVDA", "2026-11-24")),
        (et(2026, 11, 25, 10), ref("DE", "2026-11-27")),  # Thursday is Thanksgiving
    ]
    assert [(t.astimezone(ET), s) for t, _, s, _ in h.broker.flattens] == [
        (et(2026, 11, 27, 12, 45), ["DE", "NVDA"])
    ]
    state = h.runner.friday_close_state
    assert state is not None
    assert (state.close_at, state.backup_at, state.bell) == (
        et(2026, 11, 27, 12, 45), et(2026, 11, 27, 12, 55), et(2026, 11, 27, 13))
    assert "12:45 ET (backup 12:55, bell 13:00): flat" in state.describe()
    result = h.events(EventType.FRIDAY_CLOSE)[-1]
    assert result["details"]["phase"] == "result" and result["timestamp"].startswith(
        "2026-11-27T13:00")
    await h.stop()


async def test_good_friday_week_closes_on_thursday(tmp_path: Path, cal: MarketCalendar) -> None:
    csv_text = "symbol,report_date,timing\nXYZ,2027-03-24,AMC\nIBM,2027-03-25,AMC\n"
    h = make(tmp_path, cal, et(2027, 3, 21, 12), csv_text)
    h.start()
    await run_until(h, et(2027, 3, 25, 16, 5))
    assert h.sent() == [(et(2027, 3, 24, 10), ref("XYZ", "2027-03-24"), "BUY", 200)]
    ibm = h.entry(ref("IBM", "2027-03-25"))  # AMC on the week's last session: sold before it
    assert ibm.status is PlanStatus.SKIPPED
    assert [(t.astimezone(ET), s) for t, _, s, _ in h.broker.flattens] == [
        (et(2027, 3, 25, 15, 45), ["XYZ"])
    ]
    assert h.close_events()[-1] == ("result", "INFO")
    await h.stop()


async def test_partial_fills_at_the_close_the_backup_closes_the_rest_with_a_critical_alert(
    tmp_path: Path, cal: MarketCalendar
) -> None:
    h = make(tmp_path, cal, et(2026, 11, 15, 12))
    h.broker.close_fractions = [0.5]
    h.start()
    await run_until(h, et(2026, 11, 20, 15, 50))
    assert h.broker.positions == {"AAPL": 26, "GOOG": 15, "MSFT": 13, "NVDA": -33}
    await run_until(h, et(2026, 11, 20, 16, 5))
    assert [(t.astimezone(ET), s, c) for t, _, s, c in h.broker.flattens] == [
        (FRIDAY_CLOSE, ["AAPL", "GOOG", "MSFT", "NVDA"], False),
        (et(2026, 11, 20, 15, 55), ["AAPL", "GOOG", "MSFT", "NVDA"], True),
    ]
    [alert] = [a for a in h.alerts if a.priority is Severity.CRITICAL]
    assert alert.key == "friday_close_incomplete:backup"
    assert "AAPL +26, GOOG +15, MSFT +13, NVDA -33" in alert.title
    assert h.close_events() == [("started", "INFO"), ("done", "HIGH"), ("backup", "CRITICAL"),
                                ("result", "INFO")]
    assert h.broker.positions == {}
    await h.stop()


async def test_not_flat_at_the_bell_is_critical(tmp_path: Path, cal: MarketCalendar) -> None:
    h = make(tmp_path, cal, et(2026, 11, 15, 12))
    h.broker.close_fractions = [0.5, 0.0]
    h.start()
    await run_until(h, et(2026, 11, 20, 16, 5))
    assert h.close_events()[-1] == ("result", "CRITICAL")
    keys = [a.key for a in h.alerts if a.priority is Severity.CRITICAL]
    assert keys == ["friday_close_incomplete:backup", "friday_close_incomplete:result"]
    state = h.runner.friday_close_state
    assert state is not None and state.phase is FridayPhase.NOT_FLAT and state.flat is False
    assert dict(state.open_positions) == {"AAPL": 26, "GOOG": 15, "MSFT": 13, "NVDA": -33}
    await h.stop()


async def test_disconnected_at_close_at_the_close_runs_when_the_link_is_back(
    tmp_path: Path, cal: MarketCalendar
) -> None:
    h = make(tmp_path, cal, et(2026, 11, 15, 12))
    h.start()
    await run_until(h, et(2026, 11, 20, 15, 44))
    h.link.drop()
    await run_until(h, et(2026, 11, 20, 15, 46))
    assert h.broker.flattens == []
    state = h.runner.friday_close_state
    assert state is not None and state.phase is FridayPhase.WAITING_FOR_LINK
    h.link.restore()  # back after 60 s
    await drain()
    assert [(t.astimezone(ET), s) for t, _, s, _ in h.broker.flattens] == [
        (et(2026, 11, 20, 15, 46), ["AAPL", "GOOG", "MSFT", "NVDA"])
    ]
    await run_until(h, et(2026, 11, 20, 16, 5))
    phases = [p for p, _ in h.close_events()]
    assert phases == ["started", "waiting", "resumed", "done", "backup", "result"]
    assert h.close_events()[-1] == ("result", "INFO")
    await h.stop()


async def test_link_never_back_before_the_bell_is_not_verified(
    tmp_path: Path, cal: MarketCalendar
) -> None:
    h = make(tmp_path, cal, et(2026, 11, 15, 12))
    h.start()
    await run_until(h, et(2026, 11, 20, 15))
    h.link.drop()
    await run_until(h, et(2026, 11, 20, 16, 5))
    assert h.broker.flattens == []
    assert h.close_events()[-1] == ("result", "CRITICAL")
    [alert] = [a for a in h.alerts if a.key == "friday_close_incomplete:result"]
    assert "NOT VERIFIED" in alert.title and "AAPL +52" in alert.title
    await h.stop()


async def test_the_close_cancels_working_entries_and_leaves_other_positions(
    tmp_path: Path, cal: MarketCalendar
) -> None:
    csv_text = "symbol,report_date,timing\nXYZ,2026-11-20,BMO\n"  # entry Thursday 10:00
    h = make(tmp_path, cal, et(2026, 11, 15, 12), csv_text)
    h.broker.fill_entries = False  # the entry order stays working
    h.broker.positions["IBM"] = 100  # the trader's own position: not the strategy's
    manual = FakeTrade(make_intent("IBM", "SELL", 100, "LMT", 300.0, "manual-1", "MANUAL"))
    h.broker.working.append(manual)
    h.start()
    await run_until(h, et(2026, 11, 20, 16, 5))
    xyz = ref("XYZ", "2026-11-20")
    assert h.broker.cancelled == [xyz]
    assert h.broker.working == [manual]
    e = h.entry(xyz)
    assert e.status is PlanStatus.SKIPPED and "not filled before the Friday close" in e.note
    assert h.broker.flattens == []  # no strategy position: IBM is not ours to close
    assert h.broker.positions == {"IBM": 100}
    assert h.close_events()[-1] == ("result", "INFO")
    await h.stop()


async def test_load_while_running_replans_and_keeps_what_was_sent(
    tmp_path: Path, cal: MarketCalendar
) -> None:
    h = make(tmp_path, cal, et(2026, 11, 15, 12))
    h.start()
    await run_until(h, et(2026, 11, 16, 12))
    (tmp_path / "calendar.csv").write_text(WEEK + "META,2026-11-19,AMC,,\n")
    assert h.runner.load() is None
    await drain()
    meta = ref("META", "2026-11-19")
    assert h.status(AAPL) is PlanStatus.ENTERED and h.status(meta) is PlanStatus.PLANNED
    await run_until(h, et(2026, 11, 19, 11))
    assert [r for _, r, _, _ in h.sent()] == [AAPL, MSFT, GOOG, meta, NVDA]
    await h.stop()


async def test_volatility_sizing_uses_the_daily_closes_of_the_plan_symbols(
    tmp_path: Path, cal: MarketCalendar
) -> None:
    asked: list[str] = []

    async def history(symbol: str) -> list[float]:
        asked.append(symbol)
        return [100.0, 102.0] * 11  # about 2 % a day: 200 / 0.02 is about 10,000

    h = make(tmp_path, cal, et(2026, 11, 15, 12), history=history, sizing="volatility",
             risk_budget=400)
    h.start()
    await run_until(h, et(2026, 11, 16, 11))
    assert sorted(asked) == ["AAPL", "GOOG", "MSFT", "NVDA"]  # not the skipped TSLA, AMZN
    e = h.entry(MSFT)
    assert "volatility 2.0" in e.note and e.quantity == 49  # ~19,700 at 400
    assert h.entry(GOOG).quantity == SIZES[GOOG]  # the calendar's notional wins
    assert h.sent() == [(et(2026, 11, 16, 10), AAPL, "BUY", 103)]
    await h.stop()


# -- loading -----------------------------------------------------------------------------------
def test_a_bad_calendar_reports_every_bad_row(tmp_path: Path, cal: MarketCalendar) -> None:
    bad = ("symbol,report_date,timing\nAAPL,2026-11-17,BMO\nMSFT,2026-13-01,BMO\n"
           "NVDA,2026-11-19,LATE\n")
    h = make(tmp_path, cal, et(2026, 11, 15, 12), bad)
    error = h.runner.load()
    assert error is not None and error == h.runner.error
    assert error.startswith("calendar.csv: 2 bad rows; the strategy did not start: line 3: ")
    assert "; line 4: timing 'LATE'" in error
    [event] = h.events(EventType.STRATEGY)
    assert event["severity"] == "HIGH" and event["message"] == error
    [alert] = h.alerts
    assert alert.priority is Severity.HIGH and "calendar.csv" in alert.title


def test_no_calendar_file_is_idle_with_a_note(tmp_path: Path, cal: MarketCalendar) -> None:
    h = make(tmp_path, cal, et(2026, 11, 15, 12), None)
    assert h.runner.load() is None
    assert h.runner.error == ""
    assert "no strategy.calendar_file configured" in h.runner.note


async def test_disabled_strategy_returns_and_warns_about_what_it_holds(
    tmp_path: Path, cal: MarketCalendar
) -> None:
    h = make(tmp_path, cal, et(2026, 11, 18, 12), enabled=False)
    h.store.track_position("AAPL", 52, AAPL, et(2026, 11, 16, 10))
    await asyncio.wait_for(h.runner.run(), 1)
    assert "strategy.enabled is false" in h.runner.note
    [alert] = h.alerts
    assert "AAPL +52" in alert.title and "no Friday close" in alert.title


async def test_with_a_bad_calendar_the_friday_close_still_sells_strategy_positions(
    tmp_path: Path, cal: MarketCalendar
) -> None:
    h = make(tmp_path, cal, et(2026, 11, 20, 9), "symbol,report_date\nAAPL,someday\n")
    h.store.track_position("AAPL", 52, AAPL, et(2026, 11, 16, 10))
    h.broker.positions["AAPL"] = 52
    assert h.runner.load() is not None
    h.start()
    await run_until(h, et(2026, 11, 20, 16, 5))
    assert [(t.astimezone(ET), s) for t, _, s, _ in h.broker.flattens] == [
        (FRIDAY_CLOSE, ["AAPL"])
    ]
    assert h.broker.positions == {}
    assert h.close_events()[-1] == ("result", "INFO")
    await h.stop()


# -- clock speed -------------------------------------------------------------------------------
async def test_the_close_is_the_same_at_clock_speed_3600(
    tmp_path: Path, cal: MarketCalendar
) -> None:
    """20 simulated minutes in about a third of a real second: the same orders, on time."""
    start = et(2026, 11, 20, 15, 40)
    clock = AcceleratedClock(start, speed=3600)
    h = make(tmp_path, cal, start, clock=clock)  # type: ignore[arg-type]
    for symbol, qty in (("AAPL", 52), ("NVDA", -66)):
        h.store.track_position(symbol, qty, ref(symbol, "2026-11-17"), start)
        h.broker.positions[symbol] = qty
    h.broker.close_fractions = [0.5]
    h.start()
    deadline = asyncio.get_running_loop().time() + 5
    while (h.runner.friday_close_state is None
           or h.runner.friday_close_state.finished_at is None):
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.01)
    await h.stop()
    [(close, _, s1, c1), (backup, _, s2, c2)] = h.broker.flattens
    assert (s1, c1, s2, c2) == (["AAPL", "NVDA"], False, ["AAPL", "NVDA"], True)
    # Never early, and each step in its own window (a loaded machine may make it a bit late).
    assert FRIDAY_CLOSE <= close < et(2026, 11, 20, 15, 55) <= backup < et(2026, 11, 20, 16)
    assert h.close_events() == [("started", "INFO"), ("done", "HIGH"), ("backup", "CRITICAL"),
                                ("result", "INFO")]

