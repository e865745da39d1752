"""One way to tell listeners of a change: each is called in turn; one that raises is logged and
the others (and the caller, which may be about to close positions) go on.

Seven loops under four names did this by hand, some without a try, so a raising screen or socket
listener could skip the emergency action that followed it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

log = logging.getLogger("weekly_er_tui")


def notify(listeners: Iterable[Callable[..., Any]], *args: Any, what: str,
           logger: logging.Logger = log) -> None:
    """Call every listener with `args` (a copy of the list: one may unsubscribe meanwhile)."""
    for fn in list(listeners):
        try:
            fn(*args)
        except Exception:
            logger.exception("%s listener %r failed", what, fn)


def tell(listener: Callable[..., Any] | None, *args: Any, what: str,
         logger: logging.Logger = log) -> None:
    """`notify` for one optional listener (an alert sink, an on-change callback): None tells
    nobody; one that raises is logged, and the caller goes on."""
    if listener is not None:
        notify((listener,), *args, what=what, logger=logger)
