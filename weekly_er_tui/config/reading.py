"""Reading a hand-edited JSON file: comments and trailing commas stripped, and every way
the file can be wrong (size, nesting, encoding, syntax) turned into one clear problem."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from weekly_er_tui.config.errors import ConfigError

MAX_CONFIG_BYTES = 1_000_000  # a config is a few kB; a bigger file is not one
MAX_JSON_DEPTH = 32  # the deepest documented key is 3 levels down


def strip_json_comments(text: str) -> str:
    """Remove // and /* */ comments outside strings; keeps line numbers for error messages."""
    out: list[str] = []
    i, n = 0, len(text)
    in_str = False
    while i < n:
        ch = text[i]
        if in_str:
            out.append(ch)
            if ch == "\\" and i + 1 < n:
                out.append(text[i + 1])
                i += 2
                continue
            if ch == '"':
                in_str = False
            i += 1
        elif ch == '"':
            in_str = True
            out.append(ch)
            i += 1
        elif text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            end = n if j < 0 else j + 2
            out.append("\n" * text.count("\n", i, end))
            i = end
        else:
            out.append(ch)
            i += 1
    # Trailing commas are the other thing hand-edited JSON collects.
    return re.sub(r",(\s*[}\]])", r"\1", "".join(out))



def _bounded_text(text: str, source: str) -> str:
    if len(text) > MAX_CONFIG_BYTES:
        raise ConfigError(source, [
            f"the file is {len(text):,} characters; a config is a few thousand (at most "
            f"{MAX_CONFIG_BYTES:,}): is this the right file?"])
    return text


def json_depth_problem(text: str, limit: int = MAX_JSON_DEPTH) -> str | None:
    """'nested 40 levels deep ...' when brackets outside strings nest deeper than `limit`."""
    depth = deepest = 0
    in_str = escaped = False
    for ch in text:
        if in_str:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limit:
                    return (f"nested more than {limit} levels deep (objects and lists inside "
                            f"each other); the documented file is 3 levels deep")
        elif ch in "]}":
            depth -= 1
    return None


def loads_bounded(text: str, source: str, error: type[ConfigError] | Any) -> Any:
    """json.loads with every way it can fail turned into one clear problem (`error(source,
    [problem])`): bad JSON, absurd nesting (which would otherwise be a RecursionError)."""
    deep = json_depth_problem(text)
    if deep:
        raise error(source, [deep])
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise error(
            source, [f"line {exc.lineno}, column {exc.colno}: not valid JSON: {exc.msg}"]
        ) from None
    except (RecursionError, ValueError) as exc:
        raise error(source, [f"not valid JSON: {exc}"]) from None


def read_text_bounded(p: Path, source: str, limit: int = MAX_CONFIG_BYTES) -> str:
    """A UTF-8 text file of at most `limit` bytes; ConfigError (one problem) otherwise."""
    try:
        size = p.stat().st_size
        if size > limit:
            raise ConfigError(source, [
                f"the file is {size:,} bytes; at most {limit:,} is read: is this the right "
                f"file?"])
        return p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            source, [f"no such file. Create it with: cp config_template.json {p}"]) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(source, [
            f"not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at position {exc.start}); "
            f"save the file as UTF-8"]) from None
    except OSError as exc:
        raise ConfigError(source, [f"cannot read it: {exc.strerror or exc}"]) from None

