"""Every path that can place an order sends nothing in shadow mode (issue 19's second "must
show"), on the simulator with the realism profile: each case drives its path for real, then the
simulator's own record says no placeOrder, cancelOrder or global cancel arrived from any client,
and the shadow journal holds what the path would have sent.

Seen failing: `WER_SHADOW_UNGUARDED=1 pytest tests/shadow/test_every_path_sends_nothing.py`
runs the same cases with the seam taken out (every executor sends through a LiveSender, as
before broker/sender.py existed): each case then fails on the simulator's record.

Closing one position and cancelling one order (issue 16) do not exist yet: when they do, they
go through the closer and the executor, and get a case here.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.engine.rig import ACCOUNT, CLIENT_ID, Rig, close_rig, et, open_rig, scenario_data
from tests.shadow.conftest import GatewayRecord, shadow_config, shadow_rows
from weekly_er_tui import cli
from weekly_er_tui.broker.orders import OrderExecutor
from weekly_er_tui.broker.sender import LiveSender
from weekly_er_tui.clock import ManualClock
from weekly_er_tui.config import SafetyLimits
from weekly_er_tui.model import EventType, PlanStatus, TradingState
from weekly_er_tui.store import Store

UNGUARDED = os.environ.get("WER_SHADOW_UNGUARDED") == "1"
WEEK = ["JNJ,2026-11-23,AMC,,"]  # one entry, Monday 10:00 ET


def scenario() -> dict[str, Any]:
    """The other system holds 200 AAPL (a loss a rule can act on) and 25 JNJ (what a backup
    without the seam would sell), beside the trader's 100 KO."""
    data = scenario_data()
    data["account"]["cash"] = 100_000
    data["positions"] = [{"symbol": "KO", "quantity": 100, "avg_cost": 58.0},
                         {"symbol": "AAPL", "quantity": 200, "avg_cost": 200.0},
                         {"symbol": "JNJ", "quantity": 25, "avg_cost": 150.0}]
    return data


@pytest.fixture(autouse=True)
def seam(monkeypatch: pytest.MonkeyPatch) -> None:
    if not UNGUARDED:
        return
    original = OrderExecutor.__init__

    def unguarded(self: OrderExecutor, *args: Any, **kwargs: Any) -> None:
        kwargs.pop("sender", None)  # the seam taken out: straight to ib_async
        original(self, *args, **kwargs)
        self.sender = LiveSender(self.ib)

    monkeypatch.setattr(OrderExecutor, "__init__", unguarded)


def config_file(rig: Rig) -> Path:
    path = rig.data_dir.parent / "config.json"
    path.write_text(json.dumps({
        "ib_host": "127.0.0.1", "ib_port": rig.gw.port, "ib_client_id": CLIENT_ID,
        "account": ACCOUNT, "mode": "shadow",
        "connection_monitoring": {"heartbeat_interval": 1, "heartbeat_timeout": 3,
                                  "connect_timeout": 3},
    }))
    return path


async def run_cli(*argv: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    code = await asyncio.to_thread(cli.main, list(argv), out, err)
    return code, out.getvalue() + err.getvalue()


def rows_for(rig: Rig, reason: str) -> list[dict[str, str]]:
    return [r for r in shadow_rows(rig, "ORDER") if r["reason"] == reason]


async def written(rig: Rig, reason: str, symbols: set[str]) -> None:
    await rig.until(lambda: {r["symbol"] for r in rows_for(rig, reason)} >= symbols
                    or (UNGUARDED and bool(rig.gw.book.requests)), timeout=15)


# -- the paths --------------------------------------------------------------------------------
async def entry(rig: Rig) -> None:
    await rig.start_engine()
    await rig.step_to_entry(et(2026, 11, 23, 10))
    await written(rig, "ENTRY", {"JNJ"})
    if not UNGUARDED:
        assert rig.entry("JNJ").status is PlanStatus.ENTERED


async def emergency(rig: Rig) -> None:
    engine = await rig.start_engine()
    await rig.until(lambda: engine.safety.last_report is not None)  # the session's baseline
    rig.gw.price_shock(-30, symbol="AAPL")  # about -$12k on ~$146k: past a 5% stop
    await written(rig, "EMERGENCY", {"AAPL", "KO"})
    await rig.until(lambda: engine.safety.trading_state is TradingState.HALTED)
    if not UNGUARDED:
        # The account stays open (nothing was sent): the breach is confirmed again by later
        # checks, and no second close is journaled.
        def confirmed() -> int:
            return sum("emergency_stop_loss confirmed" in e["message"]
                       for e in rig.events(EventType.SAFETY_CHECK))

        await rig.until(lambda: confirmed() >= 2 or engine.safety.request_check(), timeout=10)
        await engine.check_now()
        assert [r["reason"] for r in shadow_rows(rig, "CLOSE")] == ["EMERGENCY"]


async def daily_loss(rig: Rig) -> None:
    engine = await rig.start_engine()
    await rig.until(lambda: engine.safety.last_report is not None)
    rig.gw.price_shock(-10, symbol="AAPL")  # about -$4k today against a $1k limit
    await written(rig, "DAILY_LOSS", {"AAPL"})
    await rig.until(lambda: engine.safety.trading_state is not TradingState.ACTIVE)


async def friday_close(rig: Rig) -> None:
    await entry(rig)
    rig.manual.set(rig.close_state().close_at)
    await written(rig, "FRIDAY_CLOSE", {"JNJ"})


async def backup(rig: Rig) -> None:
    # A would-be book left from before (the shadow engine was down at the close): started
    # after the backup time, the backup closes it.
    store = Store.in_data_dir(rig.data_dir, shadow=True)
    store.track_position("JNJ", 25, "WER-20261123-JNJ-ENTRY", et(2026, 11, 23, 10))
    store.close()
    fc_backup = et(2026, 11, 27, 12, 55)
    rig.manual.set(fc_backup + timedelta(seconds=30))
    await rig.start_engine(planned=False)
    await written(rig, "FRIDAY_CLOSE", {"JNJ"})
    await rig.until(lambda: rig.has_phase("backup"))


async def flatten_key(rig: Rig) -> None:
    engine = await rig.start_engine()
    await engine.flatten("manual: F key")  # what the F key calls after its confirmation
    await written(rig, "EMERGENCY", {"AAPL", "KO"})


async def flatten_yes_through_the_engine(rig: Rig) -> None:
    await rig.start_engine()
    code, out = await run_cli("flatten", "--yes", "--config", str(config_file(rig)),
                              "--data-dir", str(rig.data_dir))
    await written(rig, "EMERGENCY", {"AAPL", "KO"})
    if not UNGUARDED:
        assert code == 0 and "through the running engine" in out and "SHADOW" in out, out


async def flatten_yes_direct(rig: Rig) -> None:
    code, out = await run_cli("flatten", "--yes", "--config", str(config_file(rig)),
                              "--data-dir", str(rig.data_dir))
    await written(rig, "EMERGENCY", {"AAPL", "KO"})
    if not UNGUARDED:
        assert code == 0 and "flattening directly" in out and "NOTHING was sent" in out, out


async def close_one_position(rig: Rig) -> None:
    engine = await rig.start_engine()
    await rig.until(lambda: engine.safety.last_report is not None)
    await engine.close_position("AAPL")  # what x on the positions table calls after its dialog
    await written(rig, "MANUAL", {"AAPL"})
    if not UNGUARDED:
        assert {r["symbol"] for r in rows_for(rig, "MANUAL")} == {"AAPL"}  # that one only


PATHS: dict[str, tuple[Callable[[Rig], Awaitable[None]], dict[str, float]]] = {
    "entry": (entry, {}),
    "emergency": (emergency, {"emergency_stop_loss": 0.05, "max_daily_loss": 100_000}),
    "daily_loss": (daily_loss, {"max_daily_loss": 1000}),
    "friday_close": (friday_close, {}),
    "backup": (backup, {}),
    "flatten_key": (flatten_key, {}),
    "flatten_yes_through_the_engine": (flatten_yes_through_the_engine, {}),
    "flatten_yes_direct": (flatten_yes_direct, {}),
    "close_one_position": (close_one_position, {}),
}


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    r = await open_rig(tmp_path, ManualClock(et(2026, 11, 23, 9, 0)), WEEK, scenario())
    try:
        yield r
    finally:
        await close_rig(r)


@pytest.mark.parametrize("path", list(PATHS))
async def test_every_path_sends_nothing_in_shadow_mode(rig: Rig, path: str) -> None:
    drive, limits = PATHS[path]
    shadow_config(rig, safety_limits=SafetyLimits(**limits))
    record = GatewayRecord(rig.gw)
    await drive(rig)
    assert rig.gw.book.requests == [] and record.events_of_orders() == [], (
        f"{path}: the simulator received orders in shadow mode: {rig.gw.book.requests} "
        f"{record.events_of_orders()}")
    assert not rig.gw.executions
