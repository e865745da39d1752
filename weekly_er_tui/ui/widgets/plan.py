"""The week's plan: each earnings report, with the status of its entry and of its exit.

A note (why a report was skipped or rejected) is never cut: it wraps in the width the other
columns leave, and its row grows to hold it.
"""

from __future__ import annotations

import textwrap
from datetime import date

from rich.text import Text
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey

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
        day = date.fromisoformat(entry.report_date).strftime("%a %d")
    except ValueError:
        day = entry.report_date
    return f"{day} {entry.timing}".strip()


def entry_cell(entry: PlanEntry) -> Cell:
    status = entry.status
    if status is PlanStatus.PLANNED:
        return (fmt.et_day_time(entry.planned_entry), "")  # planned: a time, not a word yet
    if status is PlanStatus.ENTERING:
        return ("entering…", "warning")
    if status in _ENTERED:
        return ("entered", "success")
    if status is PlanStatus.SKIPPED:
        return ("skipped", "dim")
    return (status.value, "error")  # REJECTED (by IB), DENIED (by our gate), FAILED


def exit_cell(entry: PlanEntry) -> Cell:
    status = entry.status
    if status is PlanStatus.ENTERED:
        return ("to Fri close", "")
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


NOTE_MIN_WIDTH = 12
_PADDING = 2  # DataTable's cell padding, one each side


class PlanTable(DataTable[Text]):
    """One row per report, keyed by symbol and date, updated in place (rebuilt, in the plan's
    order, when its reports or notes change: a few times a week)."""

    def __init__(
        self, *, name: str | None = None, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(name=name, id=id, classes=classes, cursor_type="none")
        self._cells: dict[str, tuple[Cell, ...]] = {}
        self._colors: dict[str, str] = {}
        self._plan: tuple[PlanEntry, ...] = ()
        self._note_width = 0
        self._notes: dict[str, str] = {}

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

    def note_width(self, rows: dict[str, tuple[Cell, ...]]) -> int:
        """The cells the note column may take: what the other columns leave of the width."""
        others = 0
        for i, (key, label) in enumerate(COLUMNS[:-1]):
            longest = max((len(cells[i][0]) for cells in rows.values()), default=0)
            shown = self.columns[ColumnKey(key)].get_render_width(self) if self.columns else 0
            others += max(longest + _PADDING, len(label) + _PADDING, shown)
        width = self.size.width - 2 - others - _PADDING  # the vertical scrollbar, a cell spare
        return max(NOTE_MIN_WIDTH, width)

    def show(self, plan: tuple[PlanEntry, ...]) -> None:
        self._plan = plan
        wanted = {f"{e.symbol}:{e.report_date}": plan_row(e) for e in plan}
        width = self.note_width(wanted)
        notes = {
            key: "\n".join(textwrap.wrap(cells[-1][0], width)) for key, cells in wanted.items()
        }
        if list(wanted) != list(self._cells) or notes != self._notes or width != self._note_width:
            self._rebuild(wanted, notes, width)
            return
        for key, cells in wanted.items():
            old = self._cells[key]
            if old != cells:
                for (new, prev), (col, _) in zip(
                    zip(cells, old, strict=True), COLUMNS, strict=True
                ):
                    if new != prev and col != "note":
                        self.update_cell(key, col, self._text(new, col), update_width=True)
            self._cells[key] = cells

    def _rebuild(
        self, rows: dict[str, tuple[Cell, ...]], notes: dict[str, str], width: int
    ) -> None:
        self.clear()
        for key, cells in rows.items():
            note = notes[key]
            texts = [self._text(c, k) for c, (k, _) in zip(cells[:-1], COLUMNS, strict=False)]
            texts.append(self._text((note, cells[-1][1]), "note"))
            self.add_row(*texts, key=key, height=max(1, note.count("\n") + 1))
        self._cells = rows
        self._notes = notes
        self._note_width = width

    def on_resize(self) -> None:
        if self._plan:
            self.show(self._plan)
