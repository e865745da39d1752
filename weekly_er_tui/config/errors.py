"""A bad config in the trader's words: every problem at once, each naming the field, the
value (never a secret's) and what is allowed."""

from __future__ import annotations

import difflib
from typing import Any, get_args, get_origin

from pydantic import BaseModel, ValidationError

from weekly_er_tui.config.app import AppConfig
from weekly_er_tui.config.fields import MASK, _fmt, _Shown

SECRET_FIELDS = frozenset({"email_password", "url"})  # notify[].url holds a token


class ConfigError(Exception):
    """A config that must not start anything. `problems` lists every issue, one line each."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(
            f"{source}: {len(problems)} problem(s)\n" + "\n".join(f"  - {p}" for p in problems)
        )



def _known_keys(model: type[BaseModel]) -> list[str]:
    return list(model.model_fields)


def _model_at(path: tuple[int | str, ...]) -> type[BaseModel] | None:
    model: type[BaseModel] = AppConfig
    items: type[BaseModel] | None = None  # a list of models (alerts.notify), before its index
    for part in path:
        if isinstance(part, int):
            if items is None:
                return None
            model, items = items, None
            continue
        if items is not None or part not in model.model_fields:
            return None
        ann = model.model_fields[part].annotation
        args = get_args(ann)
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            model = ann
        elif (get_origin(ann) is list and args and isinstance(args[0], type)
              and issubclass(args[0], BaseModel)):
            items = args[0]
        else:
            return None
    return None if items is not None else model


_BOUND_ATTRS = (("gt", True, False), ("ge", True, True), ("lt", False, False), ("le", False, True))


def _bounds(path: tuple[int | str, ...]) -> tuple[Any, Any, bool, bool]:
    """(low, high, low_inclusive, high_inclusive) declared on the field at `path`."""
    model = _model_at(path[:-1])
    lo = hi = None
    lo_inc = hi_inc = True
    if model is not None and isinstance(path[-1], str) and path[-1] in model.model_fields:
        for meta in model.model_fields[path[-1]].metadata:
            for attr, is_lo, inc in _BOUND_ATTRS:
                val = getattr(meta, attr, None)
                if val is not None:
                    if is_lo:
                        lo, lo_inc = val, inc
                    else:
                        hi, hi_inc = val, inc
    return lo, hi, lo_inc, hi_inc


def _without_secrets(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: MASK if k in SECRET_FIELDS else _without_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_secrets(v) for v in value]
    return value


_TYPE_NAMES = {bool: "true/false", int: "a number", float: "a number", str: "a string",
               list: "a list", dict: "an object", type(None): "null"}


def describe_validation_error(exc: ValidationError) -> list[str]:
    """Turn pydantic's errors into sentences that name the field, the value and the fix.
    A secret's value is never repeated: only its type is."""
    problems: list[str] = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        # alerts.notify[1].url: a list index in brackets, as the trader finds it in the file.
        dotted = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")
        value = _without_secrets(err.get("input"))
        if any(p in SECRET_FIELDS for p in loc):
            value = _Shown(f"a value of type {_TYPE_NAMES.get(type(err.get('input')), 'unknown')}"
                           ", not shown")
        etype = err["type"]
        if etype == "finite_number":
            problems.append(f"{dotted} must be a finite number (got {_fmt(value)})")
        elif etype == "extra_forbidden":
            parent = _model_at(loc[:-1])
            known = _known_keys(parent) if parent else []
            close = difflib.get_close_matches(str(loc[-1]), known, n=1, cutoff=0.6)
            hint = f"; did you mean '{close[0]}'?" if close else f"; known keys: {', '.join(known)}"
            problems.append(f"{dotted}: unknown key{hint}")
        elif etype in {"greater_than", "greater_than_equal", "less_than", "less_than_equal"}:
            lo, hi, lo_inc, hi_inc = _bounds(loc)
            if lo is not None and hi is not None:
                problems.append(
                    f"{dotted} must be between {_fmt(lo)} and {_fmt(hi)} (got {_fmt(value)})"
                )
            elif lo is not None:
                word = "at least" if lo_inc else "greater than"
                problems.append(f"{dotted} must be {word} {_fmt(lo)} (got {_fmt(value)})")
            else:
                word = "at most" if hi_inc else "less than"
                problems.append(f"{dotted} must be {word} {_fmt(hi)} (got {_fmt(value)})")
        elif etype == "missing":
            problems.append(f"{dotted} is required")
        elif etype in {"value_error", "assertion_error"}:
            msg = str(err["msg"]).removeprefix("Value error, ")
            where = f"{dotted}: " if dotted else ""
            problems.append(f"{where}{msg}")
        elif etype == "literal_error" or etype == "enum":
            allowed = err.get("ctx", {}).get("expected", "")
            problems.append(f"{dotted} must be one of {allowed} (got {_fmt(value)})")
        else:
            kind = {
                "float_parsing": "a number", "float_type": "a number",
                "int_parsing": "a whole number", "int_type": "a whole number",
                "int_from_float": "a whole number", "bool_parsing": "true or false",
                "bool_type": "true or false", "string_type": "a string",
                "list_type": "a list", "dict_type": "an object", "model_type": "an object",
            }.get(etype)
            if kind:
                problems.append(f"{dotted} must be {kind} (got {_fmt(value)})")
            else:
                problems.append(f"{dotted}: {err['msg']} (got {_fmt(value)[:200]})")
    return problems

