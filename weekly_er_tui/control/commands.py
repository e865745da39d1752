"""The CLI's side of the control channel: find the running engine, send it one command, and
say in words what happened (which path was taken, the state it is in now)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from weekly_er_tui.clock import ET
from weekly_er_tui.control.client import REQUEST_TIMEOUT_S, NoEngine, request
from weekly_er_tui.control.codec import from_plain
from weekly_er_tui.control.lock import holder_of, holders
from weekly_er_tui.control.protocol import socket_path
from weekly_er_tui.model import EngineState
from weekly_er_tui.words import counted


def candidate_sockets(data_dir: Path, account: str = "", *, any_engine: bool = False
                      ) -> list[Path]:
    """The data directory's socket, then that of the engine holding the account's lock (it may
    run from another directory); with `any_engine` (for watching, never for a command that
    acts on an account), then the one engine running on this machine, when there is only one."""
    paths = [socket_path(data_dir)]
    holder = holder_of(account) if account else None
    if holder is not None and socket_path(holder.data_dir) not in paths:
        paths.append(socket_path(holder.data_dir))
    if any_engine:
        running = {socket_path(h.data_dir) for h in holders()}
        if len(running) == 1:
            paths.extend(p for p in running if p not in paths)
    return paths


def send(data_dir: Path, cmd: str, account: str = "", **fields: Any) -> dict[str, Any] | None:
    """The running engine's reply to `cmd`, or None when no engine runs (for this data
    directory or, by its lock, for the account; for `status`, or the only one running)."""
    for path in candidate_sockets(data_dir, account, any_engine=cmd == "status"):
        try:
            return asyncio.run(request(path, cmd, **fields))
        except NoEngine:
            continue
        except ConnectionError:  # it died while answering: as if none ran
            continue
        except TimeoutError:
            return {"ok": False, "engine": {"data_dir": str(path.parent.parent)},
                    "error": f"no answer within {REQUEST_TIMEOUT_S:g} s; the engine goes on "
                             f"with it: `weekly-er-tui status` shows where it is"}
    return None


def where(reply: dict[str, Any]) -> str:
    engine = reply.get("engine", {})
    return f"pid {engine.get('pid', '?')}, data directory {engine.get('data_dir', '?')}"


def _et(iso: str | None) -> str:
    if not iso:
        return "never"
    return f"{datetime.fromisoformat(iso).astimezone(ET):%a %Y-%m-%d %H:%M:%S} ET"


def _age(seconds: float) -> str:
    s = max(0, round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60:02d}s"
    return f"{s // 3600}h {s % 3600 // 60:02d}m"


def _last_known(at: datetime | None, now: datetime) -> str:
    """While the link is down the positions are the last ones IB reported, not the account now."""
    if at is None:
        return ""
    return (f", as last known at {at.astimezone(ET):%a %Y-%m-%d %H:%M:%S} ET "
            f"({_age((now - at).total_seconds())} ago; the link is down: the account may have "
            f"changed since)")


def _ms(value: float | None) -> str:
    return f"{value:.1f} ms" if value is not None else "-"


def status_text(reply: dict[str, Any], out: TextIO) -> None:
    """The guide's get_system_status() in words, with the positions."""
    s = reply["status"]
    state = from_plain(EngineState, reply["state"])
    c = s["connection"]
    lat = c["heartbeat_latency_ms"]
    lines = [
        *(["SHADOW mode: this engine decides and journals everything and sends NO order "
           "(logs/shadow_orders.csv)"] if state.shadow else []),
        f"Engine: {'running' if s['is_running'] else 'NOT running'} ({where(reply)})",
        f"Account: {state.account or '-'} ({'LIVE' if state.live else 'paper'})",
        f"Trading state: {s['trading_state']}"
        + (f" ({s['trading_state_reason']})" if s["trading_state_reason"] else ""),
        f"Last safety check: {_et(s['last_safety_check'])}",
        f"Risk score: {s['risk_score']:.0f}/100" if s["risk_score"] is not None
        else "Risk score: - (no check yet)",
        f"Connection: {c['state']} to {c['host']}:{c['port']} clientId {c['client_id']}; "
        f"up {c['current_uptime']:.0f} s, {c['uptime_pct']:.1f}% of the time; "
        f"{counted(c['total_connections'], 'connect')}, "
        f"{counted(c['total_disconnects'], 'disconnect')}, "
        f"{counted(c['reconnect_attempts'], 'reconnect attempt')}",
        f"Heartbeat: last {_et(c['last_heartbeat'])}"
        + (f" ({c['last_heartbeat_age_s']:.1f} s ago)" if c["last_heartbeat_age_s"] is not None
           else "")
        + f"; latency last {_ms(lat['last'])}, median {_ms(lat['median'])}, "
          f"worst {_ms(lat['worst'])}",
    ]
    if c["last_error"]:
        lines.append(f"Last connection error: {c['last_error']}")
    if s.get("flatten_pending"):
        lines.append("A flatten is QUEUED: it runs on reconnect.")
    if s.get("strategy_error"):
        lines.append(f"Strategy not running: {s['strategy_error']}")
    snap = state.portfolio
    if snap is None:
        lines.append("Positions: unknown (not connected)")
    else:
        open_positions = snap.open_positions
        lines.append(f"Net liquidation: ${snap.net_liquidation:,.2f}; day P&L: "
                     + (f"${snap.daily_pnl:+,.2f}" if snap.daily_pnl is not None else "unknown"))
        lines.append(f"Positions: {len(open_positions)}" + _last_known(snap.last_known_at,
                                                                       state.timestamp))
        for p in open_positions:
            lines.append(f"  {p.symbol:<8} {p.quantity:>10g} sh @ ${p.market_price:,.2f}  "
                         f"value ${p.market_value:,.2f}  unrealized ${p.unrealized_pnl:+,.2f}")
    print("\n".join(lines), file=out)
