"""A web session's start or end, as the engine journals it: `web_session` on the control socket,
sent by `weekly-er-tui web` for each browser that opens or leaves the cockpit."""

from __future__ import annotations

import re
from typing import Any

_SESSION = re.compile(r"^[0-9a-f]{1,32}$")
_PEER_MAX = 100


def web_session_event(request: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(message, details) for the events log; ValueError naming the field that is wrong."""
    event = request.get("event")
    if event not in ("start", "end"):
        raise ValueError(f"web_session: event must be 'start' or 'end' (got {event!r})")
    session = request.get("session")
    if not isinstance(session, str) or not _SESSION.match(session):
        raise ValueError(f"web_session: session must be up to 32 hex digits (got {session!r})")
    peer = request.get("peer")
    if not isinstance(peer, str) or not peer or len(peer) > _PEER_MAX or not peer.isprintable():
        raise ValueError(f"web_session: peer must be the browser's address (got {peer!r})")
    control = request.get("control") is True
    mode = "with control (--allow-control)" if control else "read-only"
    details: dict[str, Any] = {"session": session, "peer": peer, "control": control}
    if event == "start":
        return (f"Web session {session} started: a browser at {peer} opened the cockpit, "
                f"{mode}", details)
    seconds = request.get("seconds")
    if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds < 0:
        raise ValueError(f"web_session: seconds must be the session's length (got {seconds!r})")
    details["seconds"] = float(seconds)
    return (f"Web session {session} ended: the browser at {peer} left after {seconds:.0f} s "
            f"({mode})", details)
