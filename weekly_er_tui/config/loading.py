"""Loading config.json: parse and validate it, take the e-mail password from the
environment, and warn about secrets that other users can read."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from weekly_er_tui.config.alerts import AlertsConfig
from weekly_er_tui.config.app import AppConfig
from weekly_er_tui.config.errors import ConfigError, describe_validation_error
from weekly_er_tui.config.reading import (
    _bounded_text,
    loads_bounded,
    read_text_bounded,
    strip_json_comments,
)

PASSWORD_ENV = "WEEKLY_ER_EMAIL_PASSWORD"


@dataclass
class LoadedConfig:
    config: AppConfig
    path: Path | None
    warnings: list[str] = field(default_factory=list)



def parse_config(
    text: str, source: str = "config", env: Mapping[str, str] | None = None
) -> AppConfig:
    """Parse and validate config text. Raises ConfigError listing every problem."""
    env = os.environ if env is None else env
    data = loads_bounded(strip_json_comments(_bounded_text(text, source)), source, ConfigError)
    if not isinstance(data, dict):
        raise ConfigError(source, ["the top level must be an object { ... }"])
    env_password = env.get(PASSWORD_ENV)
    if env_password:
        alerts = data.setdefault("alerts", {})
        if isinstance(alerts, dict):
            alerts["email_password"] = env_password
    try:
        return AppConfig.model_validate(data, context={"env": env})
    except ValidationError as exc:
        raise ConfigError(source, describe_validation_error(exc)) from None



def load_config(path: str | Path | None, env: Mapping[str, str] | None = None) -> LoadedConfig:
    """Load `path` (None: defaults only). Raises ConfigError; warnings ride on the result."""
    if path is None:
        return LoadedConfig(parse_config("{}", "defaults", env), None)
    p = Path(path)
    text = read_text_bounded(p, str(p))
    cfg = parse_config(text, str(p), env)
    warnings: list[str] = []
    in_file = _file_has_password(text)
    mode = p.stat().st_mode
    if in_file and mode & (stat.S_IRWXG | stat.S_IRWXO):
        warnings.append(
            f"{p} holds email_password and other users can read it "
            f"(mode {stat.filemode(mode)}); fix with: chmod 600 {p} "
            f"(or move the password to the {PASSWORD_ENV} environment variable)"
        )
    warnings += _readable_notify_tokens(cfg.alerts, p, mode)
    return LoadedConfig(cfg, p, warnings)


def _readable_notify_tokens(alerts: AlertsConfig, path: Path, mode: int) -> list[str]:
    """Warnings for apprise URLs (tokens) in files that other users can read."""
    others = stat.S_IRWXG | stat.S_IRWXO
    out: list[str] = []
    in_config = [f"alerts.notify[{i}].url" for i, e in enumerate(alerts.notify) if e.url]
    if in_config and mode & others:
        out.append(
            f"{path} holds {', '.join(in_config)} (a token) and other users can read it "
            f"(mode {stat.filemode(mode)}); fix with: chmod 600 {path} (or move the URL to "
            "url_env or url_file)"
        )
    for i, entry in enumerate(alerts.notify):
        if entry.url_file:
            f = Path(entry.url_file).expanduser()
            try:
                f_mode = f.stat().st_mode
            except OSError:
                continue  # read at load a moment ago; gone now is the loader's news, not ours
            if f_mode & others:
                out.append(
                    f"alerts.notify[{i}].url_file: {f} holds a token and other users can read "
                    f"it (mode {stat.filemode(f_mode)}); fix with: chmod 600 {f}"
                )
    return out


def _file_has_password(text: str) -> bool:
    try:
        data = json.loads(strip_json_comments(text))
    except (ValueError, RecursionError):
        return False
    alerts = data.get("alerts") if isinstance(data, dict) else None
    return isinstance(alerts, dict) and bool(alerts.get("email_password"))
