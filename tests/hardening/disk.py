"""A small real filesystem that a test can fill: a tmpfs mounted for the test (root on Linux).

Filling it makes the product's writes fail the way a full disk does (ENOSPC from write/fsync,
SQLITE_FULL from SQLite), through the real file and SQLite code paths. Where mounting is not
allowed the tests that need it are skipped with that reason; the record-fallback logic is also
covered without a mount by tests that inject the OSError at the file layer.
"""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass
class SmallDisk:
    path: Path
    filler: Path

    def fill(self) -> int:
        """Take every free byte; returns how many were taken."""
        taken = 0
        with open(self.filler, "ab", buffering=0) as fh:
            for chunk in (1 << 20, 1 << 16, 1 << 12, 1 << 8, 1):
                block = b"\0" * chunk
                while True:
                    try:
                        fh.write(block)
                    except OSError as exc:
                        if exc.errno != errno.ENOSPC:
                            raise
                        break
                    taken += chunk
        return taken

    def free(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.filler.unlink()


def _mount(path: Path, size: str) -> bool:
    if os.geteuid() != 0:
        return False
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                         capture_output=True, check=False)
    return res.returncode == 0


@contextlib.contextmanager
def small_disk(path: Path, size: str = "8m") -> Iterator[SmallDisk]:
    path.mkdir(parents=True, exist_ok=True)
    if not _mount(path, size):
        pytest.skip("needs a tmpfs (root and mount -t tmpfs) to fill a real filesystem")
    try:
        yield SmallDisk(path, path / ".filler")
    finally:
        # Lazy: the engine under test may still hold a file open while the fixture unwinds.
        subprocess.run(["umount", "-l", str(path)], capture_output=True, check=False)
