"""The text a trader reads on the cockpit: an app's screenshot as plain lines (for pilot tests
that assert words, not pixels)."""

from __future__ import annotations

import html
import re
from collections import defaultdict

from weekly_er_tui.ui.app import WeeklyERApp

_TEXT = re.compile(r'<text class="[^"]*" x="([\d.]+)" y="([\d.]+)"[^>]*>(.*?)</text>')


def screen_lines(app: WeeklyERApp) -> list[str]:
    """The screen as lines of text, top to bottom (runs of one line joined in x order)."""
    svg = app.export_screenshot(simplify=True)
    rows: dict[float, list[tuple[float, str]]] = defaultdict(list)
    for m in _TEXT.finditer(svg):
        rows[float(m.group(2))].append((float(m.group(1)), html.unescape(m.group(3))))
    return ["".join(t for _, t in sorted(parts)).replace("\xa0", " ")
            for _, parts in sorted(rows.items())]


def screen_text(app: WeeklyERApp) -> str:
    return "\n".join(screen_lines(app))
