from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from weekly_er_tui.cli import main
from weekly_er_tui.config import (
    MASK,
    PASSWORD_ENV,
    AppConfig,
    ConfigError,
    load_config,
    parse_config,
    strip_json_comments,
)

ROOT = Path(__file__).resolve().parents[2]

GUIDE_EXAMPLE = """{
  "ib_host": "127.0.0.1",
  "ib_port": 7497,
  "ib_client_id": 7,

  "alerts": {
    "email_enabled": true,
    "email_user": "your_email@gmail.com",
    "email_password": "your_app_password",
    "recipients": ["trader@example.com"]
  },
  /* pasted from the guide's reference section */
  "safety_limits": {
    "max_position_value": 50000,        // Max $ per position
    "max_portfolio_value": 500000,      // Max total portfolio $
    "max_daily_loss": 10000,            // Max daily loss $
    "max_position_concentration": 0.15, // Max 15% in any stock
    "max_sector_concentration": 0.30,   // Max 30% in any sector
    "emergency_stop_loss": 0.10,        // Emergency stop at 10% loss
    "max_positions": 20,                // Max number of positions
    "min_cash_reserve": 10000           // Min cash to maintain
  },
  "connection_monitoring": {
    "heartbeat_interval": 30,           // Heartbeat every 30s
    "max_reconnect_attempts": 5,        // Try 5 times to reconnect
    "reconnect_delay": 10,              // Wait 10s between attempts
    "safety_check_interval": 300        // Safety check every 5 minutes
  }
}
"""


def test_template_is_plain_json_with_the_documented_defaults() -> None:
    data = json.loads((ROOT / "config_template.json").read_text())
    cfg = AppConfig.model_validate(data)
    defaults = AppConfig()
    assert cfg.safety_limits == defaults.safety_limits
    assert cfg.connection_monitoring == defaults.connection_monitoring
    assert (cfg.ib_host, cfg.ib_port, cfg.ib_client_id) == ("127.0.0.1", 7497, 7)
    assert defaults.safety_limits.emergency_stop_loss == 0.10
    assert defaults.safety_limits.max_sector_concentration == 0.30
    assert defaults.connection_monitoring.heartbeat_interval == 30
    assert defaults.alerts.smtp_server == "smtp.gmail.com" and defaults.alerts.smtp_port == 587


def test_guide_example_with_comments_loads() -> None:
    cfg = parse_config(GUIDE_EXAMPLE, env={})
    assert cfg.alerts.email_enabled
    assert cfg.alerts.email_password.get_secret_value() == "your_app_password"
    assert cfg.connection_monitoring.reconnect_delay == 10


def test_comment_markers_inside_strings_are_kept() -> None:
    text = '{"smtp": "http://x/*y*/", // real comment\n "b": "a//b"}'
    assert json.loads(strip_json_comments(text)) == {"smtp": "http://x/*y*/", "b": "a//b"}


def test_three_mistakes_are_all_named() -> None:
    text = json.dumps(
        {"safety_limits": {"max_daily_loss": -5000, "emergency_stop_loss": 10,
                           "max_positon_value": 30000}}
    )
    with pytest.raises(ConfigError) as info:
        parse_config(text, "config.json", env={})
    problems = info.value.problems
    assert problems == [
        "safety_limits.max_daily_loss must be greater than 0 (got -5000)",
        "safety_limits.emergency_stop_loss must be between 0 and 1 (got 10)",
        "safety_limits.max_positon_value: unknown key; did you mean 'max_position_value'?",
    ]


def test_type_errors_name_field_and_value() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config('{"ib_port": "seven", "alerts": {"recipients": ["not-an-address"]}}', env={})
    text = "\n".join(info.value.problems)
    assert "ib_port must be a whole number (got 'seven')" in text
    assert "alerts.recipients: 'not-an-address' is not an email address" in text


def test_invalid_json_reports_line() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config('{\n "ib_port": 7497\n "ib_host": "x"\n}', env={})
    assert info.value.problems[0].startswith("line 3, column 2: not valid JSON")


def test_password_from_environment_is_secret(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text('{"alerts": {"email_user": "me@example.com"}}')
    loaded = load_config(path, env={PASSWORD_ENV: "hunter2-app-pw"})
    cfg = loaded.config
    assert cfg.alerts.email_password.get_secret_value() == "hunter2-app-pw"
    assert "hunter2" not in repr(cfg) and "hunter2" not in str(cfg.model_dump())
    assert cfg.masked()["alerts"]["email_password"] == MASK
    assert loaded.warnings == []  # the secret is not in the file


def test_world_readable_file_with_password_warns(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text('{"alerts": {"email_password": "in-the-file"}}')
    os.chmod(path, 0o644)
    warnings = load_config(path, env={}).warnings
    assert len(warnings) == 1
    assert str(path) in warnings[0] and f"chmod 600 {path}" in warnings[0]
    os.chmod(path, 0o600)
    assert load_config(path, env={}).warnings == []


@pytest.mark.parametrize("port", [7496, 4001])
def test_live_ports_need_allow_live(port: int) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(json.dumps({"ib_port": port}), env={})
    assert 'Set "allow_live": true' in info.value.problems[0]
    assert str(port) in info.value.problems[0]
    cfg = parse_config(json.dumps({"ib_port": port, "allow_live": True}), env={})
    assert cfg.live


@pytest.mark.parametrize("port", [7497, 4002])
def test_paper_ports_need_nothing(port: int) -> None:
    assert not parse_config(json.dumps({"ib_port": port}), env={}).live


def test_check_config_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", str(ROOT / "config_template.json")]) == 0
    out = capsys.readouterr().out
    assert "OK" in out and '"max_daily_loss": 10000' in out

    bad = tmp_path / "bad.json"
    bad.write_text(
        '{"safety_limits": {"max_daily_loss": -1, // oops\n'
        '"max_sector_concentration": 3, "emergncy_stop_loss": 0.1}}'
    )
    assert main(["check-config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "nothing was started" in err
    assert "safety_limits.max_daily_loss must be greater than 0 (got -1)" in err
    assert "safety_limits.max_sector_concentration must be between 0 and 1 (got 3)" in err
    assert "did you mean 'emergency_stop_loss'?" in err


def test_check_config_never_prints_the_password(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "c.json"
    path.write_text('{"alerts": {"email_password": "s3cr3t-pw"}}')
    os.chmod(path, 0o600)
    assert main(["check-config", str(path)]) == 0
    captured = capsys.readouterr()
    assert "s3cr3t-pw" not in captured.out + captured.err
    assert MASK in captured.out


def test_missing_file_says_how_to_create_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "config.json")
    assert "cp config_template.json" in info.value.problems[0]
