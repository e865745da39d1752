"""`weekly-er-tui ... | head` closes the pipe early: the command ends quietly, no traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_a_reader_that_stops_early_gets_no_traceback() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "weekly_er_tui.cli", "check-config", "config_template.json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        cwd=Path(__file__).parents[2],
    )
    assert proc.stdout is not None
    proc.stdout.close()  # the reader is gone before the first line (import takes far longer)
    _, err = proc.communicate(timeout=60)
    assert "Traceback" not in err, err
    assert "BrokenPipeError" not in err, err
    assert proc.returncode in (0, 141), proc.returncode
