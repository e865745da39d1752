"""What a crash-restart week must prove, per seed: each invariant reads the gateway's record (every
order it booked, every execution, the opening positions) and the engine's trade journal, and
raises AssertionError naming what broke.

"Ours" is this app's orderRefs (WER-... for the plan's entries, wer-... for the executor's), as
broker/rebuild.py reads them. The strategy's quantity in a symbol is the sum of its own
executions; the trader's own quantity is the account's position minus it.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import datetime

from tests.crashsoak.harness import BELL, CLIENT_ID, CrashRun
from weekly_er_tui.order_refs import is_ours


def _ran(run: CrashRun) -> None:
    assert not run.error, f"the week did not run to the bell: {run.error}"
    assert run.record, "the gateway wrote no record"


def _ours(run: CrashRun) -> list[dict[str, object]]:
    return [e for e in run.record["executions"] if is_ours(str(e["order_ref"]))]


def order_ref_sent_once(run: CrashRun) -> None:
    """No orderRef booked twice: a restarted engine never re-sends an entry or a close it had
    already sent (a modification is the same order, so the record counts orders, not messages)."""
    _ran(run)
    refs = Counter(str(o["order_ref"]) for o in run.record["orders"] if o["order_ref"])
    twice = {ref: n for ref, n in refs.items() if n > 1}
    assert not twice, f"orderRefs booked more than once: {twice}"
    assert any(is_ours(r) for r in refs), "the engine sent no order at all"


def execution_journaled_once(run: CrashRun) -> None:
    """Every execution of our clientId has exactly one row in trade_journal.csv (by execId), and
    the journal holds no execution the gateway never made."""
    _ran(run)
    made = {str(e["exec_id"]) for e in run.record["executions"] if e["client_id"] == CLIENT_ID}
    rows = Counter(r["exec_id"] for r in run.trades if r.get("exec_id"))
    missing = sorted(made - set(rows))
    twice = {x: n for x, n in rows.items() if n > 1}
    unknown = sorted(set(rows) - made)
    assert not missing, f"executions never journaled: {missing}"
    assert not twice, f"executions journaled more than once: {twice}"
    assert not unknown, f"journal rows for executions the gateway never made: {unknown}"


def never_crosses_zero(run: CrashRun) -> None:
    """The strategy's quantity in a symbol keeps one sign: its closes never take it past zero
    (a second sale of shares already sold), whatever the account holds besides."""
    _ran(run)
    qty: dict[str, float] = defaultdict(float)
    crossed: list[str] = []
    for e in sorted(_ours(run), key=lambda e: str(e["time"])):
        sym = str(e["symbol"])
        before = qty[sym]
        signed = float(str(e["qty"])) * (1 if e["side"] == "BOT" else -1)
        qty[sym] = after = before + signed
        if before * after < 0 or (before == 0 and _is_close(e)):
            crossed.append(f"{sym} {before:+g} -> {after:+g} by {e['order_ref']} at {e['time']}")
    assert not crossed, "the strategy's quantity crossed zero: " + "; ".join(crossed)


def _is_close(e: dict[str, object]) -> bool:
    return str(e["order_ref"]).startswith("wer-")


def holdings_untouched(run: CrashRun) -> None:
    """The trader's own holdings (the scenario's opening positions) are what the account holds
    at the end besides the strategy's quantity: the Friday close sold none of them."""
    _ran(run)
    account: dict[str, float] = defaultdict(float, run.record["opening_positions"])
    strategy: dict[str, float] = defaultdict(float)
    for e in run.record["executions"]:
        signed = float(str(e["qty"])) * (1 if e["side"] == "BOT" else -1)
        account[str(e["symbol"])] += signed
        if is_ours(str(e["order_ref"])):
            strategy[str(e["symbol"])] += signed
    changed = {
        sym: f"opened {held:+g}, trader's part now {account[sym] - strategy[sym]:+g}"
        for sym, held in run.record["opening_positions"].items()
        if abs(account[sym] - strategy[sym] - held) > 1e-9
    }
    assert not changed, f"the trader's own holdings changed: {changed}"
    foreign = [e["exec_id"] for e in run.record["executions"] if not is_ours(str(e["order_ref"]))]
    assert not foreign, f"executions of orders that are not ours: {foreign}"


def strategy_flat_at_bell(run: CrashRun) -> None:
    """The strategy's quantity in every symbol is zero at Friday's bell (fills until then)."""
    _ran(run)
    qty: dict[str, float] = defaultdict(float)
    for e in _ours(run):
        if datetime.fromisoformat(str(e["time"])) <= BELL:
            qty[str(e["symbol"])] += float(str(e["qty"])) * (1 if e["side"] == "BOT" else -1)
    assert qty, "the strategy never traded: the week proves nothing"
    left = {s: q for s, q in qty.items() if abs(q) > 1e-9}
    assert not left, f"the strategy still held at the bell: {left}"


INVARIANTS: dict[str, Callable[[CrashRun], None]] = {
    "order_ref_sent_once": order_ref_sent_once,
    "execution_journaled_once": execution_journaled_once,
    "never_crosses_zero": never_crosses_zero,
    "holdings_untouched": holdings_untouched,
    "strategy_flat_at_bell": strategy_flat_at_bell,
}
