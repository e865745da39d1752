"""This app's orderRefs: one style for every order it sends, and the older styles still read.

    WER-<date>-<SYMBOL>-<REASON>                  an entry: the report's date, the same on
                                                  every call (a restart never sends it twice)
    WER-<date>-<SYMBOL>-<REASON>-<HHMMSS>ET-<n>   any other order (an exit, a close): the New
                                                  York date and time it was decided, and the
                                                  sender's count

e.g. `WER-20261116-AAPL-ENTRY`, `WER-20261120-AAPL-FRIDAY_CLOSE-154500ET-3`. A trader found two
styles side by side (`WER-...-ENTRY` beside `wer-emergency-AAPL-20261201T231054-1`, in UTC); the
entry's style is the one kept, since an entry's ref is its key against sending it twice and
must not change under a running week.

Orders sent by an earlier version carry `wer-<reason>-<SYMBOL>-<%Y%m%dT%H%M%S UTC>-<n>`: they are
still this app's (adopted at a reconnect, rebuilt from after a lost state, cancellable from the
cockpit), and `parse` reads them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

PREFIX = "WER-"
LEGACY_PREFIX = "wer-"  # the executor's refs before this style

_REASONS = "ENTRY|EXIT|EMERGENCY|FRIDAY_CLOSE|DAILY_LOSS|MANUAL"
_CURRENT = re.compile(
    rf"WER-(?P<day>\d{{8}})-(?P<symbol>.+)-(?P<reason>{_REASONS})"
    r"(?:-(?P<time>\d{6})ET-(?P<seq>\d+))?")
_LEGACY = re.compile(
    r"wer-(?P<reason>[a-z_]+)-(?P<symbol>.+)-(?P<day>\d{8})T(?P<time>\d{6})-(?P<seq>\d+)")


@dataclass(frozen=True, slots=True)
class OrderRef:
    """What an orderRef of this app says."""

    reason: str  # ENTRY, EXIT, EMERGENCY, FRIDAY_CLOSE, DAILY_LOSS, MANUAL
    symbol: str  # as IB spells it (a space in a symbol is "_" in the ref)
    day: date  # an entry's report date; otherwise the day it was decided
    legacy: bool = False  # sent by an earlier version (wer-..., its time in UTC)


def _symbol(symbol: str) -> str:
    return symbol.replace(" ", "_")


def entry_ref(report_date: date, symbol: str) -> str:
    """The orderRef of a report's entry: the same on every call."""
    return f"{PREFIX}{report_date:%Y%m%d}-{_symbol(symbol)}-ENTRY"


def action_ref(reason: str, symbol: str, when_et: datetime, seq: int) -> str:
    """The orderRef of an order decided at `when_et` (New York time, as the trader reads it)."""
    return (f"{PREFIX}{when_et:%Y%m%d}-{_symbol(symbol)}-{reason.upper()}-"
            f"{when_et:%H%M%S}ET-{seq}")


def parse(ref: str) -> OrderRef | None:
    """What `ref` says, in this style or the earlier one; None for a ref not of this app (an
    order placed in TWS, by another program, or the trader's own)."""
    if m := _CURRENT.fullmatch(ref):
        legacy = False
    elif m := _LEGACY.fullmatch(ref):
        legacy = True
    else:
        return None
    try:
        day = datetime.strptime(m["day"], "%Y%m%d").date()
    except ValueError:
        return None
    return OrderRef(m["reason"].upper(), m["symbol"].replace("_", " "), day, legacy)


def is_ours(ref: str) -> bool:
    """An orderRef this app (this version or an earlier one) gave an order. By prefix, as the
    earlier versions told them (a hand-made `wer-...` or `WER-...` ref counts as ours)."""
    return ref.startswith((PREFIX, LEGACY_PREFIX))


def is_entry(ref: str) -> bool:
    parsed = parse(ref)
    if parsed is not None:
        return parsed.reason == "ENTRY" and not parsed.legacy
    return ref.startswith(PREFIX) and ref.endswith("-ENTRY")
