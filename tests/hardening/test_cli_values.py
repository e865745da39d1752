"""Every command-line flag range-checked as argparse reads it: exit 2, one line naming the flag,
no traceback; an unwritable or missing logs directory is exit 2 naming the path and the fix."""

from __future__ import annotations

import io
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.hardening.disk import small_disk
from weekly_er_tui import cli


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        code = cli.main(argv, out=out, err=err)
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, err.getvalue() + captured.err


BAD_FLAGS = [
    (["demo", "--clock-speed", "1e12"], "--clock-speed"),
    (["demo", "--clock-speed", "nan"], "--clock-speed"),
    (["demo", "--clock-speed", "inf"], "--clock-speed"),
    (["demo", "--clock-speed", "0"], "--clock-speed"),
    (["demo", "--clock-speed", "-5"], "--clock-speed"),
    (["demo", "--clock-speed", "fast"], "--clock-speed"),
    (["demo", "--clock-start", "1800-01-01T10:00"], "--clock-start"),
    (["demo", "--clock-start", "9999-12-31T10:00"], "--clock-start"),
    (["demo", "--clock-start", "yesterday"], "--clock-start"),
    (["demo", "--run-for", "1e999"], "--run-for"),
    (["demo", "--run-for", "0s"], "--run-for"),
    (["demo", "--run-for", "99999999d"], "--run-for"),
    (["sim", "--port", "99999"], "--port"),
    (["sim", "--port", "0"], "--port"),
    (["sim", "--port", "true"], "--port"),
    (["sim", "--clock-speed", "inf"], "--clock-speed"),
    (["sim", "--clock-start", "1800-01-01"], "--clock-start"),
    (["sim", "--host", ""], "--host"),
    (["flatten", "--yes", "--client-id", "-1"], "--client-id"),
    (["flatten", "--yes", "--client-id", str(2**40)], "--client-id"),
]


@pytest.mark.parametrize("argv, flag", BAD_FLAGS, ids=[" ".join(a) for a, _ in BAD_FLAGS])
def test_a_bad_flag_is_exit_2_and_one_line(argv: list[str], flag: str,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    code, err = run(argv, capsys)
    assert code == 2
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, lines
    assert flag in lines[0]


def test_the_documented_ranges_are_in_the_help(capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = run(["demo", "--help"], capsys)
    assert code == 0


@pytest.fixture
def read_only_dir(tmp_path: Path) -> Iterator[Path]:
    with small_disk(tmp_path / "ro", size="1m") as disk:
        subprocess.run(["mount", "-o", "remount,ro", str(disk.path)], check=True)
        yield disk.path


def test_a_read_only_logs_directory_is_exit_2_naming_it_and_the_fix(
    read_only_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = run(["run", "--headless", "--data-dir", str(read_only_dir)], capsys)
    assert code == 2 and "Traceback" not in err
    assert f"cannot write the logs directory {read_only_dir / 'logs'}" in err
    assert "Read-only file system" in err and "writable" in err and "--data-dir" in err


def test_a_logs_path_that_is_a_file_is_exit_2_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "logs").write_text("not a directory")
    code, err = run(["demo", "--headless", "--data-dir", str(tmp_path), "--run-for", "1s"],
                    capsys)
    assert code == 2 and "Traceback" not in err
    assert str(tmp_path / "logs") in err and "not a directory" in err


def test_a_data_dir_under_a_file_is_exit_2(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "file").write_text("x")
    code, err = run(["run", "--headless", "--data-dir", str(tmp_path / "file" / "data")],
                    capsys)
    assert code == 2 and "Traceback" not in err and str(tmp_path / "file") in err


def test_scenario_numbers_must_be_finite(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    for bad in ('{"symbols": {"AAPL": {"price": Infinity, "sector": "Tech"}}}',
                '{"symbols": {"AAPL": {"price": NaN, "sector": "Tech"}}}',
                '{"account": {"cash": 1e999}, "symbols": {}}'):
        path = tmp_path / "scenario.json"
        data = json.loads(bad)
        data.setdefault("account", {"cash": 1000})
        data.setdefault("name", "bad")
        path.write_text(json.dumps(data))
        code, err = run(["demo", "--headless", "--scenario", str(path), "--data-dir",
                         str(tmp_path / "d"), "--run-for", "1s"], capsys)
        assert code == 2, err
        assert "finite" in err and "Traceback" not in err
