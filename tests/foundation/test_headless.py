"""The one rule of the house: the engine never imports textual."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import weekly_er_tui


def engine_modules() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(weekly_er_tui.__path__, "weekly_er_tui."):
        if info.name.startswith("weekly_er_tui.ui") or info.name.endswith("__main__"):
            continue
        names.append(info.name)
    return names


def test_engine_modules_do_not_load_textual() -> None:
    modules = engine_modules()
    assert "weekly_er_tui.config" in modules and "weekly_er_tui.journal" in modules
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.'))\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"textual loaded by the engine: {result.stdout}"
