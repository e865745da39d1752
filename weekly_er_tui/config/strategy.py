"""The strategy section: the week's entries, their sizing and the Friday close's timing."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from weekly_er_tui.config.fields import _Section

# The Friday close must start inside a regular session (09:30-16:00 ET): an offset as long as
# the session or longer would put it before the open, or (1e9) never.
SESSION_MINUTES = 390


class StrategyConfig(_Section):
    enabled: bool = True
    calendar_file: str | None = None
    entry_time: str = "10:00"
    sizing: Literal["fixed", "volatility"] = "fixed"
    notional_per_position: Annotated[float, Field(gt=0)] = 10_000
    risk_budget: Annotated[float, Field(gt=0)] = 200
    # Volatility sizing: how many daily returns (so one more daily close) the volatility uses.
    volatility_lookback: int = Field(20, ge=10, le=250)
    close_offset_minutes: Annotated[float, Field(gt=0, lt=SESSION_MINUTES)] = 15
    backup_offset_minutes: Annotated[float, Field(gt=0, lt=SESSION_MINUTES)] = 5

    @field_validator("entry_time")
    @classmethod
    def _hhmm(cls, v: str) -> str:
        m = re.fullmatch(r"(\d{1,2}):(\d{2})", v)
        if not m or int(m[1]) > 23 or int(m[2]) > 59:
            raise ValueError(f"must be a time HH:MM in America/New_York, e.g. 10:00 (got {v!r})")
        return v

    @model_validator(mode="after")
    def _offsets(self) -> StrategyConfig:
        if self.backup_offset_minutes >= self.close_offset_minutes:
            raise ValueError(
                "backup_offset_minutes must be smaller than close_offset_minutes "
                f"(got {self.backup_offset_minutes:g} and {self.close_offset_minutes:g}): the "
                "emergency backup runs after the Friday close starts"
            )
        return self
