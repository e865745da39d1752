"""One orderRef style for every order the engine sends, in New York time; the earlier version's
refs still read as this app's, so its orders are adopted after an upgrade.

A trader found `WER-...-ENTRY` beside `wer-emergency-...-20261201T231054-1` (with the time in
UTC). The real engine on the simulated gateway (Realism.real()).
"""

from __future__ import annotations

import re
from datetime import date, timedelta

from tests.conftest import IbLogGuard
from tests.engine.rig import LINK_FAULT_LOGS, Rig, et, thursday_rig
from tests.engine.test_restart_close import closes_of, closing_sent, crossed_zero, kill_engine
from weekly_er_tui.clock import ET
from weekly_er_tui.order_refs import OrderRef, is_entry, is_ours, parse

ONE_STYLE = re.compile(r"WER-\d{8}-[A-Z_.]+-[A-Z_]+(-\d{6}ET-\d+)?")

WEEK = ["JNJ,2026-11-19,AMC,,", "NVDA,2026-11-20,BMO,,"]


rig = thursday_rig(WEEK)


def legacy_ref(engine: object) -> None:
    """Make an engine's executor name its orders as the previous version did."""
    executor = engine.executor  # type: ignore[attr-defined]
    seq = [0]

    def new_ref(reason: str, symbol: str) -> str:
        seq[0] += 1
        return (f"wer-{reason.lower()}-{symbol}-"
                f"{executor.clock.now():%Y%m%dT%H%M%S}-{seq[0]}")

    executor.new_ref = new_ref


def test_the_earlier_styles_still_read_as_ours() -> None:
    assert parse("wer-emergency-AAPL-20261201T231054-1") == OrderRef(
        "EMERGENCY", "AAPL", date(2026, 12, 1), legacy=True)
    assert parse("wer-friday_close-BRK_B-20261120T204500-12") == OrderRef(
        "FRIDAY_CLOSE", "BRK B", date(2026, 11, 20), legacy=True)
    assert parse("WER-20261116-AAPL-ENTRY") == OrderRef("ENTRY", "AAPL", date(2026, 11, 16))
    assert parse("WER-20261120-AAPL-FRIDAY_CLOSE-154500ET-3") == OrderRef(
        "FRIDAY_CLOSE", "AAPL", date(2026, 11, 20))
    for ref in ("wer-emergency-AAPL-20261201T231054-1", "WER-20261116-AAPL-ENTRY",
                "WER-20261120-AAPL-FRIDAY_CLOSE-154500ET-3", "wer-manual-JNJ-7"):
        assert is_ours(ref), ref
    assert is_entry("WER-20261116-AAPL-ENTRY")
    assert not is_entry("WER-20261120-AAPL-FRIDAY_CLOSE-154500ET-3")
    assert not is_entry("wer-emergency-AAPL-20261201T231054-1")
    for ref in ("", "TWS-1234", "my-own-ref"):
        assert parse(ref) is None and not is_ours(ref), ref


async def test_entries_exits_and_closes_share_one_style_in_new_york_time(rig: Rig) -> None:
    engine = await rig.start_engine()
    await rig.enter(et(2026, 11, 19, 10))
    # A close by hand (the trader's own KO), then the Friday close of the week's entries.
    rig.manual.set(et(2026, 11, 19, 11, 30, 5))
    await engine.close_position("KO", "closed by the trader (test)")
    await rig.friday_close()
    refs = {x.order_ref for x in rig.ours()}
    assert len(refs) == 5, refs  # two entries, KO, two Friday closes
    assert all(ONE_STYLE.fullmatch(r) for r in refs), refs
    [manual] = [r for r in refs if "-MANUAL-" in r]
    assert manual.startswith("WER-20261119-KO-MANUAL-113005ET-"), manual  # 11:30:05 ET
    closes = sorted(r for r in refs if "-FRIDAY_CLOSE-" in r)
    at = rig.close_state().close_at.astimezone(ET)
    assert all(r.split("-")[1] == f"{at:%Y%m%d}" and f"-{at:%H%M%S}ET-" in r
               for r in closes), (closes, at)
    for r in refs:
        parsed = parse(r)
        assert parsed is not None and not parsed.legacy and is_ours(r), r


async def test_an_order_the_previous_version_sent_is_adopted_after_the_upgrade(
    rig: Rig, ib_log_guard: IbLogGuard
) -> None:
    for pattern in LINK_FAULT_LOGS:
        ib_log_guard.expect(pattern)
    engine = await rig.start_engine()
    legacy_ref(engine)  # the version before the upgrade
    await rig.enter(et(2026, 11, 19, 10))
    held = {s: rig.sim_position(s) for s in ("JNJ", "NVDA")}
    entries = {e.order_ref for e in rig.plan()}
    fc = rig.close_state()
    rig.gw.partial_fills(4, interval=120)
    rig.manual.set(fc.close_at)
    await rig.until(lambda: len(rig.gw.open_orders()) == 2 and rig.journaled_all())
    old = sorted(o.order_ref for o in rig.gw.open_orders())
    assert all(r.startswith("wer-friday_close-") for r in old), old

    # The upgrade: the old process dies with its close working; the new version starts.
    rig.manual.set(fc.close_at + timedelta(minutes=1))
    await kill_engine(rig)
    rig.gw.partial_fills(1)
    new = await rig.start_engine()
    assert not new.refused
    await rig.until(lambda: sorted(o.order_ref for o in new.state.orders if o.ours) == old)

    # The old orders finish the close; nothing is sent again for what they cover.
    for minutes in (2, 4, 6):
        rig.manual.set(fc.close_at + timedelta(minutes=minutes))
        await rig.until(lambda: rig.journaled_all())
    await rig.until(lambda: not rig.gw.open_orders() and all(
        rig.sim_position(s) == 0 for s in held))
    assert closing_sent(rig.gw, entries) == closes_of(held)
    assert crossed_zero(rig.gw, held) == {}
