"""The positions table: updated in place by row key, sortable; the cursor stays on its symbol."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rich.text import Text
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey

from weekly_er_tui.model import Position
from weekly_er_tui.ui import formatting as fmt
from weekly_er_tui.ui.messages import SortChanged


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    label: str
    sort_key: Callable[[Position, float], Any]
    numeric: bool = True


COLUMNS: tuple[Column, ...] = (
    Column("symbol", "Symbol", lambda p, w: p.symbol, numeric=False),
    Column("sector", "Sector", lambda p, w: (p.sector, p.symbol), numeric=False),
    Column("qty", "Qty", lambda p, w: p.quantity),
    Column("avg", "Avg", lambda p, w: p.avg_cost),
    Column("last", "Last", lambda p, w: p.market_price),
    Column("value", "Value", lambda p, w: abs(p.market_value)),
    Column("pnl", "P&L", lambda p, w: p.unrealized_pnl),
    Column("pnl_pct", "P&L%", lambda p, w: p.unrealized_pct),
    Column("weight", "Wt", lambda p, w: w),
)
COLUMN_KEYS = tuple(c.key for c in COLUMNS)
_BY_KEY = {c.key: c for c in COLUMNS}

# A cell as the table shows it: its text and its style (compared to skip unchanged cells).
Cell = tuple[str, str]


def _signed_style(x: float, gain: str, loss: str) -> str:
    if round(x, 2) > 0:
        return gain
    if round(x, 2) < 0:
        return loss
    return ""


class PositionsTable(DataTable[Text]):
    """Symbol, sector, quantity, average cost, last, value, unrealized P&L (and %), weight.

    `show()` diffs against what is on screen: new symbols are added, gone ones removed, and only
    the cells whose text changed are updated, so a burst of ticks costs a few cell updates and the
    cursor and scroll position never jump.
    """

    def __init__(
        self,
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes, cursor_type="row", zebra_stripes=False)
        self._cells: dict[str, tuple[Cell, ...]] = {}
        self._positions: dict[str, Position] = {}
        self._weights: dict[str, float] = {}
        self.sort_column = "symbol"
        self.sort_reverse = False
        self._gain = "#4EBF71"
        self._loss = "#ba3c5b"
        self._warn = "#ffa62b"

    def on_mount(self) -> None:
        for column in COLUMNS:
            self.add_column(self._header(column), key=column.key)
        variables = self.app.theme_variables
        self._gain = variables.get("success", self._gain)
        self._loss = variables.get("error", self._loss)
        self._warn = variables.get("warning", self._warn)

    def _header(self, column: Column) -> Text:
        # The arrow's cell is always reserved, so sorting never changes a column's width.
        arrow = " "
        if column.key == self.sort_column:
            arrow = "▼" if self.sort_reverse else "▲"
        return Text(column.label + arrow, justify="right" if column.numeric else "left")

    # -- content ------------------------------------------------------------------------------

    def _row(self, p: Position, weight: float, stale: bool) -> tuple[Cell, ...]:
        pnl_style = _signed_style(p.unrealized_pnl, self._gain, self._loss)
        last = fmt.price(p.market_price)
        return (
            (p.symbol, "bold"),
            (fmt.short_sector(p.sector), ""),
            (fmt.quantity(p.quantity), ""),
            (fmt.price(p.avg_cost), ""),
            (f"{last} STALE" if stale else last, f"dim {self._warn}" if stale else ""),
            (fmt.money(p.market_value), ""),
            (fmt.signed_money(p.unrealized_pnl), pnl_style),
            (fmt.signed_pct(p.unrealized_pct), pnl_style),
            (fmt.pct(weight), ""),
        )

    @staticmethod
    def _text(cell: Cell, numeric: bool) -> Text:
        plain, style = cell
        if plain.endswith(" STALE"):
            text = Text(plain[:-6], style=style, justify="right")
            text.append(" STALE", style="bold reverse")
            return text
        return Text(plain, style=style, justify="right" if numeric else "left")

    def show(
        self,
        positions: Iterable[Position],
        weights: dict[str, float],
        *,
        now: datetime | None = None,
        stale_after: float | None = None,
    ) -> None:
        """Make the table show these positions (only those with a quantity)."""
        current = {p.symbol: p for p in positions if p.quantity != 0}
        cursor_key = self._cursor_symbol()
        changed_order = False

        for symbol in [s for s in self._cells if s not in current]:
            self.remove_row(symbol)
            del self._cells[symbol]
            changed_order = True

        sort_col = COLUMNS[COLUMN_KEYS.index(self.sort_column)]
        for symbol, p in current.items():
            stale = p.stale or (
                stale_after is not None
                and now is not None
                and p.price_time is not None
                and (now - p.price_time).total_seconds() > stale_after
            )
            weight = weights.get(symbol, 0.0)
            cells = self._row(p, weight, stale)
            old = self._cells.get(symbol)
            if old is None:
                self.add_row(
                    *(self._text(c, col.numeric) for c, col in zip(cells, COLUMNS, strict=True)),
                    key=symbol,
                )
                changed_order = True
            elif old != cells:
                for i, (new_cell, old_cell) in enumerate(zip(cells, old, strict=True)):
                    if new_cell != old_cell:
                        col = COLUMNS[i]
                        wider = len(new_cell[0]) > self.columns[ColumnKey(col.key)].content_width
                        self.update_cell(
                            symbol, col.key, self._text(new_cell, col.numeric), update_width=wider
                        )
                        if col is sort_col:
                            changed_order = True
            self._cells[symbol] = cells

        self._positions = current
        self._weights = weights
        if changed_order:
            self._apply_sort()
        if cursor_key is not None and cursor_key in current:
            self._keep_cursor_on(cursor_key)

    # -- sorting and the cursor ----------------------------------------------------------------

    def _cursor_symbol(self) -> str | None:
        if not self.row_count:
            return None
        try:
            row_key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key
        except Exception:
            return None
        return str(row_key.value) if row_key.value is not None else None

    def _keep_cursor_on(self, symbol: str) -> None:
        row = self.get_row_index(symbol)
        if row != self.cursor_row:
            self.move_cursor(row=row, animate=False, scroll=False)

    def _apply_sort(self) -> None:
        column = _BY_KEY[self.sort_column]
        positions, weights = self._positions, self._weights

        def key(symbol_cell: Text) -> Any:
            symbol = symbol_cell.plain
            p = positions.get(symbol)
            if p is None:
                return (1, symbol)
            return (0, column.sort_key(p, weights.get(symbol, 0.0)), symbol)

        self.sort("symbol", key=key, reverse=self.sort_reverse)

    def sort_by(self, column_key: str, reverse: bool | None = None) -> None:
        """Sort by a column; numbers sort largest first unless `reverse` says otherwise."""
        column = _BY_KEY[column_key]
        cursor_key = self._cursor_symbol()
        self.sort_column = column_key
        self.sort_reverse = column.numeric if reverse is None else reverse
        for col in COLUMNS:
            self.columns[ColumnKey(col.key)].label = self._header(col)
        self._apply_sort()  # also redraws the header
        if cursor_key is not None:
            self._keep_cursor_on(cursor_key)
        self.post_message(SortChanged(self.sort_column, self.sort_reverse))

    def cycle_sort(self) -> None:
        """Sort by the next column (the `o` key)."""
        i = COLUMN_KEYS.index(self.sort_column)
        self.sort_by(COLUMN_KEYS[(i + 1) % len(COLUMN_KEYS)])

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        event.stop()
        key = str(event.column_key.value)
        if key == self.sort_column:
            self.sort_by(key, reverse=not self.sort_reverse)
        else:
            self.sort_by(key)

    @property
    def symbols(self) -> list[str]:
        """Symbols in the order the table shows them."""
        return [str(row.key.value) for row in self.ordered_rows]
