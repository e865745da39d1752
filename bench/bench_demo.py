"""The real demo on a pseudo-terminal: time to the first full frame, and memory after a while.

    python bench/bench_demo.py            # 10 minutes of demo (BENCH_DEMO_MINUTES to change)

- demo_first_frame: from launching `weekly-er-tui demo` (simulated gateway, engine, app) to the
  first frame that shows the positions table. Baseline, same run: launching the same command with
  `--version` (the interpreter and the CLI's imports). Target < 2 s.
- demo_rss_after_Nmin: resident memory (VmRSS) of the demo process after N minutes of the demo at
  clock speed 1. Baseline: its RSS at the first frame, so the ratio is the growth. Target < 150 MB.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from pathlib import Path
from typing import Any

SIZE = (160, 48)
MINUTES = float(os.environ.get("BENCH_DEMO_MINUTES", "10"))
TARGET_FIRST_FRAME_S = 2.0
TARGET_RSS_MB = 150.0
ANSI = re.compile(rb"\x1b\[[0-9;?<>]*[a-zA-Z]")


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    raise RuntimeError("no VmRSS")


def _cli() -> list[str]:
    return [sys.executable, "-m", "weekly_er_tui.cli"]


def _version_time() -> float:
    t0 = time.perf_counter()
    subprocess.run([*_cli(), "--version"], check=True, capture_output=True)
    return time.perf_counter() - t0


def _demo(minutes: float) -> tuple[float, float, float]:
    master, slave = pty.openpty()
    cols, rows = SIZE
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "TEXTUAL")}
    env.update(TERM="xterm-256color", COLUMNS=str(cols), LINES=str(rows))
    seen = threading.Event()
    screen = bytearray()

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        proc = subprocess.Popen([*_cli(), "demo", "--data-dir", tmp], stdin=slave,
                                stdout=slave, stderr=slave, env=env, start_new_session=True)
        os.close(slave)

        def drain() -> None:
            while True:
                try:
                    data = os.read(master, 65536)
                except OSError:
                    return
                if not data:
                    return
                screen.extend(data)
                del screen[:-200_000]
                if not seen.is_set() and b"Positions (" in ANSI.sub(b"", bytes(screen)):
                    seen.set()

        reader = threading.Thread(target=drain, daemon=True)
        reader.start()
        try:
            if not seen.wait(60):
                text = ANSI.sub(b"", bytes(screen)).decode(errors="replace")
                raise RuntimeError(f"the demo never showed its positions:\n{text[-3000:]}")
            first = time.perf_counter() - t0
            rss_first = _rss_mb(proc.pid)
            deadline = time.monotonic() + minutes * 60
            while time.monotonic() < deadline:
                if proc.poll() is not None:
                    raise RuntimeError(f"the demo exited early with {proc.returncode}")
                time.sleep(1.0)
            rss_end = _rss_mb(proc.pid)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
            os.close(master)
    return first, rss_first, rss_end


def run() -> list[dict[str, Any]]:
    base = _version_time()
    first, rss_first, rss_end = _demo(MINUTES)
    return [
        {"name": "demo_first_frame", "value": round(first, 2), "unit": "s",
         "baseline": round(base, 2), "ratio": round(first / base, 2),
         "target": f"< {TARGET_FIRST_FRAME_S:g} s", "met": first < TARGET_FIRST_FRAME_S},
        {"name": f"demo_rss_after_{MINUTES:g}min", "value": round(rss_end, 1), "unit": "MB",
         "baseline": round(rss_first, 1), "ratio": round(rss_end / rss_first, 2),
         "target": f"< {TARGET_RSS_MB:g} MB", "met": rss_end < TARGET_RSS_MB},
    ]


if __name__ == "__main__":
    for row in run():
        print(row)
