"""How numbers and instants read on the cockpit: short, aligned, and signed where sign matters.

Every gain or loss carries its sign in text ("+1,234" / "-1,234"), so nothing depends on color
(NO_COLOR terminals, colorblind traders).
"""

from __future__ import annotations

from datetime import datetime

from weekly_er_tui.clock import ET
from weekly_er_tui.model import ConnectionStats


def money(x: float, places: int = 0) -> str:
    """1,234,567 (no currency sign: the whole screen is in the account's currency)."""
    if places == 0 and abs(x) < 0.5:
        x = 0.0  # never "-0"
    return f"{x:,.{places}f}"


def signed_money(x: float, places: int = 0) -> str:
    """+1,234 or -1,234; 0 reads as 0."""
    if round(x, places) == 0:
        return money(0.0, places)
    return f"{x:+,.{places}f}"


def price(x: float) -> str:
    return f"{x:,.2f}"


def quantity(x: float) -> str:
    return f"{x:,.0f}" if float(x).is_integer() else f"{x:,.2f}"


def pct(fraction: float, places: int = 1) -> str:
    """A fraction as a percentage: 0.123 -> 12.3%."""
    value = fraction * 100
    if round(value, places) == 0:
        value = 0.0
    return f"{value:.{places}f}%"


def signed_pct(fraction: float, places: int = 1) -> str:
    value = fraction * 100
    if round(value, places) == 0:
        return f"{0:.{places}f}%"
    return f"{value:+.{places}f}%"


def compact_money(x: float) -> str:
    """1.2M, 845k, 950: for narrow places."""
    ax = abs(x)
    sign = "-" if x < 0 else ""
    if ax >= 1_000_000:
        return f"{sign}{ax / 1_000_000:.2f}M"
    if ax >= 10_000:
        return f"{sign}{ax / 1_000:.0f}k"
    if ax >= 1_000:
        return f"{sign}{ax / 1_000:.1f}k"
    return f"{sign}{ax:.0f}"


def duration(seconds: float) -> str:
    """4s, 2m05s, 1h02m, 3d04h: how long ago, in the fewest characters that still read well."""
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    m, s = divmod(s, 60)
    if m < 60:
        return f"{m}m{s:02d}s"
    h, m = divmod(m, 60)
    if h < 24:
        return f"{h}h{m:02d}m"
    d, h = divmod(h, 24)
    return f"{d}d{h:02d}h"


def et_clock(when: datetime) -> str:
    """Mon 23 Nov 10:30:00 ET: the market's time, whatever the trader's machine says."""
    return when.astimezone(ET).strftime("%a %d %b %H:%M:%S ET")


def et_time(when: datetime) -> str:
    """10:30:05 in New York."""
    return when.astimezone(ET).strftime("%H:%M:%S")


def et_day_time(when: datetime) -> str:
    """Mon 10:00 in New York."""
    return when.astimezone(ET).strftime("%a %H:%M")


_SHORT_SECTORS = {
    "Consumer Discretionary": "Cons Discr",
    "Consumer Staples": "Cons Stapl",
    "Communication Services": "Comm Svcs",
    "Communication": "Comm",
    "Information Technology": "Technology",
    "Real Estate": "Real Est",
    "Industrials": "Industrial",
}


def short_sector(sector: str, width: int = 10) -> str:
    """A sector name that fits a narrow column: known abbreviations, else cut with an ellipsis."""
    name = _SHORT_SECTORS.get(sector, sector)
    return fit(name, width)


def fit(text: str, width: int) -> str:
    """`text` cut to `width` cells with an ellipsis when it is longer."""
    if len(text) <= width:
        return text
    return text[: max(0, width - 1)] + "…"


def attempt_text(stats: ConnectionStats) -> str:
    """The reconnect under way as its log line says it: '1/5', '7' past the series; '' when
    none is announced."""
    if stats.attempt:
        return f"{stats.attempt}/{stats.max_attempts}" if stats.max_attempts else str(stats.attempt)
    return ""
