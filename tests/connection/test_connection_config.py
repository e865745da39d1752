"""ConnectionConfig is the config file's `ib_*` and `connection_monitoring` keys as one object:
its defaults are the config file's (declared once, in config/), and every key reaches it."""

from __future__ import annotations

from weekly_er_tui.broker.connection_config import ConnectionConfig
from weekly_er_tui.config import parse_config


def test_one_built_by_hand_reaches_the_gateway_as_an_empty_config_file_does() -> None:
    assert ConnectionConfig() == ConnectionConfig.from_config(parse_config("{}", env={}))


def test_every_connection_key_of_the_file_reaches_it() -> None:
    cfg = parse_config("""{
        "ib_host": "10.0.0.5", "ib_port": 4002, "ib_client_id": 31, "account": "DU123",
        "allow_live": true,
        "connection_monitoring": {
            "heartbeat_interval": 11, "heartbeat_timeout": 3, "connect_timeout": 4,
            "max_reconnect_attempts": 9, "reconnect_delay": 2, "slow_retry_interval": 120,
            "client_id_fallback": 2, "gateway_restart_time": "23:45"
        }
    }""", env={})
    assert ConnectionConfig.from_config(cfg) == ConnectionConfig(
        host="10.0.0.5", port=4002, client_id=31, account="DU123", heartbeat_interval=11,
        heartbeat_timeout=3, connect_timeout=4, max_reconnect_attempts=9, reconnect_delay=2,
        slow_retry_interval=120, client_id_fallback=2, allow_live=True,
        gateway_restart_time="23:45",
    )
