"""The recorded scenes, read back: `load_scene("normal")` is the EngineState the engine
published at that scene (the control socket's codec), with the limits it ran under.

The JSON files under states/ are written by `python -m weekly_er_tui.scenes.record` (make
scenes), never by hand: tests/ui/test_scenes_recorded.py re-records one and compares.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from weekly_er_tui.config import SafetyLimits
from weekly_er_tui.control.codec import from_plain
from weekly_er_tui.model import EngineState

SCENES_DIR = Path(__file__).with_name("states")


@dataclass(frozen=True, slots=True)
class Scene:
    """One recorded scene: what the engine last published, and the clock's instant then (the
    screen's clock: a state is published when something changes, so it may be older)."""

    name: str
    caption: str
    now: datetime
    state: EngineState
    limits: SafetyLimits


def scene_names(directory: Path = SCENES_DIR) -> tuple[str, ...]:
    return tuple(sorted(p.stem for p in directory.glob("*.json")))


@cache
def load_scene(name: str, directory: Path = SCENES_DIR) -> Scene:
    path = directory / f"{name}.json"
    if not path.exists():
        known = ", ".join(scene_names(directory)) or "none"
        raise FileNotFoundError(f"no recorded scene {name!r} in {directory} (known: {known}); "
                                f"record it with `make scenes`")
    data = json.loads(path.read_text(encoding="utf-8"))
    return Scene(name=data["scene"], caption=data["caption"],
                 now=datetime.fromisoformat(data["now"]),
                 state=from_plain(EngineState, data["state"]),
                 limits=SafetyLimits.model_validate(data["limits"]))


def write_scene(directory: Path, fixture: dict[str, Any]) -> Path:
    """Write one recorded fixture (as `record` returns it) as `<scene>.json`."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{fixture['scene']}.json"
    path.write_text(json.dumps(fixture, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    return path
