"""config.json: pydantic models, a loader that accepts the documented file, and clear errors.

The enhancement guide's examples carry `//` comments and traders paste them, so the loader strips
`//` and `/* */` comments (outside strings) before parsing. Every problem is reported at once with
its dotted path, the value and what is allowed; a bad config starts nothing.

One module per topic, each importing only those below it (a contract in pyproject.toml):
loading (load_config, parse_config) > reading (bounded JSON text) > errors (problems in words) >
app (AppConfig) > connection | alerts | safety_limits | strategy (the sections) > fields.
Import from here: the modules are how the package is cut, not its interface.
"""

from weekly_er_tui.config.alerts import (
    APPRISE_WIKI,
    NOTIFY_RESERVED_NAMES,
    URL_SCHEME,
    AlertsConfig,
    NotifyConfig,
    mask_url,
)
from weekly_er_tui.config.app import MODES, AppConfig
from weekly_er_tui.config.connection import (
    LIVE_PORTS,
    LIVE_PREFIXES,
    MAX_CLIENT_ID,
    PAPER_PORTS,
    PAPER_PREFIXES,
    ConnectionMonitoring,
    account_is_live,
    live_account_refused,
    port_warning,
)
from weekly_er_tui.config.errors import SECRET_FIELDS, ConfigError, describe_validation_error
from weekly_er_tui.config.fields import MASK, Fraction, Money, Seconds, control_character
from weekly_er_tui.config.loading import PASSWORD_ENV, LoadedConfig, load_config, parse_config
from weekly_er_tui.config.reading import (
    MAX_CONFIG_BYTES,
    MAX_JSON_DEPTH,
    json_depth_problem,
    loads_bounded,
    read_text_bounded,
    strip_json_comments,
)
from weekly_er_tui.config.safety_limits import SafetyLimits
from weekly_er_tui.config.strategy import SESSION_MINUTES, StrategyConfig

__all__ = [
    "APPRISE_WIKI",
    "LIVE_PORTS",
    "LIVE_PREFIXES",
    "MASK",
    "MAX_CLIENT_ID",
    "MAX_CONFIG_BYTES",
    "MAX_JSON_DEPTH",
    "MODES",
    "NOTIFY_RESERVED_NAMES",
    "PAPER_PORTS",
    "PAPER_PREFIXES",
    "PASSWORD_ENV",
    "SECRET_FIELDS",
    "SESSION_MINUTES",
    "URL_SCHEME",
    "AlertsConfig",
    "AppConfig",
    "ConfigError",
    "ConnectionMonitoring",
    "Fraction",
    "LoadedConfig",
    "Money",
    "NotifyConfig",
    "SafetyLimits",
    "Seconds",
    "StrategyConfig",
    "account_is_live",
    "control_character",
    "describe_validation_error",
    "json_depth_problem",
    "live_account_refused",
    "load_config",
    "loads_bounded",
    "mask_url",
    "parse_config",
    "port_warning",
    "read_text_bounded",
    "strip_json_comments",
]
