"""What the command line says before anything runs is true wherever it is run from: the demo's
--data-dir default is demo-data/, a missing config's hint gives the template's absolute path,
and no config file at all is said loudly (the built-in defaults are not a trader's settings)."""

from __future__ import annotations

import io
import json
import os
import re
from pathlib import Path

import pytest

from tests.alerts.smtp_server import free_port
from weekly_er_tui import cli


def run(*args: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(list(args), out=out, err=err)
    return code, out.getvalue() + err.getvalue()


def test_demo_help_names_its_own_data_directory(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["demo", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--data-dir DIR" in text
    flag = text[text.rindex("--data-dir DIR"):][:120]  # its line under "options"
    assert "demo-data" in flag and "current directory" not in flag, flag


def test_the_missing_config_hint_works_from_any_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, said = run("check-config", "nope.json")
    assert code == 2
    hint = re.search(r"cp (\S+) nope\.json", said)
    assert hint, said
    template = Path(hint.group(1))
    assert template.is_absolute() and template.name == "config_template.json"
    assert json.loads(template.read_text())  # the file is there, and it is the template


def test_no_config_file_is_said_at_start_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert not os.path.exists("config.json")
    code, said = run("check", "connection", "--log-level", "CRITICAL")
    assert code == 1  # nothing listens on the default port 7497 here (or it is refused)
    line = next((x for x in said.splitlines() if "built-in defaults" in x), "")
    assert "no config.json" in line and str(tmp_path) in line, said
    assert "cp " in line and "config_template.json config.json" in line, said

    (tmp_path / "config.json").write_text(json.dumps({"ib_port": free_port()}))
    code, said = run("check", "connection", "--log-level", "CRITICAL")
    assert "built-in defaults" not in said, said
