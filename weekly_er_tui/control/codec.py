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
from collections.abc import Callable
from datetime import date, datetime
from functools import cache
from typing import Any, TypeVar, Union

T = TypeVar("T")


class CodecError(ValueError):
    """A value that this codec cannot carry (a bug in the sender, or another version)."""


def to_plain(value: Any) -> Any:
    """A JSON-ready copy of `value` (dataclasses become dicts of their fields)."""
    encode = _ENCODERS.get(type(value))
    if encode is not None:
        return encode(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = {}
        for name in _field_names(type(value)):
            v = getattr(value, name)
            out[name] = v if type(v) in _PLAIN else to_plain(v)
        return out
    if isinstance(value, tuple | list):
        return [to_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, bool | int | float | str):
        return value
    raise CodecError(f"cannot send a {type(value).__name__} over the control socket")


def _same(value: Any) -> Any:
    return value


_PLAIN: frozenset[type] = frozenset({float, int, str, bool, type(None)})
_ENCODERS: dict[type, Callable[[Any], Any]] = dict.fromkeys(_PLAIN, _same)


@cache
def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


def field_names(cls: type) -> tuple[str, ...]:
    """The fields of dataclass `cls`, in order (cached)."""
    return _field_names(cls)


def decoder(kind: Any) -> Callable[[Any], Any]:
    """The function that reads a value of type `kind` from its plain form (built once)."""
    return _decoder(kind)


def from_plain(kind: type[T], data: Any) -> T:
    """The value of type `kind` that `to_plain` turned into `data`."""
    return typing.cast(T, _decoder(typing.cast(Any, kind))(data))


# A state of 500 positions is decoded several times a second by every attached cockpit: each
# type's decoder is built once, from its hints, and then only called.
@cache
def _decoder(kind: Any) -> Callable[[Any], Any]:
    if kind is Any:
        return _same
    origin = typing.get_origin(kind)
    if origin in (Union, types.UnionType):
        args = typing.get_args(kind)
        rest = [a for a in args if a is not type(None)]
        if len(rest) == 1:
            inner = _decoder(rest[0])
            return lambda v: None if v is None else inner(v)
        choices = [_decoder(a) for a in rest]

        def first_that_fits(v: Any) -> Any:
            if v is None and type(None) in args:
                return None
            for choice in choices:  # e.g. float | str: the first that fits
                try:
                    return choice(v)
                except (CodecError, TypeError, ValueError):
                    continue
            raise CodecError(f"{v!r} is none of {kind}")

        return first_that_fits
    if origin is tuple:
        args = typing.get_args(kind)
        if len(args) == 2 and args[1] is Ellipsis:
            item = _decoder(args[0])
            return lambda v: tuple([item(x) for x in v])
        items = [_decoder(a) for a in args]
        return lambda v: tuple(f(x) for f, x in zip(items, v, strict=True))
    if origin is list:
        (arg,) = typing.get_args(kind)
        item = _decoder(arg)
        return lambda v: [item(x) for x in v]
    if origin is dict:
        _key, arg = typing.get_args(kind)
        item = _decoder(arg)
        return lambda v: {k: item(x) for k, x in v.items()}
    if isinstance(kind, type):
        if dataclasses.is_dataclass(kind):
            return _dataclass_decoder(kind)
        if issubclass(kind, enum.Enum):
            return kind
        if kind is datetime:
            return datetime.fromisoformat
        if kind is date:
            return date.fromisoformat
        if kind is float:
            return float
        if kind in (int, str, bool):
            def checked(v: Any, kind: type = kind) -> Any:
                if not isinstance(v, kind):
                    raise CodecError(f"expected {kind.__name__}, got {v!r}")
                return v

            return checked
    raise CodecError(f"cannot read a {kind} from the control socket")


def _dataclass_decoder(cls: type) -> Callable[[Any], Any]:
    hints = typing.get_type_hints(cls)
    fields = {f.name: _decoder(hints[f.name]) for f in dataclasses.fields(cls)}

    def decode(v: dict[str, Any]) -> Any:
        # A field a newer engine added, unknown to this client, is left out.
        return cls(**{k: fields[k](x) for k, x in v.items() if k in fields})

    return decode
