"""The week's plan: each earnings report, with the status of its entry and of its exit."""

from __future__ import annotations

from datetime import date

from rich.text import Text
from textual.widgets import DataTable

from weekly_er_tui.model import PlanEntry, PlanStatus
from weekly_er_tui.ui import formatting as fmt

COLUMNS = (
    ("symbol", "Symbol"),
    ("report", "Report"),
    ("side", "Side"),
    ("qty", "Qty"),
    ("entry", "Entry"),
    ("exit", "Exit"),
    ("note", "Note"),
)

_ENTERED = {PlanStatus.ENTERED, PlanStatus.CLOSING, PlanStatus.CLOSED}

# Styles are theme variable names, resolved to colors when the table mounts.
Cell = tuple[str, str]


def report_text(entry: PlanEntry) -> str:
    try:
        day = date.fromisoformat(entry.report_date).strftime("%a %d %b")
    except ValueError:
        day = entry.report_date
    return f"{day} {entry.timing}".strip()


def entry_cell(entry: PlanEntry) -> Cell:
    status = entry.status
    if status is PlanStatus.PLANNED:
        return (f"planned {fmt.et_day_time(entry.planned_entry)}", "")
    if status is PlanStatus.ENTERING:
        return ("entering…", "warning")
    if status in _ENTERED:
        return ("entered", "success")
    if status is PlanStatus.SKIPPED:
        return ("skipped", "dim")
    return (status.value, "error")  # REJECTED, FAILED


def exit_cell(entry: PlanEntry) -> Cell:
    status = entry.status
    if status is PlanStatus.ENTERED:
        return ("open to Fri close", "")
    if status is PlanStatus.CLOSING:
        return ("closing…", "warning")
    if status is PlanStatus.CLOSED:
        return ("closed", "success")
    return ("—", "dim")


def plan_row(entry: PlanEntry) -> tuple[Cell, ...]:
    return (
        (entry.symbol, "bold"),
        (report_text(entry), ""),
        (entry.side, ""),
        (f"{entry.quantity:,}", ""),
        entry_cell(entry),
        exit_cell(entry),
        (entry.note, "dim"),
    )


class PlanTable(DataTable[Text]):
    """One row per report, keyed by symbol and date, updated in place."""

    def __init__(
        self, *, name: str | None = None, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(name=name, id=id, classes=classes, cursor_type="none")
        self._cells: dict[str, tuple[Cell, ...]] = {}
        self._colors: dict[str, str] = {}

    def on_mount(self) -> None:
        for key, label in COLUMNS:
            self.add_column(Text(label, justify="right" if key == "qty" else "left"), key=key)
        variables = self.app.theme_variables
        self._colors = {name: variables.get(name, "") for name in ("success", "warning", "error")}

    def _text(self, cell: Cell, key: str) -> Text:
        plain, style = cell
        style = self._colors.get(style, style)
        if style and style in self._colors.values() and key in ("entry", "exit"):
            style = f"bold {style}"
        return Text(plain, style=style, justify="right" if key == "qty" else "left")

    def show(self, plan: tuple[PlanEntry, ...]) -> None:
        wanted = {f"{e.symbol}:{e.report_date}": e for e in plan}
        for key in [k for k in self._cells if k not in wanted]:
            self.remove_row(key)
            del self._cells[key]
        for key, entry in wanted.items():
            cells = plan_row(entry)
            old = self._cells.get(key)
            if old is None:
                self.add_row(
                    *(self._text(c, k) for c, (k, _) in zip(cells, COLUMNS, strict=True)), key=key
                )
            elif old != cells:
                for (new, prev), (col, _) in zip(
                    zip(cells, old, strict=True), COLUMNS, strict=True
                ):
                    if new != prev:
                        self.update_cell(key, col, self._text(new, col), update_width=True)
            self._cells[key] = cells
