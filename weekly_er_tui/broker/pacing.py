"""RequestPacer: the sync's requests to IB at a pace that leaves room for the heartbeat.

TWS accepts about 50 messages a second from a client, and ib_async queues whatever goes over 45
a second, first in first out. A sync that sends 1,500 requests at once (market data, contract
details and PnL for 500 symbols) therefore puts the heartbeat's reqCurrentTime half a minute
behind them, and the heartbeat times out on a healthy link. The sync waits for a slot here
instead, at `rate` a second (default 40), so ib_async's queue stays empty and the heartbeat, an
order or a cancel goes out at once (up to 5 of them a second beside a sync at full speed).
Waiting for a slot is not counted in any request's timeout.
"""

from __future__ import annotations

import asyncio
from collections import deque

DEFAULT_RATE = 40  # requests a second: under ib_async's 45, with room for everything else
WINDOW = 1.0  # seconds


class RequestPacer:
    def __init__(self, rate: int = DEFAULT_RATE) -> None:
        if rate < 1:
            raise ValueError(f"the request rate must be at least 1 a second (got {rate})")
        self.rate = rate
        self._sent: deque[float] = deque()
        self._lock = asyncio.Lock()

    async def slot(self) -> None:
        """Return when one more request may be sent without going over the rate."""
        async with self._lock:
            loop = asyncio.get_running_loop()
            while True:
                now = loop.time()
                while self._sent and now - self._sent[0] >= WINDOW:
                    self._sent.popleft()
                if len(self._sent) < self.rate:
                    self._sent.append(now)
                    return
                await asyncio.sleep(self._sent[0] + WINDOW - now)
