"""Every value in config.json checked once, in config/: non-finite numbers, booleans where
numbers belong, integers out of range, control characters and NUL, empty hosts, absurd nesting
or size, other encodings, offsets beyond the session; a type error never echoes a secret."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from weekly_er_tui.config import ConfigError, load_config, parse_config


def problems(data: dict[str, Any] | str) -> list[str]:
    text = data if isinstance(data, str) else json.dumps(data)
    with pytest.raises(ConfigError) as err:
        parse_config(text, "config.json", env={})
    return err.value.problems


def one(data: dict[str, Any] | str) -> str:
    found = problems(data)
    assert len(found) == 1, found
    return found[0]


@pytest.mark.parametrize("text, field", [
    ('{"safety_limits": {"max_daily_loss": Infinity}}', "safety_limits.max_daily_loss"),
    ('{"safety_limits": {"max_daily_loss": 1e999}}', "safety_limits.max_daily_loss"),
    ('{"safety_limits": {"max_position_value": Infinity}}', "safety_limits.max_position_value"),
    ('{"safety_limits": {"max_position_value": 1e999}}', "safety_limits.max_position_value"),
    ('{"connection_monitoring": {"heartbeat_interval": Infinity}}',
     "connection_monitoring.heartbeat_interval"),
    ('{"safety_limits": {"emergency_stop_loss": NaN}}', "safety_limits.emergency_stop_loss"),
    ('{"strategy": {"notional_per_position": -Infinity}}', "strategy.notional_per_position"),
])
def test_non_finite_numbers_are_refused(text: str, field: str) -> None:
    msg = one(text)
    assert msg.startswith(field) and "finite number" in msg


@pytest.mark.parametrize("data, field", [
    ({"ib_port": True}, "ib_port"),
    ({"ib_client_id": False}, "ib_client_id"),
    ({"safety_limits": {"max_daily_loss": True}}, "safety_limits.max_daily_loss"),
    ({"alerts": {"smtp_port": True}}, "alerts.smtp_port"),
    ({"connection_monitoring": {"heartbeat_timeout": True}},
     "connection_monitoring.heartbeat_timeout"),
])
def test_a_boolean_is_not_a_number(data: dict[str, Any], field: str) -> None:
    msg = one(data)
    assert msg.startswith(field) and "must be a number, not" in msg


@pytest.mark.parametrize("data, field, words", [
    ({"ib_port": 99999}, "ib_port", "between 1 and 65535"),
    ({"ib_port": 0}, "ib_port", "between 1 and 65535"),
    ({"alerts": {"smtp_port": 70000}}, "alerts.smtp_port", "between 1 and 65535"),
    ({"ib_client_id": 2**40}, "ib_client_id", "between 0 and 2147483647"),
    ({"strategy": {"close_offset_minutes": 1e9}}, "strategy.close_offset_minutes", "390"),
    ({"strategy": {"close_offset_minutes": 400, "backup_offset_minutes": 300}},
     "strategy.", "390"),
])
def test_integers_and_offsets_out_of_range(data: dict[str, Any], field: str,
                                           words: str) -> None:
    found = problems(data)
    assert any(p.startswith(field) and words in p for p in found), found


@pytest.mark.parametrize("data, field", [
    ({"ib_host": ""}, "ib_host"),
    ({"ib_host": "   "}, "ib_host"),
    ({"ib_host": "127.0.0.1\u0000"}, "ib_host"),
    ({"ib_host": "127.0.0.1\n"}, "ib_host"),
    ({"alerts": {"smtp_server": ""}}, "alerts.smtp_server"),
    ({"account": "DU1\u0000"}, "account"),
    ({"alerts": {"recipients": ["a@b.com\u0007"]}}, "alerts.recipients"),
    ({"safety_limits": {"sector_overrides": {"AAPL": "Tech\u001b[31m"}}},
     "safety_limits.sector_overrides"),
])
def test_empty_hosts_and_control_characters(data: dict[str, Any], field: str) -> None:
    msg = one(data)
    assert msg.startswith(field), msg


@pytest.mark.parametrize("password", [12345, 3.5, ["hunter2-in-a-list"], {"x": "hunter2-obj"}])
def test_a_wrong_type_of_password_is_never_echoed(password: Any) -> None:
    msg = one({"alerts": {"email_password": password}})
    assert msg.startswith("alerts.email_password")
    for secret in ("12345", "3.5", "hunter2"):
        assert secret not in msg, msg


def test_a_password_inside_a_wrong_section_is_never_echoed() -> None:
    msg = " ".join(problems({"alerts": {"email_password": "hunter2", "smtp_port": "x",
                                        "recipients": "nope", "email_enabled": True}}))
    assert "hunter2" not in msg


def test_absurd_nesting_is_one_clear_problem() -> None:
    msg = one('{"alerts": ' + "[" * 100_000 + "]" * 100_000 + "}")
    assert "nested more than" in msg


def test_an_absurd_size_is_one_clear_problem(tmp_path: Path) -> None:
    big = tmp_path / "config.json"
    big.write_text('{"account": "' + "x" * 2_000_000 + '"}')
    with pytest.raises(ConfigError) as err:
        load_config(big, env={})
    assert "bytes" in err.value.problems[0] and "right file" in err.value.problems[0]


def test_a_latin1_file_is_one_clear_problem(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_bytes('{"account": "M\u00fcller"}'.encode("latin-1"))
    with pytest.raises(ConfigError) as err:
        load_config(path, env={})
    assert err.value.problems == [
        "not UTF-8 text (byte 0xfc at position 14); save the file as UTF-8"]


def test_a_directory_is_one_clear_problem(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(tmp_path, env={})
    assert "cannot read it" in err.value.problems[0]


def test_the_documented_template_still_loads() -> None:
    root = Path(__file__).resolve().parents[2]
    loaded = load_config(root / "config_template.json", env={})
    assert loaded.config.ib_port == 7497


def check_config(tmp_path: Path, data: dict[str, Any]) -> tuple[int, str, str]:
    import io

    from weekly_er_tui import cli

    path = tmp_path / "config.json"
    path.write_text(json.dumps(data))
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(["check-config", str(path)], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_check_config_fails_a_calendar_file_that_does_not_exist(tmp_path: Path) -> None:
    code, out, err = check_config(tmp_path, {"strategy": {
        "calendar_file": str(tmp_path / "missing.csv")}})
    assert code == 2 and "OK" not in out
    assert "strategy.calendar_file" in err and "no such file" in err


def test_check_config_fails_a_calendar_with_bad_rows(tmp_path: Path) -> None:
    cal = tmp_path / "calendar.csv"
    cal.write_text("symbol,report_date,timing\nAAPL,2026-11-19,AMC\n" + "".join(
        f"BAD{i},2026-13-{i:02d},XYZ\n" for i in range(1, 8)))
    code, out, err = check_config(tmp_path, {"strategy": {"calendar_file": str(cal)}})
    assert code == 2 and "OK" not in out
    assert sum("BAD" in line or "line" in line for line in err.splitlines()) >= 7, err


def test_check_config_fails_unknown_alert_kinds_and_missing_templates(tmp_path: Path) -> None:
    code, _, err = check_config(tmp_path, {"alerts": {
        "priorities": {"no_such_kind": "HIGH"},
        "body_template": str(tmp_path / "no-template.txt")}})
    assert code == 2 and "no_such_kind" in err and "no-template.txt" in err


def test_check_config_ok_means_run_starts(tmp_path: Path) -> None:
    cal = tmp_path / "calendar.csv"
    cal.write_text("symbol,report_date,timing\nAAPL,2026-11-19,AMC\n")
    code, out, err = check_config(tmp_path, {"strategy": {"calendar_file": str(cal)}})
    assert code == 0, err
    assert "OK" in out
