"""Every order, cancel and global cancel leaves through broker/sender.py, and nowhere else: a new
path that called ib_async directly would bypass shadow mode (and the gate). Read from the
source, so it holds for code no test runs."""

from __future__ import annotations

import ast
from pathlib import Path

import weekly_er_tui

SENDING = {"placeOrder", "cancelOrder", "reqGlobalCancel", "placeOrderAsync",
           "cancelOrderAsync"}
PACKAGE = Path(weekly_er_tui.__file__).parent
SEAM = PACKAGE / "broker" / "sender.py"


def _callers() -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if "sim" in path.relative_to(PACKAGE).parts:
            continue  # the simulated gateway receives orders; it sends none to IB
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            name = None
            if isinstance(node, ast.Attribute) and node.attr in SENDING:
                name = node.attr
            elif isinstance(node, ast.Name) and node.id in SENDING:
                name = node.id
            elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                  and node.func.id == "getattr" and len(node.args) > 1
                  and isinstance(node.args[1], ast.Constant) and node.args[1].value in SENDING):
                name = str(node.args[1].value)
            if name is not None:
                found.setdefault(str(path.relative_to(PACKAGE)), []).append(node.lineno)
    return found


def test_only_the_sender_calls_ib_async_to_place_or_cancel() -> None:
    callers = _callers()
    assert set(callers) == {str(SEAM.relative_to(PACKAGE))}, (
        f"placeOrder/cancelOrder/reqGlobalCancel called outside broker/sender.py: {callers}; "
        "send through OrderExecutor (its sender), so shadow mode and the gate see it")


def test_the_seam_is_found_by_the_check() -> None:
    # The check is not vacuous: it finds the three calls in the seam itself.
    assert len(_callers()[str(SEAM.relative_to(PACKAGE))]) == 3
