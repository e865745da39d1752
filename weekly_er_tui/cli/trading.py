"""The commands that act on the account: `flatten`, `pause`, `resume` (through the running
engine, else directly: its own clientId, or the state database), and `status` (the running
engine's state)."""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import replace
from pathlib import Path
from typing import Any, TextIO

from weekly_er_tui.cli import values
from weekly_er_tui.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_FAILURE,
    EXIT_OK,
    Subcommands,
    add_command,
    add_common,
    add_shadow_flag,
    config_of,
    load_or_report,
)
from weekly_er_tui.clock import Clock, WallClock
from weekly_er_tui.config import AppConfig
from weekly_er_tui.journal import remove_handlers, setup_logging


def add_commands(sub: Subcommands) -> None:
    p = add_command(sub, "flatten", cmd_flatten,
                    "emergency: cancel all orders and close every position")
    add_common(p)
    p.add_argument("--yes", action="store_true", help="required: confirms the flatten")
    p.add_argument("--client-id", type=values.client_id, default=None,
                   help="clientId for this session (default: ib_client_id + 50)")
    add_shadow_flag(p, "with no engine running: journal what it would close, send nothing")

    for name, what in (("pause", "pause trading (no new entries) in the running engine"),
                       ("resume", "resume trading in the running engine")):
        p = add_command(sub, name, cmd_trading_state,
                        what + "; with none running, in the state database")
        add_common(p)
        add_shadow_flag(p, "with no engine running: the shadow engine's state database")

    p = add_command(sub, "status", cmd_status,
                    "the running engine's state, connection, risk, positions")
    add_common(p)
    p.add_argument("--json", action="store_true", help="the get_system_status() dict as JSON")


def cmd_flatten(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if not args.yes:
        print("weekly-er-tui flatten cancels EVERY open order and closes EVERY position in the "
              "account. Run it again with --yes to do it.", file=err)
        return EXIT_BAD_INPUT
    loaded = load_or_report(args.config, err)
    if loaded is None:
        return EXIT_BAD_INPUT
    routed = _through_engine("flatten", args, loaded.config, out,
                             reason="emergency flatten from the command line")
    if routed is not None:
        return routed
    print(f"No engine is running for {Path(args.data_dir).absolute()} (nor, by its lock, for "
          f"account {loaded.config.account or '(not configured)'}): flattening directly with "
          f"its own clientId" + (" in SHADOW mode: nothing will be sent." if
                                config_of(loaded, args).shadow else "."), file=out)
    clock = WallClock()
    handlers = setup_logging(args.data_dir, args.log_level, clock, console=err)
    try:
        return asyncio.run(flatten_account(config_of(loaded, args), Path(args.data_dir), clock,
                                           out, args.client_id))
    finally:
        remove_handlers(handlers)


async def flatten_account(config: AppConfig, data_dir: Path, clock: Clock, out: TextIO,
                          client_id: int | None = None) -> int:
    """From another terminal, with its own clientId, for when the app is gone."""
    from weekly_er_tui.broker.connection import (
        ConnectionConfig,
        ConnectionFailed,
        RobustIBConnection,
    )
    from weekly_er_tui.broker.stack import BrokerStack, build_broker_stack
    from weekly_er_tui.journal import Journal
    from weekly_er_tui.model import EventType, Severity, TradingState
    from weekly_er_tui.safety import PositionSafetyManager
    from weekly_er_tui.store import Store
    from weekly_er_tui.strategy.calendars import market_calendar

    cfg = ConnectionConfig.from_config(config)
    cid = client_id if client_id is not None else config.ib_client_id + 50
    journal = Journal(data_dir, clock)
    store = Store.in_data_dir(data_dir, shadow=config.shadow)
    cal = market_calendar()
    stack: BrokerStack | None = None
    try:
        async with RobustIBConnection(
            replace(cfg, client_id=cid, max_reconnect_attempts=1),
            journal=journal, clock=clock,
        ) as ib:
            # Shadow mode: what it would close is journaled (logs/shadow_orders.csv), not sent.
            stack = build_broker_stack(
                ib, clock, store, journal, config.safety_limits,
                trading_state=lambda: TradingState.HALTED,
                market_open=lambda: cal.is_open(clock.now()),
                closed_until=lambda: cal.closed_until(clock.now()),
                account=config.account or "",
                shadow_dir=data_dir if config.shadow else None, other_system_fills=False,
            )
            await stack.portfolio.resync(ib)
            # Through the safety manager, so the HALT is an event like any other.
            PositionSafetyManager(config.safety_limits, store=store, journal=journal,
                                  clock=clock).set_trading_state(
                TradingState.HALTED, "flattened from the command line")
            journal.event(EventType.EMERGENCY_CLOSE, Severity.CRITICAL,
                          "Emergency close of ALL positions started from the command line", {})
            result = await stack.executor.flatten("EMERGENCY")
            stack.fills.close()
            journal.event(EventType.EMERGENCY_CLOSE, Severity.CRITICAL,
                          f"Emergency close finished: {'FLAT' if result.flat else 'NOT flat'}",
                          result.to_dict())
    except ConnectionFailed as exc:
        print(str(exc), file=out)
        return EXIT_FAILURE
    finally:
        journal.close()
        store.close()
        if stack is not None and stack.shadow_sender is not None:
            stack.shadow_sender.close()
    if config.shadow:
        print("SHADOW mode: NOTHING was sent to IB. Would have closed: "
              f"{', '.join(result.closed) or 'nothing'} (each order in "
              f"{data_dir / 'logs' / 'shadow_orders.csv'}); HALTED written to the shadow "
              "engine's state database only.", file=out)
        return EXIT_OK
    print(f"closed: {', '.join(result.closed) or 'none'}", file=out)
    for sym, why in result.failed:
        print(f"FAILED: {sym}: {why}", file=out)
    print(f"remaining positions: {', '.join(result.remaining) or 'none'}; "
          f"working orders: {result.working_orders}", file=out)
    print("Account is FLAT." if result.flat else "Account is NOT flat: act in TWS now.",
          file=out)
    print("Trading state set to HALTED: resume it in the app when it is safe.", file=out)
    return EXIT_OK if result.flat else EXIT_FAILURE


def _through_engine(cmd: str, args: argparse.Namespace, config: AppConfig, out: TextIO,
                    **fields: Any) -> int | None:
    """Send `cmd` to the running engine and report; None when no engine runs."""
    from weekly_er_tui.control.commands import send, where

    reply = send(Path(args.data_dir), cmd, config.account or "", **fields)
    if reply is None:
        return None
    if not reply.get("ok"):
        print(f"{cmd} not done by the running engine ({where(reply)}): {reply.get('error')}",
              file=out)
        return EXIT_FAILURE
    st = reply["status"]
    print(f"{cmd} done through the running engine ({where(reply)}).", file=out)
    print(f"Trading state now: {st['trading_state']}"
          + (f" ({st['trading_state_reason']})" if st["trading_state_reason"] else ""), file=out)
    if st.get("mode") == "shadow":
        print("The running engine is in SHADOW mode: NOTHING was sent to IB; what it would "
              "have done is in its logs/shadow_orders.csv.", file=out)
        return EXIT_OK
    if cmd == "flatten":
        print(f"Open positions: {st['positions']}" + (
            "; the flatten is QUEUED: it runs when the connection is back"
            if st["flatten_pending"] else ""), file=out)
        return EXIT_OK if st["positions"] == 0 or st["flatten_pending"] else EXIT_FAILURE
    return EXIT_OK


def cmd_trading_state(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """`pause` / `resume`: through the running engine, else written to the data directory's
    state database, which the next engine starts from."""
    from weekly_er_tui.model import EventType, Severity, TradingState
    from weekly_er_tui.safety import PositionSafetyManager
    from weekly_er_tui.store import Store

    loaded = load_or_report(args.config, err)
    if loaded is None:
        return EXIT_BAD_INPUT
    reason = f"{args.command}d from the command line"
    routed = _through_engine(args.command, args, loaded.config, out, reason=reason)
    if routed is not None:
        return routed
    data_dir = Path(args.data_dir)
    clock = WallClock()
    from weekly_er_tui.journal import Journal

    journal = Journal(data_dir, clock)
    store = Store.in_data_dir(data_dir, shadow=config_of(loaded, args).shadow)
    try:
        safety = PositionSafetyManager(loaded.config.safety_limits, store=store, journal=journal,
                                       clock=clock)
        if args.command == "pause":
            safety.pause(reason)
        else:
            safety.set_trading_state(TradingState.ACTIVE, reason)
        journal.event(EventType.SYSTEM, Severity.INFO,
                      f"{args.command} written to the state database: no engine was running", {})
        state = store.trading_state()[0].value
    finally:
        journal.close()
        store.close()
    print(f"No engine is running for {data_dir.absolute()}: trading state {state} written to "
          f"its state database directly; the next engine starts from it.", file=out)
    return EXIT_OK


def cmd_status(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    import json

    from weekly_er_tui.control.commands import send, status_text

    loaded = load_or_report(args.config, err, say_defaults=False)
    if loaded is None:
        return EXIT_BAD_INPUT
    reply = send(Path(args.data_dir), "status", loaded.config.account or "")
    if reply is None:
        if args.json:
            where = str(Path(args.data_dir).absolute())
            print(json.dumps({"is_running": False, "data_dir": where}), file=out)
        else:
            print(f"No engine is running for {Path(args.data_dir).absolute()}.", file=out)
        return EXIT_FAILURE
    if args.json:
        print(json.dumps({**reply["status"], "engine": reply["engine"],
                          "state": reply["state"]}, indent=2), file=out)
    else:
        status_text(reply, out)
    return EXIT_OK
