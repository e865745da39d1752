"""What every section of config.json shares: a strict base (no unknown keys, no booleans
as numbers, no control characters in text), the value types, and how a value is quoted in a
problem."""

from __future__ import annotations

import json
import os
import re
import typing
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

MASK = "********"

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _numeric(annotation: Any) -> bool:
    """Whether a field holds a number (int, float, optionally None), Annotated or not."""
    if annotation in (int, float):
        return True
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) is Annotated:
        return _numeric(args[0])
    return bool(args) and all(_numeric(a) or a is type(None) for a in args) and any(
        _numeric(a) for a in args)


def control_character(value: str) -> str | None:
    """'NUL at position 9' for the first control character in `value`, else None."""
    m = _CONTROL.search(value)
    if m is None:
        return None
    name = "NUL" if m[0] == "\x00" else f"control character {m[0]!r}"
    return f"{name} at position {m.start()}"


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [x for v in value for x in _strings(v)]
    if isinstance(value, dict):
        return [x for k, v in value.items() for x in (*_strings(k), *_strings(v))]
    return []


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True,
                              allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _plain_values(cls, v: Any, info: ValidationInfo) -> Any:
        """A number is a number (JSON's true is not port 1), text has no control characters."""
        name = info.field_name or ""
        field_info = cls.model_fields.get(name)
        if isinstance(v, bool) and field_info is not None and _numeric(field_info.annotation):
            raise ValueError(f"must be a number, not {'true' if v else 'false'}")
        if not isinstance(v, dict) or field_info is None or not (
                isinstance(field_info.annotation, type)
                and issubclass(field_info.annotation, BaseModel)):
            for text in _strings(v):
                found = control_character(text)
                if found:
                    raise ValueError(f"must not contain a control character or NUL ({found})")
        return v


Money = Annotated[float, Field(ge=0)]
Fraction = Annotated[float, Field(gt=0, le=1)]
Seconds = Annotated[float, Field(gt=0)]


def _environment(info: ValidationInfo) -> Mapping[str, str]:
    """The environment parse_config was given (tests pass their own), else the process's."""
    context = info.context
    env = context.get("env") if isinstance(context, dict) else None
    return env if isinstance(env, Mapping) else os.environ


def _host(v: str) -> str:
    if not v.strip():
        raise ValueError("must name a host, e.g. 127.0.0.1 (got an empty string)")
    if v != v.strip() or " " in v:
        raise ValueError(f"must be a host name or address without spaces (got {v!r})")
    return v



class _Shown(str):
    """Text shown as it is in an error (not quoted as a value)."""


def _fmt(v: Any) -> str:
    if isinstance(v, _Shown):
        return str(v)
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, str):
        return repr(v)
    return json.dumps(v) if isinstance(v, (list, dict, bool)) or v is None else str(v)

