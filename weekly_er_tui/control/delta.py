"""What changed between two EngineStates, as plain data, and the newer state rebuilt from the
older one and that change.

An attached cockpit at 500 positions and 1,000 price updates a second receives a state 25 times
a second; sending and decoding all 500 positions each time cost the engine ~2.6 ms per send and
the cockpit ~4 ms of its UI loop per state (a third of its busy time), while ~40 positions had
moved. The engine's states are immutable and replaced field by field, so what did not move is
the same object (or an equal one) in both: a change names only the fields that moved, nested
dataclasses field by field, and the positions (any `tuple[X, ...]` field) by index.

A change is `{"set": {field: plain}, "sub": {field: change}, "items": {field: {"n": length,
"at": {index: plain}}}}`, each key present only when it has something. Like the codec, it is
driven by the dataclasses' own type hints: a field another part adds travels without this module
changing.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable
from functools import cache
from typing import Any, TypeVar, Union

from weekly_er_tui.control.codec import CodecError, decoder, field_names, to_plain

T = TypeVar("T")


@cache
def _hints(cls: Any) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _sequence_item(hint: Any) -> Any | None:
    """X when `hint` is `tuple[X, ...]` (or that or None), else None."""
    if typing.get_origin(hint) in (Union, types.UnionType):
        rest = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(rest) != 1:
            return None
        hint = rest[0]
    if typing.get_origin(hint) is tuple:
        args = typing.get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis:
            return args[0]
    return None


@cache
def _sequence_fields(cls: Any) -> dict[str, Callable[[Any], Any]]:
    """The fields of `cls` sent by index, with their items' decoders."""
    out = {}
    for name, hint in _hints(cls).items():
        item = _sequence_item(hint)
        if item is not None:
            out[name] = decoder(item)
    return out


def _same(a: Any, b: Any) -> bool:
    return a is b or bool(a == b)


def diff(old: Any, new: Any) -> dict[str, Any]:
    """The change from `old` to `new`, two instances of one dataclass; {} when none."""
    cls: Any = type(new)
    if type(old) is not cls or not dataclasses.is_dataclass(new):
        raise CodecError(f"a change is between two of one dataclass, not {type(old).__name__} "
                         f"and {cls.__name__}")
    sequences = _sequence_fields(typing.cast(Any, cls))
    sets: dict[str, Any] = {}
    subs: dict[str, Any] = {}
    items: dict[str, Any] = {}
    for name in field_names(cls):
        a, b = getattr(old, name), getattr(new, name)
        if a is b:
            continue
        if type(a) is type(b) and dataclasses.is_dataclass(b):
            sub = diff(a, b)
            if sub:
                subs[name] = sub
        elif name in sequences and type(a) is tuple and type(b) is tuple:
            at = {str(i): to_plain(x) for i, x in enumerate(b)
                  if i >= len(a) or not _same(x, a[i])}
            if at or len(a) != len(b):
                items[name] = {"n": len(b), "at": at}
        elif not _same(a, b):
            sets[name] = to_plain(b)
    change: dict[str, Any] = {}
    if sets:
        change["set"] = sets
    if subs:
        change["sub"] = subs
    if items:
        change["items"] = items
    return change


def apply(old: T, change: dict[str, Any]) -> T:
    """`old` with `change` (from `diff(old, new)`) applied: a value equal to `new`. Fields this
    side does not know (a newer engine's) are left out, as the codec does."""
    cls: Any = type(old)
    hints = _hints(cls)
    fields: dict[str, Any] = {}
    for name, plain in change.get("set", {}).items():
        if name in hints:
            fields[name] = decoder(hints[name])(plain)
    for name, sub in change.get("sub", {}).items():
        if name in hints:
            current = getattr(old, name)
            if not dataclasses.is_dataclass(current):
                raise CodecError(f"a change to {cls.__name__}.{name}, which is "
                                 f"{type(current).__name__} here: out of step with the engine")
            fields[name] = apply(current, sub)
    sequences = _sequence_fields(cls)
    for name, seq in change.get("items", {}).items():
        if name not in sequences:
            continue
        current = getattr(old, name)
        length = int(seq["n"])
        out: list[Any] = list(current[:length]) if isinstance(current, tuple) else []
        missing = object()
        out.extend([missing] * (length - len(out)))
        item = sequences[name]
        for index, plain in seq["at"].items():
            out[int(index)] = item(plain)
        if any(x is missing for x in out):
            raise CodecError(f"a change to {cls.__name__}.{name} leaves items unknown: out of "
                             f"step with the engine")
        fields[name] = tuple(out)
    return dataclasses.replace(old, **fields) if fields else old  # type: ignore[type-var]
