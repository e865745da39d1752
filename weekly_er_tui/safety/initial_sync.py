"""InitialSyncGate: no safety check on an account that has half arrived after a (re)connect.

ib_async stops waiting for the account's first download after its connect timeout and the link
is up without it: positions there, cash and portfolio rows not (notes row 1: a gateway loading
the account after its restart is slow). A check then reads net liquidation as the positions
alone and alerts limits the account is nowhere near (a sector at 48% that is 14%). Each check
asks this gate first; it holds checks while the tracker says the sync is incomplete (once per
connect it says so, naming what is missing) and lets them run once it is complete. A download
that never completes must not leave the account unwatched: after `wait_s` real seconds (a
network matter, like every timeout of the link) the checks run on what arrived, with a HIGH
event and alert saying so.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from weekly_er_tui.model import Alert, EventType, Severity

log = logging.getLogger("weekly_er_tui.safety")

INITIAL_SYNC_WAIT_S = 30.0  # real seconds the checks wait for a connect's account download

EventSink = Callable[[EventType, Severity, str, dict[str, Any]], None]


class InitialSyncGate:
    def __init__(self, event: EventSink, send: Callable[[Alert], None], *,
                 wait_s: float = INITIAL_SYNC_WAIT_S,
                 now: Callable[[], float] = time.monotonic) -> None:
        self._event = event
        self._send = send
        self.wait_s = wait_s
        self._now = now
        self._epoch: object = None
        self._since = 0.0
        self.skipped = 0  # checks held since the latest connect
        self._gave_up = False

    def holds(self, portfolio: Any, trigger: str) -> bool:
        """True: skip this check, the connect's account download is not complete yet (a
        portfolio that says nothing of its sync, a test's, is complete)."""
        missing_fn = getattr(portfolio, "initial_sync_missing", None)
        missing: tuple[str, ...] = missing_fn() if missing_fn is not None else ()
        epoch = getattr(portfolio, "sync_epoch", None)
        if epoch != self._epoch:  # a new connect: a new wait
            self._epoch, self._since, self.skipped, self._gave_up = epoch, self._now(), 0, False
        if not missing:
            if self.skipped:
                self._event(EventType.SAFETY_CHECK, Severity.INFO,
                            f"Initial sync from IB complete: safety checks run again "
                            f"({self.skipped} skipped while it arrived)",
                            {"skipped": self.skipped})
                self.skipped = 0
            return False
        waited = self._now() - self._since
        if waited >= self.wait_s:
            if not self._gave_up:
                self._gave_up = True
                self._give_up(missing, waited)
            return False
        self.skipped += 1
        if self.skipped == 1:
            self._event(
                EventType.SAFETY_CHECK, Severity.INFO,
                f"Safety check ({trigger}) skipped: the initial sync from IB is incomplete, "
                f"still missing {' and '.join(missing)}; the check runs once it has arrived "
                f"(at most {self.wait_s:g} s)",
                {"trigger": trigger, "missing": list(missing), "skipped": True})
        else:
            log.debug("safety check (%s) skipped: initial sync incomplete: %s", trigger,
                      "; ".join(missing))
        return True

    def waiting(self, portfolio: Any) -> bool:
        """Whether checks are held now, without counting a skip: what the screen follows too (a
        half-arrived account is not shown as the account, and past the wait it is)."""
        missing_fn = getattr(portfolio, "initial_sync_missing", None)
        if missing_fn is None or not missing_fn():
            return False
        if getattr(portfolio, "sync_epoch", None) != self._epoch:
            return True  # a connect no check has seen yet: its wait starts with that check
        return self._now() - self._since < self.wait_s

    def _give_up(self, missing: tuple[str, ...], waited: float) -> None:
        text = (f"the initial sync from IB is still incomplete after {waited:.0f} s (missing "
                f"{' and '.join(missing)}): safety checks run on what has arrived, and their "
                f"figures may be wrong until it is complete")
        self._event(EventType.SAFETY_CHECK, Severity.HIGH, f"Account data incomplete: {text}",
                    {"missing": list(missing), "waited_s": round(waited, 1)})
        self._send(Alert(
            key="account_sync", priority=Severity.HIGH, kind="safety",
            title="Account data from IB incomplete after the connect",
            body=f"{text[0].upper()}{text[1:]}. Compare the cockpit with TWS; a reconnect "
                 f"(c) asks IB for the account again.",
            facts={"missing": "; ".join(missing)},
        ))
