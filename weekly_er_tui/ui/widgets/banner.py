"""The banner under the header: what is wrong right now, in words, or nothing at all."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from textual.content import Content
from textual.reactive import reactive
from textual.widget import Widget

from weekly_er_tui.model import ConnectionState, EngineState, Severity, TradingState
from weekly_er_tui.risk.rules import ORPHANED_POSITION, STALE_PRICE
from weekly_er_tui.ui import formatting as fmt
from weekly_er_tui.ui.widgets.heartbeat import first_connect

MAX_LINES = 3

# Rules that have no limit to be over: the banner names what they found.
PRESENCE_RULES = {ORPHANED_POSITION: "ORPHANED", STALE_PRICE: "STALE PRICES"}

# Each line is colored by its own level, full width, so a danger line is red even beside a warning.
LINE_STYLE = {"danger": "bold #ffffff on $error", "warning": "#000000 on $warning"}


@dataclass(frozen=True, slots=True)
class BannerLine:
    level: Literal["danger", "warning"]
    label: str
    text: str


def banner_lines(state: EngineState) -> tuple[BannerLine, ...]:
    """The conditions a trader must not miss, most urgent first."""
    danger: list[BannerLine] = []
    warning: list[BannerLine] = []
    conn = state.connection
    if state.flatten_pending:
        danger.append(
            BannerLine("danger", "FLATTEN QUEUED", "runs on reconnect; every position will close")
        )
    if state.flatten_in_progress:
        danger.append(_closing_line(state))
    if state.trading_state is TradingState.HALTED:
        danger.append(
            BannerLine(
                "danger",
                "HALTED",
                f"{state.trading_state_reason or 'emergency'}; only closing orders run; "
                "r resumes (asks to confirm)",
            )
        )
    elif state.trading_state is TradingState.REDUCING:
        warning.append(
            BannerLine(
                "warning",
                "REDUCING",
                f"only orders that reduce a position; {state.trading_state_reason or 'safety'}",
            )
        )
    elif state.trading_state is TradingState.PAUSED:
        warning.append(
            BannerLine(
                "warning",
                "PAUSED",
                f"no new entries; exits and safety actions still run "
                f"({state.trading_state_reason or 'manual'}; r resumes)",
            )
        )
    if conn.state is ConnectionState.FAILED:
        danger.append(
            BannerLine(
                "danger",
                "CONNECTION FAILED",
                f"{conn.last_error or 'gave up reconnecting'}; c reconnects now",
            )
        )
    elif first_connect(conn):
        # Nothing was ever known: no link lost, no price stale, just none yet.
        attempt = f" (attempt {fmt.attempt_text(conn)})" if conn.attempt else ""
        warning.append(
            BannerLine("warning", "CONNECTING…",
                       f"no data yet{attempt}: positions and figures appear once IB answers")
        )
    elif conn.state is ConnectionState.RECONNECTING:
        warning.append(
            BannerLine(
                "warning",
                "CONNECTION LOST",
                (f"reconnecting (attempt {fmt.attempt_text(conn)})" if conn.attempt
                 else "reconnecting") + "; prices are stale",
            )
        )
    elif conn.state is ConnectionState.DEGRADED:
        warning.append(
            BannerLine(
                "warning",
                "CONNECTION DEGRADED",
                ", ".join(conn.degraded_reasons) or conn.last_error or "IB reports a problem",
            )
        )
    if state.strategy_error:
        danger.append(BannerLine("danger", "STRATEGY ERROR", state.strategy_error))
    if state.safety is not None:
        for v in sorted(state.safety.violations, key=lambda v: v.severity.rank):
            if v.severity is Severity.CRITICAL:
                danger.append(BannerLine("danger", "LIMIT BREACHED", v.message))
            elif v.severity.at_least(Severity.MEDIUM):
                # An orphan or a stale price has no limit to be over: say what was found.
                label = PRESENCE_RULES.get(v.rule, "OVER LIMIT")
                warning.append(BannerLine("warning", label, v.message))
    lines = danger + warning
    if len(lines) > MAX_LINES:
        more = len(lines) - (MAX_LINES - 1)
        lines = [
            *lines[: MAX_LINES - 1],
            BannerLine(lines[MAX_LINES - 1].level, "…", f"and {more} more: see the alert log"),
        ]
    return tuple(lines)


def _closing_line(state: EngineState) -> BannerLine:
    """What the closer is closing, counted from its own targets: a Friday close closes the
    strategy's positions, not the trader's own beside them."""
    closing = state.closing
    if not closing.running or closing.scope in ("", "the whole account"):
        count = (len(closing.targets) if closing.running and closing.targets
                 else len(state.portfolio.open_positions) if state.portfolio else 0)
        return BannerLine("danger", "FLATTEN IN PROGRESS", f"closing {count} open positions")
    n = len(closing.targets)
    what = f"{n} position{'s' if n != 1 else ''}"
    listing = f" ({', '.join(closing.targets)})" if closing.targets else ""
    why = "; ".join(closing.why)
    return BannerLine("danger", "CLOSE IN PROGRESS",
                      f"{why + ': ' if why else ''}closing {what}{listing}")


class StatusBanner(Widget):
    """Red when something is dangerous, amber when something needs a look; hidden otherwise."""

    lines: reactive[tuple[BannerLine, ...]] = reactive((), layout=True)

    def watch_lines(self, lines: tuple[BannerLine, ...]) -> None:
        self.display = bool(lines)
        danger = any(line.level == "danger" for line in lines)
        self.set_class(danger, "-danger")
        self.set_class(bool(lines) and not danger, "-warning")

    def render(self) -> Content:
        width = self.size.width
        rendered = []
        for line in self.lines:
            colors = LINE_STYLE[line.level]
            content = Content.assemble((f" {line.label} ", "bold reverse"), " ", line.text)
            if content.cell_length < width:
                content = content.pad_right(width - content.cell_length)
            rendered.append(content.stylize_before(colors))
        return Content("\n").join(rendered)
