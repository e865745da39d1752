"""A week in shadow mode beside the original system (issue 19's first "must show").

The engine runs the week in shadow on the simulator (realism profile on) while a second client,
the original system, trades the account: the simulator receives nothing from the engine's
clientId, the shadow journal holds the week's would-be entries and the Friday close, and the
shadow report matches the original system's fills against them."""

from __future__ import annotations

import csv
import io
from datetime import date

from tests.engine.rig import Rig, et
from tests.shadow.conftest import (
    CLIENT_ID,
    OTHER_CLIENT_ID,
    GatewayRecord,
    OtherSystem,
    other_fills,
    shadow_rows,
)
from weekly_er_tui.model import EventType, PlanStatus
from weekly_er_tui.shadow import report


async def test_a_shadow_week_beside_the_original_system(
        rig: Rig, record: GatewayRecord, other: OtherSystem) -> None:
    engine = await rig.start_engine()
    assert engine.state.shadow is True
    sides = {e.symbol: e.side for e in rig.plan()}
    assert sides == {"AAPL": "BUY", "JPM": "SELL", "XOM": "BUY"}

    # Each entry instant: the shadow engine decides (and journals) its entry; the original
    # system sends its own at the same minute.
    for day, symbols in ((23, ["AAPL"]), (24, ["JPM", "XOM"])):
        await rig.step_to_entry(et(2026, 11, day, 10))
        await rig.until(lambda s=symbols: all(rig.entry(x).status is PlanStatus.ENTERED
                                              for x in s))
        for symbol in symbols:
            entry = rig.entry(symbol)
            await other.trade(symbol, entry.side, entry.quantity)
    entries = shadow_rows(rig, "ORDER")
    assert [(r["symbol"], r["side"], r["reason"], r["verdict"]) for r in entries] == [
        ("AAPL", "BUY", "ENTRY", "ACCEPTED"), ("JPM", "SELL", "ENTRY", "ACCEPTED"),
        ("XOM", "BUY", "ENTRY", "ACCEPTED")]
    for r in entries:
        # A buy would have paid the ask, a sell got the bid, at that instant.
        assert r["price_source"] == ("ask" if r["side"] == "BUY" else "bid"), r
        assert float(r["likely_price"]) == float(r["ask" if r["side"] == "BUY" else "bid"])
        assert r["order_ref"] == rig.entry(r["symbol"]).order_ref
    # The would-be book is the would-be orders', in the shadow engine's own database.
    book = {s: p.quantity for s, p in engine.store.tracked_positions().items()}
    assert book == {e.symbol: (e.quantity if e.side == "BUY" else -e.quantity)
                    for e in rig.plan()}
    assert engine.store.path.name == "shadow.sqlite"
    assert not (rig.data_dir / "state" / "weekly_er.sqlite").exists()

    # The Friday close (12:45 ET on the 13:00 early close): the shadow closes its would-be book;
    # the original system closes its own positions.
    fc = rig.close_state()
    rig.manual.set(fc.close_at)
    await rig.until(lambda: rig.has_phase("done"))
    for symbol, side in sides.items():
        await other.trade(symbol, "SELL" if side == "BUY" else "BUY",
                          abs(rig.sim_position(symbol)))
    rig.manual.set(fc.backup_at)
    await rig.until(lambda: rig.has_phase("backup"))
    rig.manual.set(fc.bell)
    await rig.until(lambda: rig.has_phase("result"))
    assert rig.close_state().flat is True
    assert all(e.status is PlanStatus.CLOSED for e in rig.plan()), rig.plan()
    closes = [r for r in shadow_rows(rig, "ORDER") if r["reason"] == "FRIDAY_CLOSE"]
    assert sorted((r["symbol"], r["side"]) for r in closes) == [
        ("AAPL", "SELL"), ("JPM", "BUY"), ("XOM", "SELL")]
    assert [r["reason"] for r in shadow_rows(rig, "CLOSE")] == ["FRIDAY_CLOSE"]
    assert engine.store.tracked_positions() == {}

    # Nothing reached the simulator from the engine's clientId; the original system's did.
    assert record.of(CLIENT_ID) == []
    assert len([k for k, _ in record.of(OTHER_CLIENT_ID) if k == "place"]) == 6
    assert not [x for x in rig.gw.executions if x.client_id == CLIENT_ID]
    # Its executions are journaled, once each, as the other system's; none is in the book.
    theirs = [x for x in rig.gw.executions if x.client_id == OTHER_CLIENT_ID]
    fills = other_fills(rig)
    assert sorted(r["exec_id"] for r in fills) == sorted(x.exec_id for x in theirs)
    assert all(r["reason"] == "OTHER_SYSTEM" for r in rig.trades())
    # The other system's positions are not orphans, and every alert says SHADOW.
    assert not rig.events(EventType.ORPHANED_POSITION)
    assert not [v for v in rig.events(EventType.SAFETY_VIOLATION)
                if "orphan" in v["message"].lower()]
    await engine.pause()
    await engine.resume()
    assert len(engine.alerts.records) >= 2 and all(
        a.title.startswith("[SHADOW] ") for a in engine.alerts.records)

    # The report matches the other system's fills against the would-be orders.
    rep = report.build(rig.data_dir, date(2026, 11, 23))
    assert [d.day.isoformat() for d in rep.days] == ["2026-11-23", "2026-11-24", "2026-11-27"]
    matches = [m for d in rep.days for m in d.matches]
    assert len(matches) == 6 and all(m.would_be and m.real for m in matches), matches
    for m in matches:
        assert m.would_be is not None and m.real is not None
        assert (m.would_be.symbol, m.would_be.side) == (m.real.symbol, m.real.side)
        assert m.minutes_apart is not None and m.minutes_apart < 1
    assert rep.open_would_be == {}
    friday = rep.days[-1]
    assert [a.what for a in friday.actions] == ["CLOSE"]
    assert friday.would_be_pnl != 0.0 and friday.real_pnl != 0.0
    out = report.text(rep)
    assert out.count("MATCHED") == 6 and "within 30 minutes" in out
    rows = list(csv.DictReader(io.StringIO(report.to_csv(rep))))
    assert [r["row"] for r in rows].count("MATCHED") == 6
    assert [r["row"] for r in rows].count("PNL") == 3
