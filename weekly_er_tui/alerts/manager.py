"""AlertManager: the one way the engine tells a person something.

`alert()` is synchronous and cheap: it decides (priority, de-duplication, rate limit), renders the
messages, journals what needs no network and puts the rest on a bounded queue. `run()` is the
sender the engine hosts as a background task; it is the only part that waits on the network, so
trading never waits for an email.

Decisions, all documented in alerts/README.md:
- De-duplication is by key for every priority: within `dedupe_window` (Clock seconds) of a sent
  alert, the same key is folded into it (counted, shown in the UI's alert log). The window ends
  with one message that says "repeated N times since HH:MM" (or the next alert with that key says
  so). A more urgent alert with the same key is an escalation and goes at once; a CRITICAL alert
  with a new key always goes.
- The hourly rate limit (Clock time) is per channel; CRITICAL alerts count but are never held back.
- Each channel (email, SMS, every apprise service) has its own queue and sender (outbox.py), so
  a service that is down or slow holds up only itself: a CRITICAL still reaches the phone when the
  SMTP server is gone. Each queue keeps the most urgent first. When all of them together hold
  `queue_size` messages, the least urgent non-CRITICAL message (oldest first) is dropped and
  recorded as ALERT_FAILED; CRITICAL messages are never dropped.
- An unreachable server (or a 4xx SMTP / 5xx or 429 HTTP reply) is retried with exponential
  backoff in real seconds (`retry_initial_delay` .. `retry_max_delay`), per channel, and the
  messages wait in that channel's queue; a permanent error (bad login or token, refused
  recipients, untrusted certificate) fails that message at once. The first failure of each
  message and its final outcome are events; no failure is ever raised.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import socket
import threading
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from weekly_er_tui.alerts.channels import (
    Channel,
    DeliveryError,
    SmtpTransport,
    scrub,
    unsent_reason,
)
from weekly_er_tui.alerts.kinds import (
    KINDS,
    UNKNOWN,
    AlertKind,
    kind_name,
    kind_of,
    priority_for,
)
from weekly_er_tui.alerts.log_entry import LogEntry
from weekly_er_tui.alerts.outbox import Delivery, MailText, Message, Outbox, Outcome
from weekly_er_tui.alerts.setup import build_channels, recipient_count
from weekly_er_tui.alerts.templates import build_context
from weekly_er_tui.clock import Clock
from weekly_er_tui.config import AlertsConfig
from weekly_er_tui.journal import Journal
from weekly_er_tui.listeners import notify
from weekly_er_tui.model import Alert, AlertRecord, EventType, Severity

log = logging.getLogger("weekly_er_tui.alerts")

RECORD_LIMIT = 200
HOUR = timedelta(hours=1)

RecordCallback = Callable[[AlertRecord], None]
PositionsFn = Callable[[], str]


@dataclass(eq=False)
class _Window:
    """The de-duplication window opened by a sent alert (or by the summary of its repeats)."""

    opened: datetime
    priority: Severity
    entry: LogEntry
    folded: int = 0
    last: Alert | None = None
    folded_priority: Severity = Severity.INFO


class _RateLimit:
    """At most `per_hour` messages in any hour of Clock time; CRITICAL always admitted."""

    def __init__(self, per_hour: int) -> None:
        self.per_hour = per_hour
        self.sent: deque[datetime] = deque()

    def admit(self, now: datetime, priority: Severity) -> bool:
        while self.sent and now - self.sent[0] >= HOUR:
            self.sent.popleft()
        if len(self.sent) < self.per_hour or priority is Severity.CRITICAL:
            self.sent.append(now)
            return True
        return False


class AlertManager:
    """Every part of the engine sends its alerts through one of these."""

    def __init__(
        self,
        config: AlertsConfig,
        journal: Journal,
        clock: Clock,
        *,
        host: str | None = None,
        account: str = "",
        transport: SmtpTransport | None = None,
    ) -> None:
        self.host = host or socket.gethostname()
        setup = build_channels(config, self.host, transport)
        self._templates = setup.templates
        self._notify = setup.notify
        self._secrets = setup.secrets
        self.config = config
        self.account = account
        self.tag = ""  # set_context(tag="SHADOW"): in front of every alert's title
        self._journal = journal
        self._clock = clock
        self._positions_fn: PositionsFn | None = None
        self.channels: tuple[Channel, ...] = setup.channels
        self._limits = {ch.name: _RateLimit(ch.rate_limit_per_hour) for ch in self.channels}
        self._senders = {ch.name: setup.sender(ch) for ch in self.channels}
        self._outbox: Outbox[LogEntry] = Outbox(
            self.channels, self._attempt, bound=config.queue_size,
            initial_delay=config.retry_initial_delay, max_delay=config.retry_max_delay,
        )
        self._window = timedelta(seconds=config.dedupe_window)
        self._seq = itertools.count()
        self._entries: deque[LogEntry] = deque(maxlen=RECORD_LIMIT)
        self._records: tuple[AlertRecord, ...] | None = ()
        self._windows: dict[str, _Window] = {}
        # Per topic (alerts/kinds.py), the priority of the latest alarm no all-clear answered.
        self._alarms: dict[str, Severity] = {}
        self._subscribers: list[RecordCallback] = []
        self._folds_changed = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._running = False

    # --- what the engine and the UI call ---------------------------------------------------

    def set_context(
        self, *, account: str | None = None, positions_summary_fn: PositionsFn | None = None,
        tag: str | None = None,
    ) -> None:
        """The account and a function returning "current positions and P&L" as short text,
        which every message body carries (without it: "(not available)"). `tag` ("SHADOW")
        goes in front of every alert's title, so every subject, SMS and push says it."""
        if tag is not None:
            self.tag = tag
        if account is not None:
            self.account = account
        if positions_summary_fn is not None:
            self._positions_fn = positions_summary_fn

    def alert(self, alert: Alert) -> None:
        """Take an alert. Never blocks, never raises; callable from any thread."""
        try:
            loop = self._loop
            if (
                loop is not None
                and self._loop_thread is not None
                and threading.get_ident() != self._loop_thread
            ):
                loop.call_soon_threadsafe(self.alert, alert)
                return
            self._accept(alert)
        except Exception:
            log.exception("alert %r could not be processed", getattr(alert, "key", alert))

    def notify(
        self,
        kind: str,
        title: str,
        body: str = "",
        *,
        about: str = "",
        priority: Severity | None = None,
        facts: Mapping[str, Any] | None = None,
    ) -> None:
        """Alert of a kind from alerts/kinds.py, e.g. `notify("emergency_stop", "Emergency stop:
        portfolio -10.4% (limit -10%)", facts={"action": "Closing all positions"})`.

        The key is `kind` or `kind:about`. The priority is the config's override for the kind,
        else `priority` (a violation's severity), else the kind's default. Facts named `action`
        and `next_steps` replace the kind's advice in the body.
        """
        try:
            info = KINDS.get(kind)
            if info is None:
                log.warning("unknown alert kind %r; known kinds: %s", kind, ", ".join(KINDS))
            self.alert(
                Alert(
                    key=f"{kind}:{about}" if about else kind,
                    priority=priority_for(kind, self.config.priorities, priority),
                    kind=(info or UNKNOWN).category,
                    title=title,
                    body=body,
                    facts=dict(facts or {}),
                    timestamp=self._clock.now(),
                )
            )
        except Exception:
            log.exception("alert of kind %r could not be processed", kind)

    @property
    def records(self) -> tuple[AlertRecord, ...]:
        """The alert log, newest first: every alert, sent or not, with its delivery status."""
        if self._records is None:
            self._records = tuple(e.record() for e in self._entries)
        return self._records

    @property
    def pending(self) -> int:
        """Messages waiting to be sent (including those being sent), on every channel."""
        return self._outbox.pending

    def subscribe(self, callback: RecordCallback) -> Callable[[], None]:
        """Call `callback` with each new or updated record (read `records` for the whole log).
        Returns an unsubscribe function."""
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback) if callback in self._subscribers else None

    async def run(self) -> None:
        """Send what is queued until cancelled. Host it as one background task."""
        if self._running:
            raise RuntimeError("AlertManager.run() is already running")
        self._running = True
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        flusher = asyncio.create_task(self._flush_folds(), name="alerts: repeats summary")
        try:
            await self._outbox.run()
        finally:
            flusher.cancel()
            await asyncio.gather(flusher, return_exceptions=True)
            self._loop = None
            self._loop_thread = None
            self._running = False

    async def drain(self, timeout: float) -> bool:
        """Wait until every queued message is sent or failed. False when `timeout` (real
        seconds) passes first, for example while the server is down or no run() is going."""
        return await self._outbox.drain(timeout)

    # --- deciding --------------------------------------------------------------------------

    def _accept(self, alert: Alert) -> None:
        now = self._clock.now()
        if self.tag and not alert.title.startswith(f"[{self.tag}]"):
            alert = replace(alert, title=f"[{self.tag}] {alert.title}")
        kind = kind_of(alert.key)
        name = kind_name(alert.key)
        priority = priority_for(name, self.config.priorities, alert.priority)
        if alert.timestamp is None:
            alert = replace(alert, timestamp=now)
        if kind.topic:
            priority = self._answer(kind, name, priority)
        win = self._windows.get(alert.key)
        repeated: tuple[int, datetime] | None = None
        if win is not None:
            if now - win.opened < self._window and priority.rank >= win.priority.rank:
                self._fold(win, alert, priority)
                return
            if win.folded:
                repeated = (win.folded, win.opened)
        if kind.topic:
            self._end_topic_windows(kind.topic, alert.key)
        self._dispatch(alert, priority, kind, now, repeated)
        if len(self._windows) > 4 * RECORD_LIMIT:
            self._windows = {
                k: w for k, w in self._windows.items()
                if w.folded or now - w.opened < self._window
            }

    def _answer(self, kind: AlertKind, name: str, priority: Severity) -> Severity:
        """An all-clear goes at the priority of the alarm it answers (unless the config sets
        its kind's priority): a "Connection lost" email is followed by a "back" email."""
        if not kind.all_clear:
            self._alarms[kind.topic] = priority
            return priority
        alarm = self._alarms.pop(kind.topic, None)
        if alarm is None or name in self.config.priorities or alarm.rank >= priority.rank:
            return priority
        return alarm

    def _end_topic_windows(self, topic: str, key: str) -> None:
        """A new state of a topic (paused after resumed): the other states' windows end, and
        the repeats folded into them are never summarised: that state is over."""
        for other in [k for k in self._windows if k != key and kind_of(k).topic == topic]:
            win = self._windows.pop(other)
            if win.folded:
                log.debug("alert %r: %d repeat(s) not summarised: %r came since",
                          other, win.folded, key)

    @property
    def repeats_pending(self) -> int:
        """Alerts with folded repeats whose summary message is still to go."""
        return sum(1 for w in self._windows.values() if w.folded)

    def _fold(self, win: _Window, alert: Alert, priority: Severity) -> None:
        win.folded += 1
        win.last = alert
        if win.folded == 1 or priority.rank < win.folded_priority.rank:
            win.folded_priority = priority
        entry = win.entry
        entry.folded += 1
        entry.latest = alert
        entry.timestamp = alert.timestamp or self._clock.now()
        # The repeat is the newest thing that happened: its entry goes to the top of the log.
        if entry in self._entries:
            self._entries.remove(entry)
        self._entries.appendleft(entry)
        if win.folded == 1:
            self._folds_changed.set()
        log.debug("alert %r folded into the one sent at %s (%d repeats)",
                  alert.key, win.opened.isoformat(), win.folded)
        self._publish(entry)

    def _dispatch(
        self,
        alert: Alert,
        priority: Severity,
        kind: AlertKind,
        now: datetime,
        repeated: tuple[int, datetime] | None,
    ) -> None:
        when = alert.timestamp or now
        entry = LogEntry(alert, priority, when, first=when)
        self._windows[alert.key] = _Window(now, priority, entry)
        self._entries.appendleft(entry)
        self._records = None
        self._deliver(entry, alert, priority, kind, when, repeated)

    def _deliver(
        self,
        entry: LogEntry,
        alert: Alert,
        priority: Severity,
        kind: AlertKind,
        when: datetime,
        repeated: tuple[int, datetime] | None,
    ) -> None:
        """Queue `alert`'s message on every channel its priority reaches, for `entry`."""
        now = self._clock.now()
        context: dict[str, str] | None = None
        for ch in self.channels:
            if not priority.at_least(ch.min_priority):
                continue
            if not self._limits[ch.name].admit(now, priority):
                entry.status[ch.name] = "rate-limited"
                self._event_failed(
                    entry, ch,
                    f"rate limit reached ({ch.rate_limit_per_hour} {ch.name} messages per hour, "
                    f"{ch.rate_limit_setting}); not sent. CRITICAL alerts are never held back",
                    attempts=0, will_retry=False,
                )
                continue
            if context is None:
                context = build_context(
                    alert, priority, kind, when=when, host=self.host, account=self.account,
                    positions=self._positions_text(), repeated=repeated, tag=self.tag,
                )
            message: Message
            if ch.kind == "notify":
                message = self._notify[ch.name].compose(self._templates, context)
            elif ch.kind == "email":
                message = MailText(self._templates.subject_for(context),
                                   self._templates.body_for(context), priority)
            else:
                message = MailText(None, self._templates.sms_for(context), priority)
            entry.status[ch.name] = "queued"
            self._enqueue(Delivery(next(self._seq), priority, ch, message, entry))
        if context is None and not any(priority.at_least(ch.min_priority)
                                       for ch in self.channels):
            self._event(
                EventType.ALERT_SENT, entry, "log", 0,
                f"Alert logged, not sent: {unsent_reason(self.config, self.channels, priority)}"
                f": [{priority}] {alert.title}",
                repeated=repeated[0] if repeated else 0,
            )
        self._publish(entry)

    def _enqueue(self, new: Delivery[LogEntry]) -> None:
        victim = self._outbox.put(new)
        if victim is None:
            return
        victim.entry.status[victim.channel.name] = "dropped (queue full)"
        self._event_failed(
            victim.entry, victim.channel,
            f"the alert queue is full ({self.config.queue_size} messages, alerts.queue_size); "
            "the least urgent message was dropped",
            attempts=victim.attempts, will_retry=False,
        )
        if victim is not new:
            self._publish(victim.entry)

    def _positions_text(self) -> str:
        fn = self._positions_fn
        if fn is None:
            return "(not available)"
        try:
            return str(fn()).strip() or "(none)"
        except Exception as exc:
            log.warning("positions summary for an alert failed: %s", type(exc).__name__)
            return f"(not available: {type(exc).__name__})"

    # --- sending ---------------------------------------------------------------------------

    async def _attempt(self, d: Delivery[LogEntry], retry_in: float) -> Outcome:
        """Try one message once, and say so in the alert log and the events."""
        ch, entry = d.channel, d.entry
        d.attempts += 1
        try:
            await self._senders[ch.name](d.message)
        except DeliveryError as exc:
            err = exc
        except Exception as exc:  # a bug must not stop the sender; the text is still scrubbed
            err = DeliveryError(self._scrub(f"{type(exc).__name__}: {exc}"), transient=False)
        else:
            entry.status[ch.name] = "sent"
            to = f" to {len(ch.recipients)} recipient(s)" if ch.recipients else ""
            self._event(
                EventType.ALERT_SENT, entry, ch.name, recipient_count(ch),
                f"Alert sent by {ch.name}{to}: [{entry.priority}] {entry.alert.title}",
                attempts=d.attempts,
            )
            self._publish(entry)
            return "sent"
        limit = self.config.retry_max_attempts
        if err.transient and (limit == 0 or d.attempts < limit):
            entry.status[ch.name] = f"retrying (attempt {d.attempts} failed)"
            log.warning("Failed to send alert %r by %s (attempt %d); retrying in %.1fs: %s",
                        entry.alert.title, ch.name, d.attempts, retry_in, self._scrub(err.text))
            if d.attempts == 1:
                self._event_failed(entry, ch, err.text, attempts=d.attempts, will_retry=True)
            self._publish(entry)
            return "retry"
        entry.status[ch.name] = f"FAILED: {err.text}"
        self._event_failed(entry, ch, err.text, attempts=d.attempts, will_retry=False)
        self._publish(entry)
        return "failed"

    async def _flush_folds(self) -> None:
        """At the end of each window with folded repeats, send one message that counts them."""
        while True:
            self._folds_changed.clear()
            due = [w.opened + self._window for w in self._windows.values() if w.folded]
            if due and min(due) <= self._clock.now():
                try:
                    self._flush_due(self._clock.now())
                except Exception:
                    log.exception("summary of repeated alerts failed")
                continue
            waits: list[asyncio.Future[Any]] = [
                asyncio.ensure_future(self._folds_changed.wait())
            ]
            if due:
                waits.append(asyncio.ensure_future(self._clock.sleep_until(min(due))))
            try:
                await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for w in waits:
                    w.cancel()
                await asyncio.gather(*waits, return_exceptions=True)

    def _flush_due(self, now: datetime) -> None:
        """Each window that ended with folded repeats: one message, for the same log entry,
        that stands for them; a new window opens from it."""
        for key, win in list(self._windows.items()):
            if win.folded and win.last is not None and now - win.opened >= self._window:
                self._windows[key] = _Window(now, win.folded_priority, win.entry)
                self._deliver(win.entry, win.last, win.folded_priority, kind_of(key),
                              win.last.timestamp or now, (win.folded, win.opened))

    # --- records and events ----------------------------------------------------------------

    def _publish(self, entry: LogEntry) -> None:
        self._records = None
        notify(self._subscribers, entry.record(), what="alert log", logger=log)

    def _event_failed(
        self, entry: LogEntry, ch: Channel, error: str, *, attempts: int, will_retry: bool
    ) -> None:
        then = "; will retry" if will_retry else ""
        self._event(
            EventType.ALERT_FAILED, entry, ch.name, recipient_count(ch),
            f"Failed to send alert by {ch.name}: [{entry.priority}] {entry.alert.title}: "
            f"{error}{then}",
            error=error, attempts=attempts, will_retry=will_retry,
        )

    def _event(
        self,
        event_type: EventType,
        entry: LogEntry,
        channel: str,
        recipients: int,
        message: str,
        **extra: Any,
    ) -> None:
        severity = entry.priority
        if event_type is EventType.ALERT_FAILED and not severity.at_least(Severity.MEDIUM):
            severity = Severity.MEDIUM  # a message that did not go is worth a warning
        details: dict[str, Any] = {
            "key": entry.alert.key,
            "channel": channel,
            "priority": entry.priority.value,
            "recipients": recipients,
            **extra,
        }
        clean = self._scrub
        details = {k: clean(v) if isinstance(v, str) else v for k, v in details.items()}
        try:
            self._journal.event(event_type, severity, clean(message), details)
        except Exception:
            log.exception("could not journal %s for alert %r", event_type, entry.alert.key)

    def _scrub(self, text: str) -> str:
        """Without the SMTP password or any apprise URL's token, in any form we know."""
        return scrub(text, self._secrets)
