"""`python -m weekly_er_tui.sim [--host H] [--port N] [--scenario NAME|PATH] ...`"""

from __future__ import annotations

import argparse
import asyncio
import sys

from weekly_er_tui.clock import parse_instant
from weekly_er_tui.sim.standalone import run_standalone


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m weekly_er_tui.sim",
        description="Run the simulated IB Gateway (TWS API protocol) until Ctrl+C.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=7497)
    parser.add_argument("--scenario", default="demo", help="built-in name (demo) or JSON path")
    parser.add_argument("--clock-start", default=None, help="ISO 8601 instant (naive = ET)")
    parser.add_argument("--clock-speed", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    try:
        start = parse_instant(args.clock_start) if args.clock_start else None
    except ValueError as exc:
        parser.error(str(exc))
    return asyncio.run(
        run_standalone(
            args.host,
            args.port,
            args.scenario,
            start,
            args.clock_speed,
            sys.stdout,
            seed=args.seed,
        )
    )


if __name__ == "__main__":
    sys.exit(main())
