"""The simulator's own tests also fail when ib_async's decoder drops a message.

ib_async logs decode failures to "ib_async.Decoder" (capital D), a logger the project-wide
`ib_log_guard` does not watch; a wrong field count would otherwise only show up as a hang.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture(autouse=True)
def decoder_guard() -> Iterator[None]:
    handler = _Collect()
    logger = logging.getLogger("ib_async.Decoder")
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
    if handler.messages:
        pytest.fail("ib_async's decoder dropped a message:\n  " + "\n  ".join(handler.messages))
