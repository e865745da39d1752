"""One seeded crash-restart week: `weekly-er-tui sim` and `weekly-er-tui run --headless` as two
processes on one simulated clock (the same --clock-start, --clock-speed and --clock-epoch), the
engine SIGKILLed and restarted at seeded moments of the entries, the fills and the Friday close.

The week is short: the clock starts on Thursday at 09:15, before the 10:00 entries (every report
of the calendar is entered then: AMC Thursday, BMO Friday) and runs to just after Friday's bell
at CLOCK_SPEED, about a minute of real time. The Friday close starts at 10:15 ET (see
CLOSE_OFFSET). The account opens with the trader's own holdings
(AAPL +100, XOM -50) in two of the symbols the strategy trades. Partial fills are on for the
whole run (a timeline action), so orders are still working when the engine dies.

A kill is tied to what the gateway prints (one line per order and fill, stamped with its clock),
not to a real-time guess: "the k-th entry order accepted", "the k-th fill", "the k-th closing
order of the Friday close". The engine is restarted at once, in a new process on the same data
directory; what it finds is the state database, the journals and what IB tells it.

At the end the gateway writes its record (`--record`): every order it booked and every execution.
The invariants (tests/crashsoak/invariants.py) read that and the engine's trade journal.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from weekly_er_tui.clock import ET

ACCOUNT = "DU7100013"
CLIENT_ID = 7
CLOCK_SPEED = 2000.0  # Thursday 09:15 to Friday 16:05 ET (30.8 h) in about 56 real seconds
THURSDAY = date(2026, 12, 10)
FRIDAY = date(2026, 12, 11)
START = datetime(2026, 12, 10, 9, 15, tzinfo=ET)
BELL = datetime(2026, 12, 11, 16, 0, tzinfo=ET)
END = BELL + timedelta(minutes=30)  # after the bell: room for the last engine's journal
STARTUP_LEAD = 6.0  # real seconds between launching the processes and the clock reading START
# An engine process takes 1.5-3 real seconds to start (imports), 50-100 minutes of this clock: the
# Friday close starts at 10:15 ET and its backup at 15:00, so that two kills in the close still
# leave a restarted engine hours to finish it before the bell.
CLOSE_OFFSET = 345
BACKUP_OFFSET = 60

SYMBOLS: dict[str, dict[str, Any]] = {
    "AAPL": {"price": 190.0, "sector": "Technology", "volatility": 0.28},
    "MSFT": {"price": 410.0, "sector": "Technology", "volatility": 0.25},
    "XOM": {"price": 115.0, "sector": "Energy", "volatility": 0.25},
    "JPM": {"price": 205.0, "sector": "Financials", "volatility": 0.23},
    "NKE": {"price": 95.0, "sector": "Consumer Discretionary", "volatility": 0.32},
}
# The trader's own holdings: opened before the week, on orphan_ignore, never the strategy's.
HOLDINGS = {"AAPL": 100.0, "XOM": -50.0}
CALENDAR = (  # every entry is Thursday 10:00 ET
    ("AAPL", THURSDAY, "AMC"), ("MSFT", THURSDAY, "AMC"),
    ("XOM", FRIDAY, "BMO"), ("JPM", FRIDAY, "BMO"), ("NKE", FRIDAY, "BMO"),
)  # fmt: skip
KINDS = ("entry", "fill", "close")


@dataclass(frozen=True, slots=True)
class Kill:
    """SIGKILL the engine at the `nth` (1-based) gateway line of `kind`."""

    kind: str  # entry: an entry order accepted; fill: any fill; close: a Friday-close order
    nth: int

    def __str__(self) -> str:
        return f"at {self.kind} #{self.nth}"


@dataclass(frozen=True, slots=True)
class CrashPlan:
    seed: int
    kills: tuple[Kill, ...]
    parts: int  # partial fills: every order fills in this many executions
    interval: float  # clock seconds between the parts

    def describe(self) -> str:
        return (f"crash seed {self.seed}: kills {', '.join(map(str, self.kills))}; partial fills "
                f"in {self.parts} parts {self.interval:g}s apart; x{CLOCK_SPEED:g} from "
                f"{START:%a %Y-%m-%d %H:%M} ET to the bell")


def plan(seed: int) -> CrashPlan:
    """The seed's kills: one at an entry, one or two at fills, one or two at the Friday close,
    each at a drawn index (an index past what the week has never fires)."""
    rng = random.Random(seed)
    parts = rng.randint(2, 4)
    kills = [Kill("entry", rng.randint(1, len(CALENDAR)))]
    kills += [Kill("fill", rng.randint(1, len(CALENDAR) * parts))
              for _ in range(rng.randint(1, 2))]
    kills += [Kill("close", n) for n in sorted(rng.sample(range(1, len(CALENDAR) + 1),
                                                          rng.randint(1, 2)))]
    return CrashPlan(seed, tuple(kills), parts, float(rng.choice((300, 600, 900))))


def scenario(p: CrashPlan) -> dict[str, Any]:
    return {
        "name": f"crash-restart seed {p.seed}",
        "seed": p.seed,
        "account": {"id": ACCOUNT, "cash": 200_000},
        "symbols": SYMBOLS,
        "positions": [{"symbol": s, "quantity": q, "avg_cost": SYMBOLS[s]["price"]}
                      for s, q in HOLDINGS.items()],
        "realism": {"profile": "real"},
        "timeline": [{"at": (START - timedelta(minutes=30)).isoformat(),
                      "action": "partial_fills", "parts": p.parts, "interval": p.interval}],
    }


def config(calendar: Path, port: int) -> dict[str, Any]:
    return {
        "ib_port": port, "ib_client_id": CLIENT_ID, "account": ACCOUNT,
        "connection_monitoring": {"heartbeat_interval": 2.0, "heartbeat_timeout": 3.0,
                                  "connect_timeout": 3.0, "reconnect_delay": 0.2,
                                  "slow_retry_interval": 0.5},
        "safety_limits": {"max_daily_loss": 150_000, "max_position_value": 50_000,
                          "max_portfolio_value": 500_000, "max_position_concentration": 0.5,
                          "max_sector_concentration": 0.95, "min_cash_reserve": 0,
                          "max_correlated_weight": 1.0, "orphan_ignore": sorted(HOLDINGS)},
        "strategy": {"calendar_file": str(calendar), "notional_per_position": 10_000,
                     "close_offset_minutes": CLOSE_OFFSET,
                     "backup_offset_minutes": BACKUP_OFFSET},
    }


@dataclass
class CrashRun:
    plan: CrashPlan
    workdir: Path
    record: dict[str, Any] = field(default_factory=dict)
    trades: list[dict[str, str]] = field(default_factory=list)
    kills_done: list[str] = field(default_factory=list)
    kills_missed: list[str] = field(default_factory=list)  # their event never came to a live engine
    incarnations: int = 0
    wall_seconds: float = 0.0
    error: str = ""

    @property
    def replay(self) -> str:
        return f"pytest tests/crashsoak --crash-seed {self.plan.seed}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _is_close(text: str) -> bool:
    return " ref=wer-" in text and (" SELL " in text or " BUY " in text)


class _GatewayWatch(threading.Thread):
    """Reads the gateway's lines and counts entries, fills and closing orders."""

    def __init__(self, proc: subprocess.Popen[str], log: Path) -> None:
        super().__init__(daemon=True)
        self.proc = proc
        self.log = log
        self.counts = dict.fromkeys((*KINDS, "connect"), 0)
        self.listening = threading.Event()
        self.changed = threading.Condition()

    def run(self) -> None:
        assert self.proc.stdout is not None
        with open(self.log, "a", encoding="utf-8") as out:
            for line in self.proc.stdout:
                out.write(line)
                out.flush()
                with self.changed:
                    if "listening on" in line:
                        self.listening.set()
                    text = line.split("ET  ", 1)[-1]
                    if text.startswith(f"client {CLIENT_ID} connected"):
                        self.counts["connect"] += 1
                    elif text.startswith("order ") and "-ENTRY" in text:
                        self.counts["entry"] += 1
                    elif text.startswith("order ") and _is_close(text):
                        self.counts["close"] += 1
                    elif text.startswith("fill "):
                        self.counts["fill"] += 1
                    self.changed.notify_all()

    def snapshot(self) -> dict[str, int]:
        with self.changed:
            return dict(self.counts)


def _env(workdir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "PYTHONPATH", "HOME", "LANG")}
    env["WEEKLY_ER_TUI_RUNTIME_DIR"] = str(workdir / "runtime")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "weekly_er_tui.cli", *args]


def clock_now(epoch: float) -> datetime:
    return START + timedelta(seconds=(time.time() - epoch) * CLOCK_SPEED)


def run_week(p: CrashPlan, workdir: Path) -> CrashRun:
    """Run the seed's week in two processes; the record and journal are in `workdir`."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "runtime").mkdir(mode=0o700, exist_ok=True)
    run = CrashRun(p, workdir)
    began = time.monotonic()
    (workdir / "scenario.json").write_text(json.dumps(scenario(p), indent=1))
    calendar = workdir / "calendar.csv"
    calendar.write_text("symbol,report_date,timing\n" + "".join(
        f"{s},{d.isoformat()},{t}\n" for s, d, t in CALENDAR))
    port = _free_port()
    (workdir / "config.json").write_text(json.dumps(config(calendar, port), indent=1))
    epoch = time.time() + STARTUP_LEAD
    clock = ["--clock-start", START.isoformat(), "--clock-speed", f"{CLOCK_SPEED:g}",
             "--clock-epoch", f"{epoch:.6f}"]
    env = _env(workdir)
    record = workdir / "record.json"
    sim = subprocess.Popen(
        _cli("sim", "--port", str(port), "--scenario", str(workdir / "scenario.json"),
             "--seed", str(p.seed), "--record", str(record), *clock),
        stdout=subprocess.PIPE, stderr=open(workdir / "sim.err", "w"), text=True, env=env,
    )
    watch = _GatewayWatch(sim, workdir / "sim.out")
    watch.start()
    engine: subprocess.Popen[str] | None = None

    def start_engine() -> subprocess.Popen[str]:
        run.incarnations += 1
        n = run.incarnations
        return subprocess.Popen(
            _cli("run", "--headless", "--config", str(workdir / "config.json"),
                 "--data-dir", str(workdir / "data"), *clock),
            stdout=open(workdir / f"engine{n}.out", "w"),
            stderr=open(workdir / f"engine{n}.err", "w"), text=True, env=env,
        )

    try:
        if not watch.listening.wait(30):
            raise RuntimeError(f"the gateway did not start (see {workdir / 'sim.err'})")
        engine = start_engine()
        connects_at_start = 0
        pending = list(p.kills)
        deadline = epoch + (END - START).total_seconds() / CLOCK_SPEED
        last = watch.snapshot()
        while time.time() < deadline:
            with watch.changed:
                watch.changed.wait(0.05)
            now = watch.snapshot()
            # A kill fires at an event of its kind from its index on, and only at an engine
            # that is up (connected since it started): every kill lands in a running engine.
            up = now["connect"] > connects_at_start
            due = [k for k in pending
                   if up and now[k.kind] > last[k.kind] and now[k.kind] >= k.nth]
            last = now
            if sim.poll() is not None:
                raise RuntimeError(f"the gateway exited ({sim.returncode}); see sim.err")
            if engine.poll() is not None:
                raise RuntimeError(f"engine {run.incarnations} exited by itself "
                                   f"({engine.returncode}); see engine{run.incarnations}.err")
            if due:  # one kill at a time: the others wait for a later event of their kind
                kill = due[0]
                pending.remove(kill)
                run.kills_done.append(f"{kill} at {clock_now(epoch):%a %H:%M:%S} ET")
                engine.send_signal(signal.SIGKILL)
                engine.wait(10)
                connects_at_start = now["connect"]
                engine = start_engine()
        run.kills_missed = [str(k) for k in pending]
        # The last engine has connected (it has journaled what it finds at the connect's resync)
        # before it is stopped; bounded, in real seconds, for a machine under load.
        up_by = time.monotonic() + 30
        while watch.snapshot()["connect"] <= connects_at_start and time.monotonic() < up_by:
            with watch.changed:
                watch.changed.wait(0.1)
        engine.send_signal(signal.SIGTERM)
        engine.wait(30)
    except BaseException as exc:
        run.error = f"{type(exc).__name__}: {exc}"
        if engine is not None and engine.poll() is None:
            engine.kill()
            engine.wait(10)
        if not isinstance(exc, Exception):
            raise
    finally:
        if sim.poll() is None:
            sim.send_signal(signal.SIGTERM)
            try:
                sim.wait(30)
            except subprocess.TimeoutExpired:
                sim.kill()
        watch.join(5)
        run.wall_seconds = time.monotonic() - began
    if record.exists():
        run.record = json.loads(record.read_text())
    elif not run.error:
        run.error = f"the gateway wrote no record ({record})"
    journal = workdir / "data" / "logs" / "trade_journal.csv"
    if journal.exists():
        from weekly_er_tui.journal import read_csv

        run.trades = read_csv(journal)
    return run
