"""The risk summary: net liquidation and each account-wide limit, with the 0-100 risk score."""

from __future__ import annotations

from textual.content import Content
from textual.reactive import reactive
from textual.widget import Widget

from weekly_er_tui.ui import formatting as fmt
from weekly_er_tui.ui.figures import Gauge, Level, RiskFigures, score_level, score_word
from weekly_er_tui.ui.widgets.bars import level_style, limit_bar

LABEL_WIDTH = 10


def day_pnl_text(figures: RiskFigures) -> str:
    return "n/a" if figures.day_pnl is None else fmt.signed_money(figures.day_pnl)


def score_text(figures: RiskFigures) -> Content:
    """`23/100 LOW` colored by band, or `n/a` before the first safety check."""
    if figures.risk_score is None:
        return Content.styled("n/a", "dim")
    score = figures.risk_score
    level = score_level(score)
    return Content.assemble(
        (f"{score:.0f}/100 ", level_style(level)),
        (
            f" {score_word(score)} ",
            f"reverse {level_style(level)}" if level is not Level.OK else level_style(level),
        ),
    )


class RiskSummary(Widget):
    """Net liquidation; day's P&L, drawdown, cash and positions against limits; risk score."""

    figures: reactive[RiskFigures | None] = reactive(None)

    def watch_figures(self, old: RiskFigures | None, new: RiskFigures | None) -> None:
        # The height follows the lines: one while waiting for the account, five once it has
        # come (a new layout only then, not on every repaint).
        if (old is None) != (new is None):
            self.refresh(layout=True)

    def _row(self, label: str, value: str, limit: str, gauge: Gauge) -> Content:
        width = self.size.width or 52
        level = gauge.level
        word = {Level.OK: "", Level.NEAR: "NEAR", Level.OVER: "OVER"}[level]
        head = f"{label:<{LABEL_WIDTH}}{value:>10}  {limit:<13}"
        bar_width = max(4, width - len(head) - 6)
        return Content.assemble(
            (head[:LABEL_WIDTH], "bold" if word else ""),
            (head[LABEL_WIDTH : LABEL_WIDTH + 10], level_style(level) if word else "bold"),
            (head[LABEL_WIDTH + 10 :], "dim"),
            limit_bar(gauge.use, bar_width),
            " ",
            (f"{word:<4}", f"reverse {level_style(level)}" if word else ""),
        )

    def render(self) -> Content:
        f = self.figures
        if f is None:
            return Content.styled("waiting for the first account update…", "dim")
        net_liq = "n/a" if f.net_liquidation is None else fmt.money(f.net_liquidation)
        pos_limit = f.positions.limit
        lines = [
            Content.assemble(
                (f"{'Net liq':<{LABEL_WIDTH}}", "bold"),
                (f"{net_liq:>10}", "bold"),
                "  ",
                ("risk score ", "dim"),
                score_text(f),
            ),
            self._row(
                "Day P&L",
                day_pnl_text(f),
                f"max -{fmt.compact_money(f.daily_loss.limit)}",
                f.daily_loss,
            ),
            self._row(
                "Drawdown",
                fmt.pct(f.drawdown.value),
                f"stop {fmt.pct(f.drawdown.limit)}",
                f.drawdown,
            ),
            self._row(
                "Cash",
                fmt.money(f.cash.value),
                f"min {fmt.compact_money(f.cash.limit)}",
                f.cash,
            ),
            self._row(
                "Positions",
                f"{f.positions.value:.0f}",
                f"max {pos_limit:.0f}",
                f.positions,
            ),
        ]
        return Content("\n").join(lines)
