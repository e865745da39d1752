"""Scenario files: the account, symbols, positions, earnings calendar and fault timeline of a run.

A scenario is one JSON file (format in SCENARIOS.md). `load_scenario("demo")` loads a built-in,
`load_scenario("path/to/file.json")` a file; a bad scenario raises `ScenarioError` naming every
problem by entry and field, e.g. `timeline[3].action: unknown action 'stal' (did you mean
'stall'?)`.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from weekly_er_tui.clock import ET, parse_instant
from weekly_er_tui.config import ConfigError, json_depth_problem, read_text_bounded
from weekly_er_tui.sim.market import Instrument
from weekly_er_tui.sim.realism import Realism
from weekly_er_tui.sim.scenario_problems import describe, reference_problems, suggest

BUILTIN = ("demo",)

CONNECTIVITY_CODES = (1100, 1101, 1102, 2103, 2104, 2105, 2106, 2110, 2157, 2158)
RESTORE_CODES = {1100: 1102, 2110: 1102, 2103: 2104, 2105: 2106, 2157: 2158}

# action -> (required params, optional params)
ACTIONS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "drop": (frozenset(), frozenset()),
    "refuse": (frozenset(), frozenset({"duration"})),
    "accept": (frozenset(), frozenset()),
    "stall": (frozenset(), frozenset({"duration"})),
    "unstall": (frozenset(), frozenset()),
    "delay": (frozenset({"seconds"}), frozenset({"duration"})),
    "reject": (frozenset(), frozenset({"count", "reason", "symbol", "duration"})),
    "partial_fills": (frozenset({"parts"}), frozenset({"interval", "duration"})),
    "connectivity": (frozenset({"code"}), frozenset({"duration", "restore_code"})),
    "price_shock": (frozenset({"pct"}), frozenset({"symbol", "sector"})),
    "fill_external": (frozenset({"symbol", "quantity"}), frozenset({"price"})),
    # Row 6: the gateway's daily auto-restart (every client dropped, connects refused for the
    # duration, 2-3 minutes) and the weekly re-login (refused until a person logs in: `login`).
    "restart": (frozenset(), frozenset({"duration"})),
    "relogin_outage": (frozenset(), frozenset()),
    "login": (frozenset(), frozenset()),
}
PARAMS = (
    "duration", "seconds", "count", "reason", "symbol", "sector", "parts", "interval", "code",
    "restore_code", "pct", "quantity", "price",
)  # fmt: skip

_SPAN_RE = re.compile(
    r"^(?:(\d+(?:\.\d+)?)d)?(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?$"
)
_SYMBOL_RE = re.compile(r"^[A-Z][A-Z0-9.\-]{0,9}$")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")


MAX_SCENARIO_BYTES = 10_000_000
MAX_SCENARIO_DEPTH = 32


class ScenarioError(ValueError):
    """A scenario that cannot be used; the message lists every problem, one a line."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or [message]


def parse_span(value: str | float | int) -> float:
    """Seconds from `90`, `"90s"`, `"5m"`, `"1h30m"` or `"2d"`."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration")
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise ValueError(f"a duration must be a finite number (got {value})")
        if value < 0:
            raise ValueError(f"a duration must not be negative (got {value})")
        return float(value)
    text = value.strip().lower().replace(" ", "")
    m = _SPAN_RE.match(text)
    if not text or not m or not any(m.groups()):
        raise ValueError(f"{value!r} is not a duration; use e.g. 90, '90s', '5m', '1h30m', '2d'")
    d, h, mi, s = (float(g) if g else 0.0 for g in m.groups())
    total = d * 86400 + h * 3600 + mi * 60 + s
    if not math.isfinite(total):
        raise ValueError(f"{value!r} is not a finite duration")
    return total


class _Model(BaseModel):
    # Infinity, NaN and 1e999 parse as JSON numbers; no price, cash or duration is one.
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class AccountSpec(_Model):
    id: str = "DU1234567"
    cash: float = Field(ge=0)
    currency: Literal["USD"] = "USD"


class SymbolSpec(_Model):
    price: float = Field(gt=0)
    sector: str = Field(min_length=1)
    industry: str = ""
    subcategory: str = ""
    volatility: float = Field(default=0.30, gt=0, le=5)
    exchange: str = "NYSE"
    name: str = ""
    con_id: int | None = Field(default=None, gt=0)
    avg_volume: float = Field(default=2_000_000, gt=0)


class PositionSpec(_Model):
    symbol: str
    quantity: float
    avg_cost: float = Field(gt=0)

    @field_validator("quantity")
    @classmethod
    def _nonzero(cls, v: float) -> float:
        if v == 0:
            raise ValueError("must not be 0 (leave the position out instead)")
        return v


class EarningsSpec(_Model):
    symbol: str
    date: dt.date | None = None
    weekday: str | None = None
    timing: Literal["BMO", "AMC", ""] = ""

    @field_validator("weekday")
    @classmethod
    def _weekday(cls, v: str | None) -> str | None:
        if v is None:
            return v
        low = v.lower()[:3]
        if low not in WEEKDAYS:
            raise ValueError(f"unknown weekday {v!r}; use one of {', '.join(WEEKDAYS)}")
        return low

    @model_validator(mode="after")
    def _one_date(self) -> EarningsSpec:
        if (self.date is None) == (self.weekday is None):
            raise ValueError("give exactly one of 'date' (YYYY-MM-DD) or 'weekday' (mon..fri)")
        return self


class TimelineEntry(_Model):
    at: str | float
    action: str
    duration: str | float | None = None
    seconds: float | None = Field(default=None, ge=0)
    count: int | None = Field(default=None, ge=1)
    reason: str | None = None
    symbol: str | None = None
    sector: str | None = None
    parts: int | None = Field(default=None, ge=1)
    interval: str | float | None = None
    code: int | None = None
    restore_code: int | None = None
    pct: float | None = Field(default=None, gt=-100)
    quantity: float | None = None
    price: float | None = Field(default=None, gt=0)

    @field_validator("at")
    @classmethod
    def _at(cls, v: str | float) -> str | float:
        if isinstance(v, str) and v.strip().startswith("+"):
            parse_span(v.strip()[1:])
        elif isinstance(v, str):
            parse_instant(v)
        else:
            parse_span(v)
        return v

    @field_validator("action")
    @classmethod
    def _action(cls, v: str) -> str:
        if v not in ACTIONS:
            raise ValueError(f"unknown action {v!r}{suggest(v, tuple(ACTIONS))}")
        return v

    @field_validator("duration", "interval")
    @classmethod
    def _span(cls, v: str | float | None) -> str | float | None:
        if v is not None:
            parse_span(v)
        return v

    @field_validator("code", "restore_code")
    @classmethod
    def _code(cls, v: int | None) -> int | None:
        if v is not None and v not in CONNECTIVITY_CODES:
            raise ValueError(
                f"{v} is not a connectivity code; use one of "
                + ", ".join(str(c) for c in CONNECTIVITY_CODES)
            )
        return v

    @model_validator(mode="after")
    def _params(self) -> TimelineEntry:
        spec = ACTIONS.get(self.action)
        if spec is None:
            return self
        required, optional = spec
        problems = []
        for name in PARAMS:
            given = getattr(self, name) is not None
            if name in required and not given:
                problems.append(f"{name}: required for action {self.action!r}")
            elif given and name not in required and name not in optional:
                allowed = ", ".join(sorted(required | optional)) or "no parameters"
                problems.append(f"{name}: not a parameter of {self.action!r} (it takes {allowed})")
        if self.action == "price_shock" and self.symbol and self.sector:
            problems.append("sector: give a symbol or a sector, not both")
        if self.action == "fill_external" and self.quantity == 0:
            problems.append("quantity: must not be 0")
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def instant(self, start: datetime) -> datetime:
        """When this entry happens, for a gateway started at `start`."""
        if isinstance(self.at, str) and self.at.strip().startswith("+"):
            return start + timedelta(seconds=parse_span(self.at.strip()[1:]))
        if isinstance(self.at, str):
            return parse_instant(self.at)
        return start + timedelta(seconds=float(self.at))

    @property
    def duration_seconds(self) -> float | None:
        return None if self.duration is None else parse_span(self.duration)

    @property
    def interval_seconds(self) -> float:
        return 0.0 if self.interval is None else parse_span(self.interval)


@dataclass(frozen=True, slots=True)
class EarningsEvent:
    symbol: str
    date: dt.date
    timing: str


class Scenario(_Model):
    """A whole scenario; see SCENARIOS.md."""

    name: str = ""
    description: str = ""
    seed: int | None = None
    account: AccountSpec
    symbols: dict[str, SymbolSpec] = Field(min_length=1)
    positions: list[PositionSpec] = []
    earnings: list[EarningsSpec] = []
    timeline: list[TimelineEntry] = []
    # The realism profile and its overrides (sim/realism.py): {"profile": "real", ...}.
    realism: dict[str, Any] = {}

    def realism_profile(self) -> Realism:
        return Realism.from_spec(self.realism)

    @field_validator("realism")
    @classmethod
    def _realism(cls, v: dict[str, Any]) -> dict[str, Any]:
        Realism.from_spec(v)  # every mistake named now, with its field
        return v

    @field_validator("symbols")
    @classmethod
    def _symbol_names(cls, v: dict[str, SymbolSpec]) -> dict[str, SymbolSpec]:
        bad = [s for s in v if not _SYMBOL_RE.match(s)]
        if bad:
            raise ValueError(
                "symbols must be upper-case tickers like 'AAPL' or 'BRK.B' (got "
                + ", ".join(repr(b) for b in bad)
                + ")"
            )
        return v

    @model_validator(mode="after")
    def _references(self) -> Scenario:
        problems = reference_problems(self.model_dump())
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def instruments(self) -> list[Instrument]:
        return [
            Instrument(
                symbol=sym,
                price=s.price,
                volatility=s.volatility,
                sector=s.sector,
                industry=s.industry,
                subcategory=s.subcategory,
                exchange=s.exchange,
                name=s.name,
                con_id=s.con_id or 0,
                avg_volume=s.avg_volume,
            )
            for sym, s in self.symbols.items()
        ]

    def earnings_for_week(self, now: datetime) -> list[EarningsEvent]:
        """The earnings calendar, with weekday entries placed in the week of `now` (US Eastern).

        On a Saturday or Sunday "the week" is the coming one, so a demo started at the weekend
        shows the week it is about to trade. A weekday that is an NYSE holiday moves to the
        nearest session of that week (the day before first).
        """
        from weekly_er_tui.sim.nyse import nyse_sessions

        sessions = nyse_sessions()
        today = now.astimezone(ET).date()
        monday = today - timedelta(days=today.weekday())
        if today.weekday() >= 5:
            monday += timedelta(days=7)
        week = [monday + timedelta(days=k) for k in range(5)]
        trading = [d for d in week if sessions.index_of_date(d) is not None]
        out = []
        for e in self.earnings:
            if e.date is not None:
                when = e.date
            else:
                when = week[WEEKDAYS.index(e.weekday or "mon")]
                if when not in trading and trading:
                    # a holiday (Thanksgiving Thursday, a Monday holiday): the nearest session
                    # of the same week, earlier first, so the demo stays tradable every week
                    asked = when
                    when = min(trading, key=lambda d: (abs((d - asked).days), d > asked))
            out.append(EarningsEvent(e.symbol, when, e.timing))
        return sorted(out, key=lambda x: (x.date, x.timing != "BMO", x.symbol))

    def earnings_csv(self, now: datetime) -> str:
        """The week's calendar as CSV: symbol,date,timing (one header line)."""
        lines = ["symbol,date,timing"]
        lines += [
            f"{e.symbol},{e.date.isoformat()},{e.timing}" for e in self.earnings_for_week(now)
        ]
        return "\n".join(lines) + "\n"


_KNOWN_FIELDS = sorted(
    set(Scenario.model_fields)
    | set(AccountSpec.model_fields)
    | set(SymbolSpec.model_fields)
    | set(PositionSpec.model_fields)
    | set(EarningsSpec.model_fields)
    | set(TimelineEntry.model_fields)
)


def parse_scenario(data: Any, source: str = "scenario") -> Scenario:
    """Validate already-parsed JSON; raises ScenarioError listing every problem."""
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        problems = describe(exc, _KNOWN_FIELDS)
    # The cross-references wait for every field to be right in pydantic: said now all the same.
    problems += [p for p in reference_problems(data) if p not in problems]
    count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
    raise ScenarioError(
        f"{source} is not a valid scenario ({count}):\n  " + "\n  ".join(problems), problems
    )


def load_scenario(name_or_path: str | Path) -> Scenario:
    """A built-in scenario by name (`demo`) or a scenario JSON file by path."""
    text: str
    source = str(name_or_path)
    if isinstance(name_or_path, str) and name_or_path in BUILTIN:
        text = (
            resources.files("weekly_er_tui.sim")
            .joinpath(f"scenarios/{name_or_path}.json")
            .read_text()
        )
        source = f"built-in scenario {name_or_path!r}"
    else:
        path = Path(name_or_path)
        if not path.is_file():
            raise ScenarioError(
                f"unknown scenario {source!r}: not a built-in ({', '.join(BUILTIN)}) "
                "and no such file"
            )
        try:
            text = read_text_bounded(path, source, MAX_SCENARIO_BYTES)
        except ConfigError as exc:
            raise ScenarioError(f"cannot read scenario {source}: {exc.problems[0]}") from None
    deep = json_depth_problem(text, MAX_SCENARIO_DEPTH)
    if deep:
        raise ScenarioError(f"{source} is not a usable scenario: {deep}")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ScenarioError(
            f"{source} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except (RecursionError, ValueError) as exc:
        raise ScenarioError(f"{source} is not valid JSON: {exc}") from None
    return parse_scenario(data, source)


def demo_scenario() -> Scenario:
    return load_scenario("demo")
