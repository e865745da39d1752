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
    filled = min(width, round(max(0.0, use) / BAR_SCALE * width))
    if use > 0 and filled == 0:
        filled = 1  # a position that exists is never drawn as nothing
    style = LEVEL_STYLE[level_of(use)]
    overflow = use > BAR_SCALE
    parts: list[tuple[str, str]] = []
    # Runs, not cells: one span per run keeps a bar cheap to render.
    for start, end, mark in (
        (0, limit_at, False),
        (limit_at, limit_at + 1, True),
        (limit_at + 1, width, False),
    ):
        if mark:
            parts.append(("┃", "bold $foreground"))
            continue
        full = max(0, min(end, filled) - start)
        if full:
            run = "█" * full
            if overflow and start + full == width:
                run = run[:-1] + "»"
            parts.append((run, style))
        if end - start - full > 0:
            parts.append(("·" * (end - start - full), "$foreground-darken-3"))
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


def _view(gauges: list[Gauge]) -> tuple[tuple[str, str, float], ...]:
    """What a bar shows of each gauge: a new view is worth a repaint, a hair's move is not."""
    return tuple((g.name, fmt.pct(g.value), round(g.use, 2)) for g in gauges)


class ConcentrationBars(Widget):
    """Per-stock and per-sector weight, each against its limit, heaviest first."""

    # Repaint on a change; a new layout only when the number of lines changes (see show()).
    stocks: reactive[tuple[Gauge, ...]] = reactive(())
    sectors: reactive[tuple[Gauge, ...]] = reactive(())
    hidden_stocks: reactive[int] = reactive(0)
    stock_limit: reactive[float] = reactive(0.0)
    sector_limit: reactive[float] = reactive(0.0)
    known: reactive[bool] = reactive(True)  # False: no account data yet (not "no positions")

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
        self._view: object = None

    def show(
        self,
        stocks: list[Gauge],
        sectors: list[Gauge],
        stock_limit: float,
        sector_limit: float,
        *,
        known: bool = True,
    ) -> None:
        """Show these gauges (already sorted, heaviest first); only the top stocks are drawn.

        Nothing is redrawn until what the bars show changes (a weight's tenth of a percent, a
        hundredth of a limit): a price tick that moves a weight by a hair costs no repaint.
        """
        self.known = known
        top = stocks[: self.max_stocks]
        view = (_view(top), _view(sectors), len(stocks), stock_limit, sector_limit)
        if view == self._view:
            return
        self._view = view
        lines = (len(self.stocks), len(self.sectors), bool(self.hidden_stocks))
        self.stocks = tuple(top)
        self.hidden_stocks = max(0, len(stocks) - self.max_stocks)
        self.sectors = tuple(sectors)
        if lines != (len(self.stocks), len(self.sectors), bool(self.hidden_stocks)):
            self.refresh(layout=True)
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
            lines.append(Content.styled("no positions" if self.known else "no data yet", "dim"))
        for g in self.sectors:
            lines.append(gauge_line(fmt.short_sector(g.name, 12), 12, g, width, fmt.pct(g.value)))
        lines.append(Content(""))
        lines.append(
            Content.assemble(("Stocks", "bold"), (f"  limit {fmt.pct(self.stock_limit, 0)}", "dim"))
        )
        if not self.stocks:
            lines.append(Content.styled("no positions" if self.known else "no data yet", "dim"))
        for g in self.stocks:
            lines.append(gauge_line(g.name, 12, g, width, fmt.pct(g.value)))
        if self.hidden_stocks:
            lines.append(Content.styled(f"… and {self.hidden_stocks} lighter", "dim"))
        return Content("\n").join(lines)
