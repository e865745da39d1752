"""EngineState to JSON and back, by the dataclasses' own type hints.

One generic codec rather than a hand-written one per type: a field another part adds to
EngineState travels over the socket without this module changing, as long as it is made of
plain data (numbers, strings, enums, datetimes, tuples, dicts, None, frozen dataclasses).
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from datetime import date, datetime
from functools import cache
from typing import Any, TypeVar, Union

T = TypeVar("T")


class CodecError(ValueError):
    """A value that this codec cannot carry (a bug in the sender, or another version)."""


def to_plain(value: Any) -> Any:
    """A JSON-ready copy of `value` (dataclasses become dicts of their fields)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value.value if isinstance(value, enum.Enum) else value
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        return [to_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_plain(v) for k, v in value.items()}
    raise CodecError(f"cannot send a {type(value).__name__} over the control socket")


def from_plain(kind: type[T], data: Any) -> T:
    """The value of type `kind` that `to_plain` turned into `data`."""
    return typing.cast(T, _decode(kind, data))


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _decode(kind: Any, data: Any) -> Any:
    if kind is Any:
        return data
    origin = typing.get_origin(kind)
    if origin in (Union, types.UnionType):
        args = typing.get_args(kind)
        if data is None and type(None) in args:
            return None
        rest = [a for a in args if a is not type(None)]
        if len(rest) == 1:
            return _decode(rest[0], data)
        for a in rest:  # e.g. float | str: the first that fits
            try:
                return _decode(a, data)
            except (CodecError, TypeError, ValueError):
                continue
        raise CodecError(f"{data!r} is none of {kind}")
    if origin is tuple:
        args = typing.get_args(kind)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_decode(args[0], v) for v in data)
        return tuple(_decode(a, v) for a, v in zip(args, data, strict=True))
    if origin is list:
        (arg,) = typing.get_args(kind)
        return [_decode(arg, v) for v in data]
    if origin is dict:
        _key, arg = typing.get_args(kind)
        return {k: _decode(arg, v) for k, v in data.items()}
    if isinstance(kind, type):
        if dataclasses.is_dataclass(kind):
            hints = _hints(kind)
            known = {f.name for f in dataclasses.fields(kind)}
            # A field a newer engine added and this client does not know is left out.
            return kind(**{k: _decode(hints[k], v) for k, v in data.items() if k in known})
        if issubclass(kind, enum.Enum):
            return kind(data)
        if kind is datetime:
            return datetime.fromisoformat(data)
        if kind is date:
            return date.fromisoformat(data)
        if kind is float:
            return float(data)
        if kind in (int, str, bool):
            if not isinstance(data, kind):
                raise CodecError(f"expected {kind.__name__}, got {data!r}")
            return data
    raise CodecError(f"cannot read a {kind} from the control socket")
