"""The alert log: newest first, with time, priority (in words and color) and message."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.content import Content
from textual.widgets import Static

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


def alert_line(alert: AlertRecord) -> Content:
    return Content.assemble(
        (fmt.et_time(alert.timestamp), "dim"),
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
        self._lines = Static(id="alert-lines")

    def compose(self) -> ComposeResult:
        yield self._lines

    def show(self, alerts: tuple[AlertRecord, ...]) -> None:
        if alerts == self._alerts:
            return
        self._alerts = alerts
        lines = [alert_line(a) for a in alerts[:MAX_SHOWN]]
        if not lines:
            lines = [Content.styled("no alerts today", "dim")]
        elif len(alerts) > MAX_SHOWN:
            lines.append(
                Content.styled(f"… {len(alerts) - MAX_SHOWN} older in logs/events_log.csv", "dim")
            )
        self._lines.update(Content("\n").join(lines))
