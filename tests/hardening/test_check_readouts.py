"""`check connection` and `check safety` read as a trader reads: times in ET with the zone
named, units ($, %, s, ms), figures rounded (never `current_uptime: 2.0052337329999546`), and
every limit with its usage (value / limit, %), NEAR from the cockpit's threshold, OVER past it.
The real commands against the simulated gateway."""

from __future__ import annotations

import asyncio
import io
import json
import re
from pathlib import Path

import pytest

from weekly_er_tui import cli
from weekly_er_tui.cli.checks import check_connection
from weekly_er_tui.config import AppConfig
from weekly_er_tui.sim import SimulatedGateway

pytestmark = pytest.mark.integration

RAW_FLOAT = re.compile(r"\d\.\d{3,}")  # more than two decimals: a float printed as it is
ET_TIME = re.compile(r"\d{2}:\d{2}:\d{2} ET")


def raw_floats(text: str) -> list[str]:
    return [line for line in text.splitlines() if RAW_FLOAT.search(line)]


async def test_check_connection_rounds_names_units_and_speaks_et(
    gateway: SimulatedGateway
) -> None:
    out = io.StringIO()
    assert await check_connection(AppConfig(ib_port=gateway.port), out) == 0
    text = out.getvalue()
    assert raw_floats(text) == [], text
    assert "{" not in text, text  # no raw dicts
    last = next(line for line in text.splitlines() if "last heartbeat" in line)
    assert ET_TIME.search(last), text
    assert re.search(r"uptime: [\d.]+ s", text), text
    assert re.search(r"heartbeat latency: last [\d.]+ ms, median [\d.]+ ms, worst [\d.]+ ms",
                     text), text
    assert re.search(r"uptime since the first connect: [\d.]+%", text), text


async def test_check_safety_shows_each_limits_usage_near_and_over(
    gateway: SimulatedGateway, tmp_path: Path
) -> None:
    # Three positions against max_positions 3 is at the limit (NEAR: from 80% on, as the
    # cockpit); $100k of cash against a $1M reserve is OVER.
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"ib_port": gateway.port, "safety_limits": {
        "max_positions": 3, "min_cash_reserve": 1_000_000}}))
    out, err = io.StringIO(), io.StringIO()
    code = await asyncio.to_thread(cli.main, ["check", "safety", "--config", str(config)],
                                   out, err)
    text = out.getvalue()
    assert code == 0, text + err.getvalue()
    assert raw_floats(text) == [], text
    assert ET_TIME.search(text.splitlines()[0]), text
    lines = {line.split()[0]: line for line in text.splitlines() if line.startswith("  ")}
    assert re.search(r"3 / 3 +100% +NEAR$", lines["max_positions"]), text
    assert "$1,000,000" in lines["min_cash_reserve"] and lines["min_cash_reserve"].endswith(
        "OVER"), text
    assert re.search(r"\$[\d,]+ / \$[\d,]+ +\d+%$", lines["max_daily_loss"]), text
    assert re.search(r"Technology [\d.]+% / [\d.]+% +\d+%", text), text
    assert "NEAR from 80% of a limit" in text
