"""The alert log: newest first, with time, priority (in words and color) and message."""

from __future__ import annotations

from datetime import date, datetime

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.content import Content
from textual.widgets import Static

from weekly_er_tui.clock import ET
from weekly_er_tui.model import AlertRecord, Severity
from weekly_er_tui.ui import formatting as fmt

MAX_SHOWN = 200

PRIORITY_STYLE = {
    Severity.CRITICAL: "bold reverse $error",
    Severity.HIGH: "bold $error",
    Severity.MEDIUM: "bold $warning",
    Severity.LOW: "",
    Severity.INFO: "dim",
}


def alert_time(when: datetime, today: date | None) -> str:
    """'15:50:30' today (New York), 'Thu 15:50' another day: a bare time reads as today."""
    if today is None or when.astimezone(ET).date() == today:
        return fmt.et_time(when)
    return fmt.et_day_time(when)


def alert_line(alert: AlertRecord, today: date | None = None, width: int = 8) -> Content:
    return Content.assemble(
        (f"{alert_time(alert.timestamp, today):<{width}}", "dim"),
        " ",
        (f"{alert.priority.value:<8}", PRIORITY_STYLE[alert.priority]),
        " ",
        (alert.title, "bold" if alert.priority.at_least(Severity.HIGH) else ""),
        (f"  [{alert.delivered}]" if alert.delivered else "", "dim"),
    )


class AlertLog(VerticalScroll):
    """Scrollable; a new alert does not move what the trader scrolled to."""

    def __init__(
        self, *, name: str | None = None, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._alerts: tuple[AlertRecord, ...] | None = None
        self._today: date | None = None
        self._lines = Static(id="alert-lines")

    def compose(self) -> ComposeResult:
        yield self._lines

    def show(self, alerts: tuple[AlertRecord, ...], now: datetime | None = None) -> None:
        """Show `alerts` (newest first); `now` is the app's clock: what is today."""
        today = now.astimezone(ET).date() if now is not None else None
        if alerts == self._alerts and today == self._today:
            return
        self._alerts, self._today = alerts, today
        shown = alerts[:MAX_SHOWN]
        width = max((len(alert_time(a.timestamp, today)) for a in shown), default=8)
        lines = [alert_line(a, today, width) for a in shown]
        if not lines:
            lines = [Content.styled("no alerts today", "dim")]
        elif len(alerts) > MAX_SHOWN:
            lines.append(
                Content.styled(f"… {len(alerts) - MAX_SHOWN} older in logs/events_log.csv", "dim")
            )
        self._lines.update(Content("\n").join(lines))
