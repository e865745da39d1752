"""SVG screenshots of the cockpit's main scenes, from the states the snapshot tests use.

    python -m weekly_er_tui.ui.screenshots screenshots/

Each scene is an EngineState recorded from the real engine on the simulated gateway
(weekly_er_tui/scenes/, `make scenes`) on a `StaticEngine`, under a clock stopped at the scene's
instant, at a fixed terminal size, with the keys pressed that open a screen. The same scenes are
the snapshot tests' (tests/ui/test_snapshots.py), so the README shows what the tests check.
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
from weekly_er_tui.ui.static_engine import StaticEngine

SMALL = (80, 24)
MIDDLE = (132, 40)
LARGE = (160, 48)


@dataclass(frozen=True, slots=True)
class Scene:
    name: str
    scene: str  # the recorded scene (weekly_er_tui/scenes/states/<scene>.json)
    size: tuple[int, int]
    keys: tuple[str, ...] = ()
    caption: str = ""  # the recorded scene's own when empty


SCENES: tuple[Scene, ...] = (
    Scene("normal-160x48", "normal", LARGE),
    Scene("normal-80x24", "normal", SMALL, caption="The same at 80x24 over SSH"),
    Scene("first-connect-160x48", "first-connect", LARGE),
    Scene("paused-160x48", "paused", LARGE),
    Scene("degraded-160x48", "degraded", LARGE),
    Scene("reconnecting-160x48", "reconnecting", LARGE),
    Scene("flatten-queued-80x24", "flatten-queued", SMALL),
    Scene("working-orders-160x48", "working-orders", LARGE),
    Scene("sector-over-160x48", "sector-over", LARGE),
    Scene("halted-160x48", "halted", LARGE),
    Scene("friday-closing-160x48", "friday-closing", LARGE),
    Scene("friday-flat-160x48", "friday-flat", LARGE),
    Scene("flatten-confirm-160x48", "normal", LARGE, ("F",), caption="The flatten confirmation"),
    Scene("help-160x48", "normal", LARGE, ("question_mark",), caption="The help screen"),
    Scene("live-160x48", "live", LARGE),
)


def build_app(scene: str, *, apply_commands: bool = False) -> WeeklyERApp:
    """The cockpit on a recorded scene, its clock stopped at the scene's instant, no animation."""
    recorded = load_scene(scene)
    engine = StaticEngine(recorded.state, apply_commands=apply_commands)
    app = WeeklyERApp(engine, clock=ManualClock(recorded.now), limits=recorded.limits)
    app.animation_level = "none"
    return app


async def render_scene(scene: Scene) -> str:
    """The scene as an SVG document."""
    app = build_app(scene.scene)
    async with app.run_test(size=scene.size) as pilot:
        await pilot.pause()
        if scene.keys:
            await pilot.press(*scene.keys)
        await pilot.wait_for_scheduled_animations()
        await pilot.pause()
        return app.export_screenshot(
            title=f"Weekly ER: {scene.caption or load_scene(scene.scene).caption}",
            simplify=True,
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
