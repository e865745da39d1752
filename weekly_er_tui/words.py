"""Counts in words, as a trader writes them: "1 attempt", "3 attempts", never "1 attempt(s)"."""

from __future__ import annotations


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """`counted(1, "attempt")` -> "1 attempt"; `counted(3, "attempt")` -> "3 attempts"."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"
