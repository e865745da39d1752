"""A bad scenario's problems in words: each names its place in the file, the value found and what
to write instead, and all of them come at once (the cross-references too, which pydantic checks
only once every field is right: four mistakes would take four runs)."""

from __future__ import annotations

import difflib
import json
import re
from typing import Any

from pydantic import ValidationError

_BOUNDS = {"greater_than": ("gt", "greater than"), "greater_than_equal": ("ge", "at least"),
           "less_than": ("lt", "less than"), "less_than_equal": ("le", "at most")}
_KINDS = {
    "float_parsing": "a number", "float_type": "a number", "int_parsing": "a whole number",
    "int_type": "a whole number", "int_from_float": "a whole number",
    "bool_parsing": "true or false", "bool_type": "true or false", "string_type": "a string",
    "list_type": "a list", "dict_type": "an object", "model_type": "an object",
    "finite_number": "a finite number", "date_from_datetime_parsing": "a date (YYYY-MM-DD)",
    "date_parsing": "a date (YYYY-MM-DD)", "date_type": "a date (YYYY-MM-DD)",
}  # fmt: skip


def suggest(word: str, options: list[str] | tuple[str, ...]) -> str:
    match = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f" (did you mean {match[0]!r}?)" if match else ""


def place(loc: tuple[int | str, ...]) -> str:
    """`timeline[3].action`: a list index in brackets, as the trader finds it in the file."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else ("." if out else "") + str(part)
    return out


def shown(value: Any) -> str:
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return repr(value)
    text = json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def describe(exc: ValidationError, known_fields: list[str]) -> list[str]:
    """pydantic's errors as sentences: the place, the value, the fix."""
    out: list[str] = []
    for err in exc.errors():
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        where = place(loc)
        etype, ctx, value = err["type"], err.get("ctx") or {}, err.get("input")
        if etype == "extra_forbidden":
            name = str(loc[-1]) if loc else "?"
            out.append(f"{where}: unknown field{suggest(name, known_fields)}")
        elif etype == "missing":
            out.append(f"{where}: required")
        elif etype in _BOUNDS:
            key, words = _BOUNDS[etype]
            bound = ctx.get(key)
            limit = f"{bound:g}" if isinstance(bound, int | float) else str(bound)
            out.append(f"{where} must be {words} {limit} (got {shown(value)})")
        elif etype == "too_short":
            least = ctx.get("min_length", 1)
            out.append(f"{where} must have at least {least} entr{'y' if least == 1 else 'ies'} "
                       f"(got {shown(value)})")
        elif etype == "literal_error":
            out.append(f"{where} must be one of {ctx.get('expected', '')} (got {shown(value)})")
        elif etype in _KINDS:
            out.append(f"{where} must be {_KINDS[etype]} (got {shown(value)})")
        elif etype == "value_error":
            out += _value_error(where, str(err["msg"]).removeprefix("Value error, "))
        else:
            out.append(f"{where}: {err['msg']} (got {shown(value)})" if where else str(err["msg"]))
    return out


def _value_error(where: str, msg: str) -> list[str]:
    # A validator's message may hold several problems, one a line, each with its own field.
    out = []
    for line in msg.split("\n"):
        head, sep, rest = line.partition(": ")
        if sep and re.fullmatch(r"[a-z_]+", head):
            out.append(f"{where}.{head}: {rest}" if where else f"{head}: {rest}")
        elif sep and re.fullmatch(r"[a-z_]+(\[\d+\]|\.[A-Za-z0-9_.\-]+)+", head):
            out.append(line)
        else:
            out.append(f"{where}: {line}" if where else line)
    return out


def _entries(data: dict[str, Any], key: str) -> list[tuple[int, dict[str, Any]]]:
    items = data.get(key)
    if not isinstance(items, list):
        return []
    return [(i, x) for i, x in enumerate(items) if isinstance(x, dict)]


def reference_problems(data: Any) -> list[str]:
    """What the scenario names that it does not have (a position, a report or a fault in a
    symbol or sector not in `symbols`, a symbol held twice, a con_id used twice), read from the
    file's own data so it is said even while other fields are wrong."""
    if not isinstance(data, dict) or not isinstance(data.get("symbols"), dict):
        return []
    symbols: dict[str, Any] = data["symbols"]
    if not symbols:
        return []
    known = [str(s) for s in symbols]
    sectors = sorted({str(s["sector"]) for s in symbols.values()
                      if isinstance(s, dict) and isinstance(s.get("sector"), str)})
    problems: list[str] = []

    def unknown_symbol(where: str, symbol: Any) -> None:
        if isinstance(symbol, str) and symbol not in symbols:
            problems.append(f"{where}.symbol: unknown symbol {symbol!r} (not in symbols)"
                            + suggest(symbol, known))

    seen: set[str] = set()
    for i, p in _entries(data, "positions"):
        unknown_symbol(f"positions[{i}]", p.get("symbol"))
        symbol = p.get("symbol")
        if isinstance(symbol, str):
            if symbol in seen:
                problems.append(f"positions[{i}].symbol: {symbol!r} is listed twice")
            seen.add(symbol)
    for i, e in _entries(data, "earnings"):
        unknown_symbol(f"earnings[{i}]", e.get("symbol"))
    for i, t in _entries(data, "timeline"):
        if t.get("symbol") is not None:
            unknown_symbol(f"timeline[{i}]", t.get("symbol"))
        sector = t.get("sector")
        if isinstance(sector, str) and sectors and sector.casefold() not in {
                s.casefold() for s in sectors}:
            problems.append(f"timeline[{i}].sector: unknown sector {sector!r} (the scenario has "
                            + ", ".join(sectors) + ")")
    con_ids: dict[int, str] = {}
    for sym, spec in symbols.items():
        con_id = spec.get("con_id") if isinstance(spec, dict) else None
        if isinstance(con_id, int) and not isinstance(con_id, bool):
            if con_id in con_ids:
                problems.append(f"symbols.{sym}.con_id: {con_id} is also the con_id of "
                                f"{con_ids[con_id]}")
            con_ids[con_id] = str(sym)
    return problems
