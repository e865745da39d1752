"""The whole of config.json (AppConfig): the connection to IB, the live guard, the mode
(trade or shadow) and the sections; masked() is what check-config shows."""

from __future__ import annotations

import difflib
from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator

from weekly_er_tui.config.alerts import AlertsConfig, mask_url
from weekly_er_tui.config.connection import (
    LIVE_PORTS,
    MAX_CLIENT_ID,
    ConnectionMonitoring,
    account_is_live,
    live_account_refused,
)
from weekly_er_tui.config.fields import MASK, _fmt, _host, _Section
from weekly_er_tui.config.safety_limits import SafetyLimits
from weekly_er_tui.config.strategy import StrategyConfig

MODES = ("trade", "shadow")


class AppConfig(_Section):
    ib_host: str = "127.0.0.1"
    ib_port: int = Field(7497, ge=1, le=65535)
    ib_client_id: int = Field(7, ge=0, le=MAX_CLIENT_ID)
    account: str | None = None
    allow_live: bool = False
    # Live data, or IB's delayed data (15-20 min old) when the account has no subscription:
    # auto asks live, then delayed after IB's 10089/354/10167/10168 (broker/market_data.py).
    market_data_type: Literal["auto", "live", "delayed", "delayed_frozen"] = "auto"
    # "shadow": the same engine decides everything and sends nothing (broker/sender.py), to
    # run beside the system that trades the account; `run --shadow` says the same.
    mode: Literal["trade", "shadow"] = "trade"
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    safety_limits: SafetyLimits = Field(default_factory=SafetyLimits)
    connection_monitoring: ConnectionMonitoring = Field(default_factory=ConnectionMonitoring)
    strategy: StrategyConfig = Field(default_factory=StrategyConfig)

    @field_validator("ib_host")
    @classmethod
    def _host_named(cls, v: str) -> str:
        return _host(v)

    @field_validator("mode", mode="before")
    @classmethod
    def _mode_named(cls, v: Any) -> Any:
        if v in MODES:
            return v
        close = difflib.get_close_matches(str(v), list(MODES), n=1, cutoff=0.5)
        raise ValueError(
            f"must be {' or '.join(repr(m) for m in MODES)} (got {_fmt(v)})"
            + (f"; did you mean {close[0]!r}?" if close else "")
            + " ('trade' sends orders; 'shadow' decides and journals everything and sends "
            "nothing)"
        )

    @property
    def shadow(self) -> bool:
        return self.mode == "shadow"

    @field_validator("allow_live")
    @classmethod
    def _live_guard(cls, allow_live: bool, info: ValidationInfo) -> bool:
        # A field validator (not a model one) so the guard is reported with every other problem.
        port = info.data.get("ib_port")
        account = info.data.get("account") or ""
        if account and account_is_live(account) and not allow_live:
            raise ValueError(live_account_refused(account))
        # A configured paper account decides for itself; without one the port is all there is
        # before the connect (the account from managedAccounts is checked again then).
        if port in LIVE_PORTS and not allow_live and not account:
            raise ValueError(
                f"ib_port {port} is IB's {LIVE_PORTS[port]} port (real money). "
                'Set "allow_live": true to trade live, or use 7497 (TWS paper) or '
                "4002 (IB Gateway paper)"
            )
        return allow_live

    @property
    def live(self) -> bool:
        """LIVE by the configured account's id; without one, by the port (until the connect
        names the account: EngineState.live then follows the account)."""
        if self.account:
            return account_is_live(self.account)
        return self.ib_port in LIVE_PORTS


    def masked(self) -> dict[str, Any]:
        """The effective configuration as plain data, with every secret masked."""
        data = self.model_dump(mode="json")
        secret = self.alerts.email_password.get_secret_value()
        data["alerts"]["email_password"] = MASK if secret else ""
        for entry, shown in zip(self.alerts.notify, data["alerts"]["notify"], strict=True):
            if entry.url is not None:
                shown["url"] = mask_url(entry.url.get_secret_value())
        return data
