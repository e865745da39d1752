"""Where IB is and which account is real money: ports and account ids, the live guard's
words, and the connection_monitoring section."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import Field, field_validator

from weekly_er_tui.config.fields import Seconds, _Section

LIVE_PORTS = {7496: "TWS live", 4001: "IB Gateway live"}
PAPER_PORTS = {7497: "TWS paper", 4002: "IB Gateway paper"}
# IB's account ids say what they are (notes row 18): paper DU (DF: an advisor's paper account),
# live U (individual), F (advisor), I (introducing broker). Ports are only conventions.
PAPER_PREFIXES = ("DU", "DF")
LIVE_PREFIXES = ("U", "F", "I")


def account_is_live(account: str) -> bool:
    """Whether an IB account id is a live (real money) account. An id that is not a known paper
    id counts as live: a guard that errs must err on the side of real money."""
    return not account.strip().upper().startswith(PAPER_PREFIXES)


def port_warning(account: str, port: int) -> str:
    """A warning when the port's convention says otherwise than the account (a paper account on
    7496, a live one on 7497 or behind a Docker or tunnel port); "" when they agree."""
    live = account_is_live(account)
    if live and port not in LIVE_PORTS:
        where = f"IB's {PAPER_PORTS[port]}" if port in PAPER_PORTS else "a non-standard"
        return (f"account {account} is LIVE although ib_port {port} is {where} port: the "
                "account decides, this is real money")
    if not live and port in LIVE_PORTS:
        return (f"account {account} is a paper account although ib_port {port} is IB's "
                f"{LIVE_PORTS[port]} port: the account decides")
    return ""


def live_account_refused(account: str) -> str:
    """The error for a live account seen without allow_live."""
    return (
        f"account {account} is a LIVE account (real money; paper ids start with DU or DF). "
        'Set "allow_live": true in config.json to trade it, or connect to a paper account'
    )

MAX_CLIENT_ID = 2**31 - 1  # IB's clientId is a signed 32-bit integer


class ConnectionMonitoring(_Section):
    heartbeat_interval: Seconds = 30.0
    heartbeat_timeout: Seconds = 10.0
    connect_timeout: Seconds = 10.0
    max_reconnect_attempts: int = Field(5, ge=1, le=10_000)
    reconnect_delay: Annotated[float, Field(ge=0)] = 10.0
    slow_retry_interval: Seconds = 60.0
    safety_check_interval: Seconds = 300.0
    # When the clientId is in use (error 326), try up to this many next ids (0: don't).
    client_id_fallback: int = Field(0, ge=0, le=20)
    # The gateway's daily auto-restart, "HH:MM" US Eastern as set in TWS or IBC (None: not
    # set). An outage starting then (to +10 min) is expected: INFO, reconnecting until it is back.
    gateway_restart_time: str | None = None

    @field_validator("gateway_restart_time")
    @classmethod
    def _restart_hhmm(cls, v: str | None) -> str | None:
        m = re.fullmatch(r"(\d{1,2}):(\d{2})", v.strip()) if v is not None else None
        if v is not None and (not m or int(m[1]) > 23 or int(m[2]) > 59):
            raise ValueError(
                f"must be a time HH:MM in America/New_York, as set in TWS or IBC (got {v!r})"
            )
        return v

