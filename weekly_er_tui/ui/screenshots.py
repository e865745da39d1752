"""SVG screenshots of the cockpit's main states, from the fixed states the snapshot tests use.

    python -m weekly_er_tui.ui.screenshots screenshots/

Each scene is a demo state on a `StaticEngine` under a stopped clock (Monday 2026-11-23 10:30 ET),
at a fixed terminal size, with the keys pressed that open a screen. The same scenes are the
snapshot tests' (tests/ui/test_snapshots.py), so the README shows what the tests check.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from weekly_er_tui.clock import ManualClock
from weekly_er_tui.scenes.fixtures import load_scene
from weekly_er_tui.ui.app import WeeklyERApp
from weekly_er_tui.ui.demo_states import DEMO_LIMITS, DEMO_NOW, STATES, StaticEngine

SMALL = (80, 24)
MIDDLE = (132, 40)
LARGE = (160, 48)


@dataclass(frozen=True, slots=True)
class Scene:
    name: str
    state: str
    size: tuple[int, int]
    keys: tuple[str, ...] = ()
    caption: str = ""


SCENES: tuple[Scene, ...] = (
    Scene("normal-160x48", "normal", LARGE, caption="A normal session"),
    Scene("normal-80x24", "normal", SMALL, caption="The same at 80x24 over SSH"),
    Scene("paused-160x48", "paused", LARGE, caption="PAUSED by the trader"),
    Scene("halted-160x48", "halted", LARGE, caption="HALTED after an emergency close"),
    Scene("reconnecting-160x48", "reconnecting", LARGE, caption="RECONNECTING: prices stale"),
    Scene("flatten-queued-80x24", "flatten_queued", SMALL, caption="A flatten queued offline"),
    Scene("sector-over-160x48", "sector_over_limit", LARGE, caption="A sector over its limit"),
    Scene("flatten-confirm-160x48", "normal", LARGE, ("F",), caption="The flatten confirmation"),
    Scene("help-160x48", "normal", LARGE, ("question_mark",), caption="The help screen"),
    Scene("live-160x48", "live", LARGE, caption="A LIVE account"),
    Scene("working-orders-160x48", "working_orders", LARGE, caption="Working orders"),
)


def scene_app(name: str) -> WeeklyERApp:
    """The cockpit on a scene recorded from the real engine (weekly_er_tui/scenes/), its clock
    stopped at the scene's instant, no animation."""
    scene = load_scene(name)
    app = WeeklyERApp(StaticEngine(scene.state, apply_commands=False),
                      clock=ManualClock(scene.now), limits=scene.limits)
    app.animation_level = "none"
    return app


def build_app(state: str, *, apply_commands: bool = True) -> WeeklyERApp:
    """The cockpit on a fixed demo state, a stopped clock and no animation."""
    engine = StaticEngine(STATES[state](), apply_commands=apply_commands)
    app = WeeklyERApp(engine, clock=ManualClock(DEMO_NOW), limits=DEMO_LIMITS)
    app.animation_level = "none"
    return app


async def render_scene(scene: Scene) -> str:
    """The scene as an SVG document."""
    app = build_app(scene.state)
    async with app.run_test(size=scene.size) as pilot:
        await pilot.pause()
        if scene.keys:
            await pilot.press(*scene.keys)
        await pilot.wait_for_scheduled_animations()
        await pilot.pause()
        return app.export_screenshot(
            title=f"Weekly ER: {scene.caption or scene.name}", simplify=True
        )


async def render_all(names: Sequence[str] = ()) -> dict[str, str]:
    """Scene name -> SVG, for every scene (or those named)."""
    return {s.name: await render_scene(s) for s in SCENES if not names or s.name in names}


def write_all(out_dir: Path, names: Sequence[str] = ()) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, svg in asyncio.run(render_all(names)).items():
        path = out_dir / f"{name}.svg"
        path.write_text(svg, encoding="utf-8")
        written.append(path)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m weekly_er_tui.ui.screenshots",
        description="Write SVG screenshots of the cockpit's main states.",
    )
    parser.add_argument("out_dir", nargs="?", default="screenshots", help="where to write them")
    parser.add_argument("--only", nargs="*", default=(), help="scene names to write")
    args = parser.parse_args(argv)
    unknown = set(args.only) - {s.name for s in SCENES}
    if unknown:
        parser.error(
            f"unknown scene(s) {', '.join(sorted(unknown))}; "
            f"known: {', '.join(s.name for s in SCENES)}"
        )
    for path in write_all(Path(args.out_dir), args.only):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
