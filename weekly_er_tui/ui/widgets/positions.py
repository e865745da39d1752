"""The positions table: updated in place by row key, sortable; the cursor stays on its symbol."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from rich.text import Text
from textual.cache import LRUCache
from textual.geometry import Region
from textual.strip import Strip
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey

from weekly_er_tui.model import PortfolioSnapshot, Position
from weekly_er_tui.ui import formatting as fmt
from weekly_er_tui.ui.messages import SortChanged


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    label: str
    sort_key: Callable[[Position, float], Any]
    numeric: bool = True


def _known(x: float | None) -> tuple[int, float]:
    """Sorts unknown figures after every known one, whichever way the column is sorted."""
    return (0, 0.0) if x is None else (1, x)


COLUMNS: tuple[Column, ...] = (
    Column("symbol", "Symbol", lambda p, w: p.symbol, numeric=False),
    Column("sector", "Sector", lambda p, w: (p.sector, p.symbol), numeric=False),
    Column("qty", "Qty", lambda p, w: p.quantity),
    Column("avg", "Avg", lambda p, w: p.avg_cost),
    Column("last", "Last", lambda p, w: p.market_price),
    Column("quote", "Bid×Ask", lambda p, w: _known(p.bid)),
    Column("value", "Value", lambda p, w: abs(p.market_value)),
    Column("day_pnl", "Day P&L", lambda p, w: _known(p.daily_pnl)),
    Column("day_pct", "Day%", lambda p, w: _known(p.day_change_pct)),
    Column("pnl", "P&L", lambda p, w: p.unrealized_pnl),
    Column("pnl_pct", "P&L%", lambda p, w: p.unrealized_pct),
    Column("weight", "Wt", lambda p, w: w),
)
COLUMN_KEYS = tuple(c.key for c in COLUMNS)
_BY_KEY = {c.key: c for c in COLUMNS}

# On a narrow pane these columns give way, first to last, so the rest fit without scrolling
# sideways (the weight keeps its %, the day's move stays in view).
GIVE_WAY = ("avg", "quote", "sector", "value", "pnl_pct", "day_pnl")
_PADDING = 2  # DataTable's cell padding, one each side

# A cell as the table shows it: its text and its style (compared to skip unchanged cells).
Cell = tuple[str, str]


def _signed_style(x: float, gain: str, loss: str, places: int = 2) -> str:
    """Gain or loss colour for a figure as shown (rounded to `places`): a figure that reads
    0 is neither."""
    if round(x, places) > 0:
        return gain
    if round(x, places) < 0:
        return loss
    return ""


def quote_text(p: Position, now: datetime | None) -> str:
    """'231.10×231.20', or without a quote the last price's age ('last 12s ago'), or '—'."""
    if p.bid and p.ask:
        return f"{fmt.price(p.bid)}×{fmt.price(p.ask)}"
    if p.price_time is None or now is None:
        return "—"
    return f"last {fmt.duration((now - p.price_time).total_seconds())} ago"


def positions_title(portfolio: PortfolioSnapshot | None, count: int, now: datetime) -> str:
    """'Positions (10)', or with the link down 'Positions (10) STALE: last known 10:29:14 ET,
    42s ago'."""
    if portfolio is None:
        return "Positions (n/a): no data yet"
    title = f"Positions ({count})"
    if portfolio.last_known_at is None:
        return title
    age = fmt.duration((now - portfolio.last_known_at).total_seconds())
    return f"{title} STALE: last known {fmt.et_time(portfolio.last_known_at)} ET, {age} ago"


class PositionsTable(DataTable[Text]):
    """Symbol, sector, quantity, average cost, last, value, unrealized P&L (and %), weight.

    `show()` diffs against what is on screen: new symbols are added, gone ones removed, and only
    the cells whose text changed are updated (for rows off screen, when they scroll into view), so
    a burst of ticks costs a few cell updates and the cursor and scroll position never jump.
    """

    def __init__(
        self,
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes, cursor_type="row", zebra_stripes=False)
        self._shown: dict[str, tuple[Cell, ...]] = {}  # what the table holds, by symbol
        self._pending: dict[str, tuple[Cell, ...]] = {}  # newer cells for rows off screen
        self._memo: dict[str, tuple[Position, tuple[object, ...], tuple[Cell, ...]]] = {}
        self._positions: dict[str, Position] = {}
        self._weights: dict[str, float] = {}
        self.sort_column = "symbol"
        self.sort_reverse = False
        self._gain = "#4EBF71"
        self._loss = "#ba3c5b"
        self._warn = "#ffa62b"
        # Rendered rows by what they show: see render_line.
        self._strips: LRUCache[tuple[object, ...], Strip] = LRUCache(1024)
        self._frame_key: tuple[object, ...] = ()
        self._visible: tuple[str, ...] = COLUMN_KEYS

    def on_mount(self) -> None:
        for column in COLUMNS:
            self.add_column(self._header(column), key=column.key)
        self._visible = COLUMN_KEYS
        variables = self.app.theme_variables
        self._gain = variables.get("success", self._gain)
        self._loss = variables.get("error", self._loss)
        self._warn = variables.get("warning", self._warn)
        if self.app.no_color:
            # The theme's colours turn to greys, the loss colour the darkest: the sign says it.
            self._gain = self._loss = ""

    def _header(self, column: Column) -> Text:
        # The arrow's cell is always reserved, so sorting never changes a column's width.
        arrow = " "
        if column.key == self.sort_column:
            arrow = "▼" if self.sort_reverse else "▲"
        return Text(column.label + arrow, justify="right" if column.numeric else "left")

    # -- content ------------------------------------------------------------------------------

    def _row(
        self, p: Position, weight: float, stale: bool, orphan: bool, quote: str
    ) -> tuple[Cell, ...]:
        pnl_style = _signed_style(p.unrealized_pnl, self._gain, self._loss)
        pct_style = _signed_style(p.unrealized_pct, self._gain, self._loss, places=3)
        day = p.daily_pnl
        day_style = "" if day is None else _signed_style(day, self._gain, self._loss)
        change = p.day_change_pct
        change_style = (
            "" if change is None else _signed_style(change, self._gain, self._loss, places=3)
        )
        last = fmt.price(p.market_price)
        return (
            # ORPHAN: held, but neither the strategy's nor on safety_limits.orphan_ignore.
            (f"{p.symbol} ORPHAN" if orphan else p.symbol, "bold"),
            (fmt.short_sector(p.sector), ""),
            (fmt.quantity(p.quantity), ""),
            (fmt.price(p.avg_cost), ""),
            # DELAYED: IB's delayed data (no subscription), 15-20 minutes old.
            (f"{last} STALE" if stale else f"{last} DELAYED" if p.delayed else last,
             f"dim {self._warn}" if stale else ""),
            (quote, "dim" if stale else ""),
            (fmt.money(p.market_value), ""),
            ("n/a", "dim") if day is None else (fmt.signed_money(day), day_style),
            ("n/a", "dim") if change is None else (fmt.signed_pct(change), change_style),
            (fmt.signed_money(p.unrealized_pnl), pnl_style),
            (fmt.signed_pct(p.unrealized_pct), pct_style),
            (fmt.pct(weight), ""),
        )

    @staticmethod
    def _text(cell: Cell, numeric: bool) -> Text:
        plain, style = cell
        justify: Literal["left", "right"] = "right" if numeric else "left"
        for mark in (" STALE", " ORPHAN"):
            if plain.endswith(mark):
                text = Text(plain[: -len(mark)], style=style, justify=justify)
                text.append(mark, style="bold reverse")
                return text
        return Text(plain, style=style, justify=justify)

    def show(
        self,
        positions: Iterable[Position],
        weights: dict[str, float],
        *,
        now: datetime | None = None,
        stale_after: float | None = None,
        orphans: frozenset[str] = frozenset(),
    ) -> None:
        """Make the table show these positions (only those with a quantity); `orphans` are
        marked ORPHAN."""
        current = {p.symbol: p for p in positions if p.quantity != 0}
        cursor_key = self._cursor_symbol()
        changed_order = resized = False
        sort_index = COLUMN_KEYS.index(self.sort_column)

        for symbol in [s for s in self._shown if s not in current]:
            self.remove_row(symbol)
            del self._shown[symbol]
            self._pending.pop(symbol, None)
            self._memo.pop(symbol, None)
            changed_order = True

        for symbol, p in current.items():
            stale = p.stale or (
                stale_after is not None
                and now is not None
                and p.price_time is not None
                and (now - p.price_time).total_seconds() > stale_after
            )
            weight = weights.get(symbol, 0.0)
            orphan = symbol in orphans
            quote = quote_text(p, now)
            seen = (fmt.pct(weight), stale, orphan, quote)
            memo = self._memo.get(symbol)
            # Most positions did not move since the last refresh: reuse their cells.
            if memo is not None and memo[0] is p and memo[1] == seen:
                cells = memo[2]
            else:
                cells = self._row(p, weight, stale, orphan, quote)
                self._memo[symbol] = (p, seen, cells)
            shown = self._shown.get(symbol)
            if shown is None:
                self._add(symbol, cells)
                self._shown[symbol] = cells
                changed_order = True
            elif shown != cells:
                self._pending[symbol] = cells
                changed_order = changed_order or cells[sort_index] != shown[sort_index]
                # A cell that grew or shrank may change which columns fit: the STALE marks
                # going after a reconnect make room for the quote column again.
                resized = resized or any(len(a[0]) != len(b[0]) for a, b in zip(
                    cells, shown, strict=True))
            else:
                self._pending.pop(symbol, None)

        self._positions = current
        self._weights = weights
        if (changed_order or resized) and self._fit_columns():
            changed_order = False  # rebuilt and sorted
        if changed_order:
            self._apply_sort()
        if cursor_key is not None and cursor_key in current:
            self._keep_cursor_on(cursor_key)
        self._flush_visible()

    def _flush_visible(self) -> None:
        """Write the pending cells of the rows on screen into the table.

        Rows off screen keep their pending cells until they scroll into view: with a thousand
        price updates a second over 500 rows, most changes are to rows no one can see, and each
        cell update costs a repaint's worth of bookkeeping in DataTable.
        """
        if not self._pending:
            return
        top = int(self.scroll_y)
        rows = self.ordered_rows
        for index in range(top, min(len(rows), top + self.size.height)):
            symbol = str(rows[index].key.value)
            cells = self._pending.pop(symbol, None)
            if cells is not None:
                self._apply(symbol, cells)

    def _apply(self, symbol: str, cells: tuple[Cell, ...]) -> None:
        shown = self._shown[symbol]
        for i, (new_cell, old_cell) in enumerate(zip(cells, shown, strict=True)):
            if new_cell != old_cell and COLUMNS[i].key in self._visible:
                col = COLUMNS[i]
                wider = len(new_cell[0]) > self.columns[ColumnKey(col.key)].content_width
                self.update_cell(
                    symbol, col.key, self._text(new_cell, col.numeric), update_width=wider
                )
        self._shown[symbol] = cells

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if round(old_value) != round(new_value):
            self._flush_visible()

    def on_resize(self) -> None:
        self._fit_columns()
        self._flush_visible()

    def _add(self, symbol: str, cells: tuple[Cell, ...]) -> None:
        self.add_row(
            *(
                self._text(c, col.numeric)
                for c, col in zip(cells, COLUMNS, strict=True)
                if col.key in self._visible
            ),
            key=symbol,
        )

    def _fit_columns(self) -> bool:
        """Show the columns that fit the pane's width (see GIVE_WAY); True when the table was
        rebuilt for a new set of columns."""
        width = self.size.width - 1  # the vertical scrollbar
        if width <= 0 or not self.is_mounted:
            return False
        need = {}
        newest = {**self._shown, **self._pending}  # rows off screen: what they will show
        for i, col in enumerate(COLUMNS):
            longest = max((len(cells[i][0]) for cells in newest.values()), default=0)
            need[col.key] = max(longest, len(col.label) + 1) + _PADDING
        visible = list(COLUMN_KEYS)
        for key in GIVE_WAY:
            if sum(need[k] for k in visible) <= width:
                break
            visible.remove(key)
        wanted = tuple(visible)
        if wanted == self._visible:
            return False
        cursor_key = self._cursor_symbol()
        self._visible = wanted
        for symbol, cells in self._pending.items():
            self._shown[symbol] = cells
        self._pending.clear()
        self.clear(columns=True)
        for col in COLUMNS:
            if col.key in wanted:
                self.add_column(self._header(col), key=col.key)
        for symbol, cells in self._shown.items():
            self._add(symbol, cells)
        self._apply_sort()
        if cursor_key is not None and cursor_key in self._shown:
            self._keep_cursor_on(cursor_key)
        return True

    # -- rendering ------------------------------------------------------------------------------

    # DataTable forgets every rendered cell whenever any cell changes, so with prices moving it
    # would re-render every visible row on every refresh. A row's line depends only on its cells,
    # the column widths, the cursor and hover, the widget's style and the horizontal scroll, so it
    # is kept by exactly that and only rows whose text changed are drawn again.

    def render_lines(self, crop: Region) -> list[Strip]:
        self._frame_key = (
            tuple(column.get_render_width(self) for column in self.ordered_columns),
            self.size.width,
            int(self.scroll_x),
            self.rich_style,
            self.has_focus,
            self.cursor_type,
            self.app.theme,
        )
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        if not self.show_header:
            return super().render_line(y)
        if y < self.header_height:
            header_key = (self._frame_key, "header", y, self.sort_column, self.sort_reverse)
            strip = self._strips.get(header_key)
            if strip is None:
                strip = super().render_line(y)
                self._strips.set(header_key, strip)
            return strip
        index = int(self.scroll_y) + y - self.header_height
        rows = self.ordered_rows
        if index >= len(rows):
            return super().render_line(y)
        symbol = rows[index].key.value
        cells = self._shown.get(symbol or "")
        if cells is None:
            return super().render_line(y)
        key = (
            self._frame_key,
            cells,
            index == self.cursor_row,
            index == self.hover_coordinate.row,
        )
        strip = self._strips.get(key)
        if strip is None:
            strip = super().render_line(y)
            self._strips.set(key, strip)
        return strip

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
            symbol = symbol_cell.plain.removesuffix(" ORPHAN")
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
            if col.key in self._visible:
                self.columns[ColumnKey(col.key)].label = self._header(col)
        self._apply_sort()  # also redraws the header
        self._flush_visible()
        if cursor_key is not None:
            self._keep_cursor_on(cursor_key)
        self.post_message(SortChanged(self.sort_column, self.sort_reverse))

    def cycle_sort(self) -> None:
        """Sort by the next column (the `o` key)."""
        i = COLUMN_KEYS.index(self.sort_column)
        self.sort_by(COLUMN_KEYS[(i + 1) % len(COLUMN_KEYS)])

    def reverse_sort(self) -> None:
        """The same column the other way round (the `O` key)."""
        self.sort_by(self.sort_column, reverse=not self.sort_reverse)

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        event.stop()
        key = str(event.column_key.value)
        if key == self.sort_column:
            self.sort_by(key, reverse=not self.sort_reverse)
        else:
            self.sort_by(key)

    @property
    def selected_symbol(self) -> str | None:
        """The symbol under the cursor."""
        return self._cursor_symbol()

    @property
    def symbols(self) -> list[str]:
        """Symbols in the order the table shows them."""
        return [str(row.key.value) for row in self.ordered_rows]
