"""One alert in the UI's alert log, with each channel's delivery status and the repeats folded
into it; AlertManager keeps the log and updates its entries as messages go out."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from weekly_er_tui.clock import ET
from weekly_er_tui.model import Alert, AlertRecord, Severity


@dataclass(eq=False)
class LogEntry:
    """One alert in the UI's log, with each channel's delivery status. Repeats folded into it
    move it to the top of the log, stamped with the latest one's time and title."""

    alert: Alert  # the alert that was sent
    priority: Severity
    timestamp: datetime  # the latest occurrence
    status: dict[str, str] = field(default_factory=dict)
    folded: int = 0
    latest: Alert | None = None  # the latest repeat folded into it
    first: datetime | None = None  # when the first occurrence came

    def record(self) -> AlertRecord:
        delivered = ", ".join(f"{ch} {st}" for ch, st in self.status.items()) or "log only"
        if self.folded:
            since = (self.first or self.timestamp).astimezone(ET).strftime("%H:%M:%S")
            delivered += (f"; +{self.folded} repeat{'s' if self.folded != 1 else ''} folded "
                          f"since {since}")
        title = (self.latest or self.alert).title
        return AlertRecord(self.timestamp, self.priority, title, delivered)
