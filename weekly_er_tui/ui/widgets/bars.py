"""Bars of a figure against its limit, and the concentration pane built from them."""

from __future__ import annotations

from textual.content import Content
from textual.reactive import reactive
from textual.widget import Widget

from weekly_er_tui.ui import formatting as fmt
from weekly_er_tui.ui.figures import Gauge, Level, level_of

# The bar's full width is this many times the limit, so the limit mark sits at 80% of the bar and
# a breach shows as bar past the mark.
BAR_SCALE = 1.25

LEVEL_STYLE = {
    Level.OK: "$success",
    Level.NEAR: "$warning",
    Level.OVER: "bold $error",
}


def level_style(level: Level) -> str:
    return LEVEL_STYLE[level]


def limit_bar(use: float, width: int) -> Content:
    """`width` cells: filled up to `use` (1.0 = the limit), the limit marked with ┃.

    Filled and empty cells differ by glyph as well as by color, and the limit mark is always drawn,
    so the bar reads on a NO_COLOR terminal too.
    """
    width = max(3, width)
    limit_at = round(width / BAR_SCALE)
    filled = round(max(0.0, use) / BAR_SCALE * width)
    if use > 0 and filled == 0:
        filled = 1  # a position that exists is never drawn as nothing
    style = LEVEL_STYLE[level_of(use)]
    parts: list[tuple[str, str]] = []
    for i in range(width):
        if i == limit_at:
            parts.append(("┃", "bold $foreground"))
        elif i < filled:
            last = i == width - 1 and use > BAR_SCALE
            parts.append(("»" if last else "█", style))
        else:
            parts.append(("·", "$foreground-darken-3"))
    return Content.assemble(*parts)


def gauge_line(label: str, label_width: int, gauge: Gauge, width: int, value_text: str) -> Content:
    """`label  ████┃··  12.3% OVER` in exactly `width` cells."""
    level = gauge.level
    word = {Level.OK: "", Level.NEAR: "NEAR", Level.OVER: "OVER"}[level]
    value_text = value_text.rjust(6)
    bar_width = width - label_width - len(value_text) - 4 - 3
    return Content.assemble(
        (fmt.fit(label, label_width).ljust(label_width), "bold" if word else ""),
        " ",
        limit_bar(gauge.use, bar_width),
        " ",
        (value_text, LEVEL_STYLE[level] if word else ""),
        " ",
        (word.ljust(4), f"reverse {LEVEL_STYLE[level]}" if word else ""),
    )


class ConcentrationBars(Widget):
    """Per-stock and per-sector weight, each against its limit, heaviest first."""

    stocks: reactive[tuple[Gauge, ...]] = reactive((), layout=True)
    sectors: reactive[tuple[Gauge, ...]] = reactive((), layout=True)
    hidden_stocks: reactive[int] = reactive(0, layout=True)
    stock_limit: reactive[float] = reactive(0.0)
    sector_limit: reactive[float] = reactive(0.0)

    def __init__(
        self,
        *,
        max_stocks: int = 10,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.max_stocks = max_stocks

    def show(
        self,
        stocks: list[Gauge],
        sectors: list[Gauge],
        stock_limit: float,
        sector_limit: float,
    ) -> None:
        """Show these gauges (already sorted, heaviest first); only the top stocks are drawn."""
        self.stocks = tuple(stocks[: self.max_stocks])
        self.hidden_stocks = max(0, len(stocks) - self.max_stocks)
        self.sectors = tuple(sectors)
        self.stock_limit = stock_limit
        self.sector_limit = sector_limit

    def render(self) -> Content:
        width = max(30, self.content_region.width or self.size.width)
        lines: list[Content] = []
        lines.append(
            Content.assemble(
                ("Sectors", "bold"), (f"  limit {fmt.pct(self.sector_limit, 0)}", "dim")
            )
        )
        if not self.sectors:
            lines.append(Content.styled("no positions", "dim"))
        for g in self.sectors:
            lines.append(gauge_line(fmt.short_sector(g.name, 12), 12, g, width, fmt.pct(g.value)))
        lines.append(Content(""))
        lines.append(
            Content.assemble(("Stocks", "bold"), (f"  limit {fmt.pct(self.stock_limit, 0)}", "dim"))
        )
        if not self.stocks:
            lines.append(Content.styled("no positions", "dim"))
        for g in self.stocks:
            lines.append(gauge_line(g.name, 12, g, width, fmt.pct(g.value)))
        if self.hidden_stocks:
            lines.append(Content.styled(f"… and {self.hidden_stocks} lighter", "dim"))
        return Content("\n").join(lines)
