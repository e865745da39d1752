"""The strategy's entry book: this week's entries by orderRef, each one's status and note, moved
only forward, and each entry's status read from its own recorded intent and fills. Pure data: no
clock, no store, no broker (the runner feeds it; see `weekly_er.py`)."""

from __future__ import annotations

from dataclasses import replace

from weekly_er_tui.model import PlanEntry, PlanStatus
from weekly_er_tui.store import OrderIntentRecord

RANK = {PlanStatus.PLANNED: 0, PlanStatus.ENTERING: 1, PlanStatus.ENTERED: 2,
        PlanStatus.CLOSING: 3}
FINAL = 4  # CLOSED, SKIPPED, REJECTED, DENIED, FAILED: an entry that got there stays there


def positions_text(positions: dict[str, float]) -> str:
    """`AAPL +10, NKE -5`"""
    return ", ".join(f"{s} {q:+g}" for s, q in sorted(positions.items()))


class EntryBook:
    """This week's entries, in entry order, and the notes that make up each one's text."""

    def __init__(self) -> None:
        self.entries: dict[str, PlanEntry] = {}  # by orderRef, in entry order
        self.base_notes: dict[str, str] = {}  # the strategy's own note of each entry
        self.sent_notes: dict[str, str] = {}  # how the entry was sent (late, resized, ...)
        self.blocked: dict[str, str] = {}  # why a due entry is waiting

    @property
    def plan(self) -> tuple[PlanEntry, ...]:
        return tuple(self.entries.values())

    def clear(self) -> None:
        self.entries.clear()
        self.base_notes.clear()
        self.sent_notes.clear()
        self.blocked.clear()

    def update(
        self, key: str, status: PlanStatus, note: str | None = None, *,
        quantity: int | None = None, force: bool = False,
    ) -> bool:
        """Move an entry forward (never back: PLANNED, ENTERING, ENTERED, CLOSING, then one of
        CLOSED, SKIPPED, REJECTED, DENIED, FAILED, where it stays). `note` adds to the
        strategy's note. True when the entry changed."""
        e = self.entries.get(key)
        if e is None:
            return False
        current, new = RANK.get(e.status, FINAL), RANK.get(status, FINAL)
        if not force and (new < current or current == FINAL):
            return False
        parts = (self.base_notes.get(key, ""), self.sent_notes.get(key, ""), note)
        full = "; ".join(n for n in parts if n) if note is not None else e.note
        changed = replace(
            e, status=status, note=full, quantity=e.quantity if quantity is None else quantity
        )
        if changed == e:
            return False
        self.entries[key] = changed
        return True


def status_from_intent(
    rec: OrderIntentRecord, held: bool, *, closing_started: bool
) -> tuple[PlanStatus, str] | None:
    """An entry's status from its recorded intent (and whether the position is still held)."""
    partial = (
        f"{rec.filled:g} of {rec.quantity:g} shares filled" if 0 < rec.filled < rec.quantity
        else ""
    )
    after_fill = PlanStatus.ENTERED if held else PlanStatus.CLOSED
    if rec.status in ("RECORDED", "SUBMITTED"):
        return PlanStatus.ENTERING, ""
    if rec.status in ("PARTIAL", "FILLED"):
        return after_fill, partial
    if rec.status == "CANCELLED":
        if rec.filled > 0:
            return after_fill, f"{partial}, the rest cancelled" if partial else ""
        if closing_started:
            return PlanStatus.SKIPPED, (
                "not filled before the Friday close: the order was cancelled"
            )
        return PlanStatus.FAILED, "the order was cancelled before it filled"
    if rec.status == "REJECTED":
        return PlanStatus.REJECTED, "IB rejected the order (see events_log.csv)"
    if rec.status == "UNSENT":
        return PlanStatus.FAILED, (
            "recorded, but it never reached IB (the link was down); it is not re-sent "
            "automatically: check TWS"
        )
    return None
