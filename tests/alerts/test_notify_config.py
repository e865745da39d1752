"""`alerts.notify`: apprise URLs from the config, an environment variable or a file; the names of
the channels; bad entries as configuration errors naming the entry and the fix; the tokens masked
in `check-config` and in every error."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.alerts.conftest import TOKEN
from weekly_er_tui.alerts import AlertManager, config_problems
from weekly_er_tui.cli import main
from weekly_er_tui.clock import ManualClock
from weekly_er_tui.config import MASK, AppConfig, ConfigError, parse_config
from weekly_er_tui.journal import Journal
from weekly_er_tui.model import Severity

ROOT = Path(__file__).parents[2]
TELEGRAM = f"tgram://123456789:{TOKEN}/987654321"
PUSHOVER = f"pover://u{TOKEN}@a{TOKEN}"


def with_notify(entries: list[dict[str, Any]], env: dict[str, str] | None = None) -> AppConfig:
    return parse_config(json.dumps({"alerts": {"notify": entries}}), env=env or {})


def problems(entries: list[dict[str, Any]], env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        with_notify(entries, env)
    for p in info.value.problems:
        assert TOKEN not in p
    return info.value.problems


def apprise_problems(entries: list[dict[str, Any]],
                     env: dict[str, str] | None = None) -> list[str]:
    """What only apprise can tell: the problems AlertManager (and check-config) report."""
    found = config_problems(with_notify(entries, env).alerts)
    for p in found:
        assert TOKEN not in p
    return found


def test_a_url_from_the_config_an_environment_variable_or_a_file(tmp_path: Path) -> None:
    url_file = tmp_path / "ntfy.url"
    url_file.write_text(f"ntfys://weekly-er-{TOKEN}\n")
    cfg = with_notify(
        [
            {"url": TELEGRAM},
            {"url_env": "WEEKLY_ER_NOTIFY_PUSHOVER", "min_priority": "CRITICAL"},
            {"url_file": str(url_file), "name": "phone", "rate_limit_per_hour": 5},
        ],
        env={"WEEKLY_ER_NOTIFY_PUSHOVER": PUSHOVER},
    )
    telegram, pushover, ntfy = cfg.alerts.notify
    assert [e.secret_url() for e in cfg.alerts.notify] == [
        TELEGRAM, PUSHOVER, f"ntfys://weekly-er-{TOKEN}",
    ]
    assert telegram.min_priority is Severity.HIGH  # the default: HIGH and CRITICAL
    assert pushover.min_priority is Severity.CRITICAL
    assert ntfy.name == "phone" and ntfy.rate_limit_per_hour == 5
    assert TOKEN not in repr(cfg) and TOKEN not in str(cfg.model_dump())


def test_check_config_masks_every_token(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"alerts": {"notify": [
        {"url": TELEGRAM}, {"url_env": "WEEKLY_ER_NOTIFY_PUSHOVER"},
    ]}}))
    os.chmod(path, 0o600)
    os.environ["WEEKLY_ER_NOTIFY_PUSHOVER"] = PUSHOVER
    try:
        assert main(["check-config", str(path)]) == 0
    finally:
        del os.environ["WEEKLY_ER_NOTIFY_PUSHOVER"]
    captured = capsys.readouterr()
    assert TOKEN not in captured.out + captured.err
    shown = json.loads(captured.out.split("\n", 1)[1])["alerts"]["notify"]
    assert shown[0]["url"] == f"tgram://{MASK}"
    assert shown[1]["url_env"] == "WEEKLY_ER_NOTIFY_PUSHOVER" and shown[1]["url"] is None


def test_a_url_apprise_cannot_read_names_the_entry_and_the_fix(tmp_path: Path) -> None:
    [problem] = apprise_problems([{"url": TELEGRAM}, {"url": f"tgram://{TOKEN}"}])
    assert problem.startswith(
        "alerts.notify[1].url: apprise cannot read this tgram:// (Telegram) URL"
    )
    assert "tgram://bottoken/ChatID" in problem  # the form it should have
    # The same through the command a trader runs, in a process of its own (no test logging):
    # apprise logs "Unparseable Telegram URL tgram://<token>" as an ERROR, which Python would
    # print on stderr.
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"alerts": {"notify": [{"url": f"tgram://{TOKEN}"}]}}))
    os.chmod(path, 0o600)
    done = subprocess.run([sys.executable, "-m", "weekly_er_tui.cli", "check-config", str(path)],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 2, done.stdout + done.stderr
    assert "alerts.notify[0].url: apprise cannot read" in done.stderr
    assert TOKEN not in done.stdout + done.stderr


def test_an_unknown_service_says_which_schemes_there_are() -> None:
    [problem] = apprise_problems([{"url": f"telegram://{TOKEN}/1"}])
    assert problem.startswith("alerts.notify[0].url: 'telegram://' is no service apprise knows")
    assert "tgram://" in problem and "pover://" in problem and "ntfys://" in problem


def test_a_url_needs_a_scheme() -> None:
    [problem] = problems([{"url": TOKEN}])
    assert problem.startswith("alerts.notify[0].url: not an apprise URL")


def test_exactly_one_of_url_url_env_url_file() -> None:
    [both] = problems([{"url": TELEGRAM, "url_env": "WEEKLY_ER_NOTIFY_TELEGRAM"}],
                      env={"WEEKLY_ER_NOTIFY_TELEGRAM": TELEGRAM})
    assert both.startswith("alerts.notify[0]: give exactly one of url, url_env or url_file "
                           "(got url and url_env)")
    [none] = problems([{"min_priority": "HIGH"}])
    assert none.startswith("alerts.notify[0]: give exactly one of url, url_env or url_file")


def test_an_unset_environment_variable_or_unreadable_file_names_it(tmp_path: Path) -> None:
    missing = tmp_path / "nope.url"
    env_problem, file_problem = problems(
        [{"url_env": "WEEKLY_ER_NOTIFY_TELEGRAM"}, {"url_file": str(missing)}]
    )
    assert env_problem.startswith(
        "alerts.notify[0].url_env: the environment variable WEEKLY_ER_NOTIFY_TELEGRAM is not "
        "set"
    )
    assert file_problem.startswith(f"alerts.notify[1].url_file: cannot read {missing}")
    [bad_env] = apprise_problems([{"url_env": "WEEKLY_ER_NOTIFY_TELEGRAM"}],
                                 env={"WEEKLY_ER_NOTIFY_TELEGRAM": f"tgram://{TOKEN}"})
    assert bad_env.startswith(
        "alerts.notify[0].url_env: the URL in WEEKLY_ER_NOTIFY_TELEGRAM: apprise cannot read"
    )


def test_channel_names_default_to_the_service(journal: Journal, clock: ManualClock) -> None:
    cfg = with_notify([
        {"url": TELEGRAM}, {"url": PUSHOVER}, {"url": f"ntfys://weekly-er-{TOKEN}"},
        {"url": "json://127.0.0.1:9/hook"}, {"url": TELEGRAM, "name": "pager"},
        {"url": TELEGRAM},
    ])
    manager = AlertManager(cfg.alerts, journal, clock)
    assert [ch.name for ch in manager.channels] == [
        "telegram", "pushover", "ntfy", "json", "pager", "telegram-2",
    ]


def test_names_are_unique_and_not_email_or_sms() -> None:
    [dup] = problems([{"url": TELEGRAM, "name": "phone"}, {"url": PUSHOVER, "name": "phone"}])
    assert dup.startswith("alerts.notify: 'phone' is the name of both alerts.notify[0] and "
                          "alerts.notify[1]")
    [reserved] = problems([{"url": PUSHOVER, "name": "sms"}])
    assert reserved.startswith("alerts.notify[0].name: 'sms' is the name of a built-in channel")


def test_a_token_other_users_can_read_is_warned_about(tmp_path: Path) -> None:
    from weekly_er_tui.config import load_config

    url_file = tmp_path / "pushover.url"
    url_file.write_text(PUSHOVER)
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"alerts": {"notify": [
        {"url": TELEGRAM}, {"url_file": str(url_file)},
    ]}}))
    os.chmod(path, 0o644)
    os.chmod(url_file, 0o640)
    in_config, in_file = load_config(path, env={}).warnings
    assert in_config.startswith(f"{path} holds alerts.notify[0].url (a token)")
    assert f"chmod 600 {path}" in in_config and "url_env or url_file" in in_config
    assert in_file.startswith(f"alerts.notify[1].url_file: {url_file} holds a token and other "
                              "users can read it")
    assert f"chmod 600 {url_file}" in in_file
    os.chmod(path, 0o600)
    os.chmod(url_file, 0o600)
    assert load_config(path, env={}).warnings == []


def test_a_url_apprise_cannot_read_leaves_its_token_in_no_log(
    tmp_path: Path, journal: Journal, clock: ManualClock
) -> None:
    # apprise's Slack plugin logs "An invalid Slack (first) Token (<token>) was specified." as a
    # WARNING; with the product's log file (and a console) set up, it would land there as it is.
    from tests.alerts.test_smtp import grep_tree
    from weekly_er_tui.alerts import AlertConfigError
    from weekly_er_tui.journal import remove_handlers, setup_logging

    console = tmp_path / "console.txt"
    with console.open("w") as stream:
        handlers = setup_logging(tmp_path, "DEBUG", clock, console=stream)
        try:
            alerts = with_notify([{"url_env": "WEEKLY_ER_NOTIFY_SLACK"}],
                                 env={"WEEKLY_ER_NOTIFY_SLACK": f"slack://{TOKEN}"}).alerts
            with pytest.raises(AlertConfigError) as info:
                AlertManager(alerts, journal, clock)
        finally:
            remove_handlers(handlers)
    files, leaks = grep_tree(tmp_path, [TOKEN])
    assert console in files and leaks == []
    log_text = (tmp_path / "logs" / "enhanced_trading.log").read_text()
    assert "An invalid Slack (first) Token" in log_text  # apprise's line arrived, scrubbed
    problem = str(info.value)
    assert problem.startswith("alerts.notify[0].url_env: the URL in WEEKLY_ER_NOTIFY_SLACK: "
                              "apprise cannot read this slack:// (Slack) URL (An invalid Slack")
    assert TOKEN not in problem and MASK in problem


def test_a_wrong_key_or_value_in_an_entry_is_named_with_the_fix() -> None:
    typo, low = problems([{"url": TELEGRAM, "nme": "phone"},
                          {"url": TELEGRAM, "rate_limit_per_hour": 0}])
    assert typo == "alerts.notify[0].nme: unknown key; did you mean 'name'?"
    assert low == "alerts.notify[1].rate_limit_per_hour must be at least 1 (got 0)"


def test_pydantic_own_error_text_never_quotes_the_url() -> None:
    from pydantic import ValidationError

    from weekly_er_tui.config import AlertsConfig

    with pytest.raises(ValidationError) as info:
        AlertsConfig.model_validate({"notify": [{"url": f"no-scheme-{TOKEN}"}]})
    assert "not an apprise URL" in str(info.value)
    assert TOKEN not in str(info.value)
