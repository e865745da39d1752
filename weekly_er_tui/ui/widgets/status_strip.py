"""On a small terminal, the pinned summary: connection, risk score and the day's loss budget.

At 80x24 there is no room for the heartbeat and risk panes beside the positions, so this strip
says what they say in three lines that never scroll away.
"""

from __future__ import annotations

from datetime import datetime

from textual.content import Content
from textual.reactive import reactive
from textual.widget import Widget

from weekly_er_tui.model import ConnectionStats
from weekly_er_tui.ui import formatting as fmt
from weekly_er_tui.ui.figures import Gauge, Level, RiskFigures
from weekly_er_tui.ui.widgets.bars import level_style, limit_bar
from weekly_er_tui.ui.widgets.heartbeat import beat_age, latency_ms, state_label
from weekly_er_tui.ui.widgets.risk import day_pnl_text, score_text


def _figure(label: str, value: str, gauge: Gauge) -> Content:
    level = gauge.level
    style = level_style(level) if level is not Level.OK else "bold"
    word = "" if level is Level.OK else f" {level.value}"
    return Content.assemble((label, "dim"), " ", (value + word, style))


class StatusStrip(Widget):
    stats: reactive[ConnectionStats] = reactive(ConnectionStats)
    figures: reactive[RiskFigures | None] = reactive(None)
    now: reactive[datetime | None] = reactive(None)
    pulse: reactive[bool] = reactive(False)

    def watch_pulse(self, pulse: bool) -> None:
        self.set_class(pulse, "-pulse")

    def render(self) -> Content:
        s = self.stats
        now = self.now or datetime.now().astimezone()
        conn = Content.assemble(
            state_label(s, self.pulse),
            ("  beat ", "dim"),
            (beat_age(s, now), "bold"),
            ("  latency ", "dim"),
            latency_ms(s.heartbeat_latency.last_ms),
            ("  reconnects ", "dim"),
            str(s.reconnect_attempts),
        )
        f = self.figures
        if f is None:
            return Content("\n").join([conn, Content.styled("waiting for the account…", "dim")])
        loss = f.daily_loss
        width = self.size.width or 78
        head = Content.assemble(
            ("Risk ", "dim"),
            score_text(f),
            ("  Day P&L ", "dim"),
            (day_pnl_text(f), "bold"),
            (f" of max -{fmt.compact_money(loss.limit)} ", "dim"),
        )
        bar = limit_bar(loss.use, max(6, min(20, width - head.cell_length - 6)))
        word = "" if loss.level is Level.OK else f" {loss.level.value}"
        risk = Content.assemble(head, bar, (word, level_style(loss.level)))
        more = Content(" · ").join(
            [
                _figure(
                    "Drawdown",
                    f"{fmt.pct(f.drawdown.value)}/{fmt.pct(f.drawdown.limit, 0)}",
                    f.drawdown,
                ),
                _figure("Cash", fmt.compact_money(f.cash.value), f.cash),
                _figure(
                    "Positions", f"{f.positions.value:.0f}/{f.positions.limit:.0f}", f.positions
                ),
                Content.assemble(
                    ("Net liq", "dim"),
                    " ",
                    ("n/a" if f.net_liquidation is None else fmt.money(f.net_liquidation), "bold"),
                ),
            ]
        )
        return Content("\n").join([conn, risk, more])
