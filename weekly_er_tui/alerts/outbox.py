"""The messages waiting to go: one queue per channel, the most urgent first, one bound over all.

Each channel (email, SMS, every apprise service) has its own sender task and its own backoff, so a
service that is down or slow holds up only itself. When the queues together hold `bound` messages,
the least urgent non-CRITICAL message (oldest first) gives way; CRITICAL ones never do. What an
attempt means (events, the alert log) is the caller's: `attempt(delivery, retry_in)` says whether
the message went, failed for good, or is to be tried again after `retry_in` real seconds.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Generic, Literal, TypeVar

from weekly_er_tui.alerts.channels import Channel
from weekly_er_tui.alerts.push import PushMessage
from weekly_er_tui.model import Severity

E = TypeVar("E")
Outcome = Literal["sent", "failed", "retry"]


@dataclass(frozen=True, slots=True)
class MailText:
    """An email or SMS-gateway text, made into an EmailMessage only when its channel sends it:
    building one costs milliseconds, which alert() must not spend on the caller's time."""

    subject: str | None
    text: str
    priority: Severity


Message = MailText | PushMessage


@dataclass(eq=False)
class Delivery(Generic[E]):
    """One message for one channel, and the alert-log entry (`entry`) it reports to."""

    seq: int
    priority: Severity
    channel: Channel
    message: Message
    entry: E
    attempts: int = 0

    @property
    def order(self) -> tuple[int, int]:
        return (self.priority.rank, self.seq)


@dataclass(eq=False)
class _Lane(Generic[E]):
    queue: list[Delivery[E]] = field(default_factory=list)
    in_flight: Delivery[E] | None = None
    failures: int = 0
    wakeup: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def pending(self) -> int:
        return len(self.queue) + (self.in_flight is not None)


class Outbox(Generic[E]):
    def __init__(
        self,
        channels: Iterable[Channel],
        attempt: Callable[[Delivery[E], float], Awaitable[Outcome]],
        *,
        bound: int,
        initial_delay: float,
        max_delay: float,
    ) -> None:
        self._lanes: dict[str, _Lane[E]] = {ch.name: _Lane() for ch in channels}
        self._attempt = attempt
        self._bound = bound
        self._initial_delay = initial_delay
        self._max_delay = max_delay
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def pending(self) -> int:
        """Messages waiting (including those being sent), on every channel."""
        return sum(lane.pending for lane in self._lanes.values())

    def put(self, new: Delivery[E]) -> Delivery[E] | None:
        """Queue `new`; returns the message dropped to make room (maybe `new` itself), if any."""
        lane = self._lanes[new.channel.name]
        victim: Delivery[E] | None = None
        if sum(len(ln.queue) for ln in self._lanes.values()) >= self._bound:
            droppable = [d for ln in self._lanes.values() for d in ln.queue
                         if d.priority is not Severity.CRITICAL]
            if new.priority is not Severity.CRITICAL:
                droppable.append(new)
            if droppable:
                victim = max(droppable, key=lambda d: (d.priority.rank, -d.seq))
                if victim is not new:
                    self._lanes[victim.channel.name].queue.remove(victim)
        if victim is not new:
            lane.queue.append(new)
        self._idle.clear()
        lane.wakeup.set()
        return victim

    async def run(self) -> None:
        """Serve every channel until cancelled; what a cancel interrupts stays queued."""
        tasks = [asyncio.create_task(self._serve(lane), name=f"alerts: {name}")
                 for name, lane in self._lanes.items()]
        try:
            # The senders never end on their own; a crash of one is a bug to surface.
            await asyncio.gather(*tasks)
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def drain(self, timeout: float) -> bool:
        """Wait until every queued message is sent or failed. False when `timeout` (real
        seconds) passes first, for example while a server is down or no run() is going."""
        try:
            async with asyncio.timeout(timeout):
                while self.pending:
                    self._idle.clear()
                    self._check_idle()
                    await self._idle.wait()
        except TimeoutError:
            return False
        return True

    def _check_idle(self) -> None:
        if not self.pending:
            self._idle.set()

    def _backoff(self, failures: int) -> float:
        return min(self._initial_delay * float(2 ** min(failures - 1, 30)), self._max_delay)

    async def _serve(self, lane: _Lane[E]) -> None:
        """One channel's sender: its most urgent message first, its own backoff."""
        while True:
            _raise_if_cancelling()
            if not lane.queue:
                self._check_idle()
                lane.wakeup.clear()
                await lane.wakeup.wait()
                continue
            delivery = min(lane.queue, key=lambda d: d.order)
            lane.queue.remove(delivery)
            lane.in_flight = delivery
            try:
                outcome = await self._attempt(delivery, self._backoff(lane.failures + 1))
            except asyncio.CancelledError:
                lane.queue.append(delivery)  # not sent: it waits for the next run()
                raise
            finally:
                lane.in_flight = None
            if outcome == "sent":
                lane.failures = 0
            elif outcome == "retry":
                lane.failures += 1
                lane.queue.append(delivery)
                _raise_if_cancelling()
                # Real seconds: this waits for a server, not for the market.
                await asyncio.sleep(self._backoff(lane.failures))
            _raise_if_cancelling()


def _raise_if_cancelling() -> None:
    """On Python 3.11 a cancel that lands just as the server answers can be swallowed inside the
    SMTP library (asyncio.wait_for); the task still counts it, so honour it here."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
