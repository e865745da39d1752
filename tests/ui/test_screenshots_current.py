"""The README's screenshots are what `make screenshots` makes from the recorded scenes today.

They went stale unnoticed once: a change of the orderRef style and of the help texts reached the
snapshot tests but not screenshots/, so the README showed orderRefs and key help the app no longer
produces. The SVGs are made the way `make screenshots` makes them, in a process of their own
(fixed scenes, fixed size, no animation), and compared byte for byte.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from weekly_er_tui.ui.screenshots import SCENES

ROOT = Path(__file__).resolve().parents[2]


def test_the_committed_screenshots_are_what_make_screenshots_makes(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "weekly_er_tui.ui.screenshots", str(tmp_path)],
                   check=True, capture_output=True, cwd=ROOT, timeout=300)
    stale = [s.name for s in SCENES
             if (tmp_path / f"{s.name}.svg").read_bytes()
             != (ROOT / "screenshots" / f"{s.name}.svg").read_bytes()]
    assert not stale, (f"screenshots/ is stale for {stale}: run `make screenshots`, look at "
                       "each changed SVG, and commit them")
