"""The working orders: ours and other clients', with status, filled/left, age and orderRef.

Rebuilt when the orders change (a few a minute at most); the cursor stays on its order. `x`
cancels the order under the cursor (the app asks first).
"""

from __future__ import annotations

from datetime import datetime

from rich.text import Text
from textual.binding import Binding
from textual.widgets import DataTable

from weekly_er_tui.model import WorkingOrder
from weekly_er_tui.ui import formatting as fmt

COLUMNS = (("order", "Order"), ("symbol", "Symbol"), ("side", "Side"), ("qty", "Qty"),
           ("filled", "Filled"), ("left", "Left"), ("type", "Type"), ("status", "Status"),
           ("age", "Age"), ("whose", "Whose"), ("ref", "orderRef"))
_RIGHT = {"order", "qty", "filled", "left", "age"}


def order_cells(o: WorkingOrder, now: datetime) -> tuple[str, ...]:
    kind = o.order_type + (f" {fmt.price(o.limit_price)}" if o.limit_price is not None else "")
    age = fmt.duration((now - o.placed_at).total_seconds()) if o.placed_at else "—"
    whose = "ours" if o.ours else f"client {o.client_id}"
    return (str(o.order_id), o.symbol, o.action, fmt.quantity(o.quantity),
            fmt.quantity(o.filled), fmt.quantity(o.remaining), kind, o.status, age, whose,
            o.order_ref or "—")


class OrdersTable(DataTable[Text]):
    BINDINGS = [Binding("x", "app.cancel_order", "Cancel order", id="cancel_order")]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=False)
        self._rows: tuple[tuple[str, ...], ...] = ()
        self.orders: dict[str, WorkingOrder] = {}

    def on_mount(self) -> None:
        for key, label in COLUMNS:
            self.add_column(Text(label, justify="right" if key in _RIGHT else "left"), key=key)

    def show(self, orders: tuple[WorkingOrder, ...], now: datetime) -> None:
        rows = tuple(order_cells(o, now) for o in orders)
        self.border_title = f"Working orders ({len(orders)})"
        self.display = bool(orders)
        if rows == self._rows:
            return
        selected = self.selected
        self._rows = rows
        self.orders = {str(o.order_id): o for o in orders}
        self.clear()
        for o, cells in zip(orders, rows, strict=True):
            self.add_row(*(Text(c, justify="right" if k in _RIGHT else "left", style=""
                                if o.ours else "dim")
                           for c, (k, _) in zip(cells, COLUMNS, strict=True)),
                         key=str(o.order_id))
        if selected is not None and str(selected.order_id) in self.orders:
            self.move_cursor(row=self.get_row_index(str(selected.order_id)), animate=False)

    @property
    def selected(self) -> WorkingOrder | None:
        if not self.row_count:
            return None
        try:
            key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        except Exception:
            return None
        return self.orders.get(str(key))
