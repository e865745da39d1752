"""`make bench`: run every benchmark in bench/ and print one table.

Each bench module exposes `run() -> list[dict]` with keys name, value, unit, baseline, ratio,
target (and optionally met: bool, note: str). Baselines are measured in the same run, so the
ratios compare like with like on whatever machine this runs on.
"""

from __future__ import annotations

import importlib.util
import platform
import sys
import traceback
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def _load(path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:,.3g}" if abs(v) < 1000 else f"{v:,.0f}"
    return str(v)


def main(argv: list[str]) -> int:
    only = set(argv)
    rows: list[dict[str, Any]] = []
    failed: list[str] = []
    for path in sorted(HERE.glob("bench_*.py")):
        if only and path.stem not in only:
            continue
        print(f"running {path.name} ...", file=sys.stderr, flush=True)
        try:
            for row in _load(path).run():
                rows.append({"bench": path.stem, **row})
        except Exception:
            failed.append(path.name)
            traceback.print_exc()
    header = ("bench", "figure", "value", "unit", "baseline", "ratio", "target", "met")
    table = [header]
    for r in rows:
        met = r.get("met")
        table.append((
            r["bench"].removeprefix("bench_"), r["name"], _fmt(r["value"]), r.get("unit", ""),
            _fmt(r.get("baseline")), _fmt(r.get("ratio")), str(r.get("target", "")),
            "-" if met is None else ("yes" if met else "NO"),
        ))
    widths = [max(len(str(row[i])) for row in table) for i in range(len(header))]
    print(f"\nMachine: {platform.machine()}, {platform.processor() or 'cpu'}, "
          f"Python {platform.python_version()}, {platform.system()} {platform.release()}")
    for i, row in enumerate(table):
        print("| " + " | ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True))
              + " |")
        if i == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    if failed:
        print(f"\nFAILED benchmarks: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
