"""IB's connectivity codes (error messages with reqId -1) and what each says about the link:
which problems keep it DEGRADED, and how loud each code is."""

from __future__ import annotations

from weekly_er_tui.model import Severity

CONNECTIVITY_LOST = 1100
RESTORED_DATA_LOST = 1101
RESTORED_DATA_KEPT = 1102
SERVER_BROKEN = 2110
FARM_BROKEN = {2103: "market data farm", 2105: "historical data farm", 2157: "sec-def farm"}
FARM_OK = {2104: 2103, 2106: 2105, 2158: 2157}
CLIENT_ID_IN_USE = 326
CONNECTIVITY_CODES = (
    {CONNECTIVITY_LOST, RESTORED_DATA_LOST, RESTORED_DATA_KEPT, SERVER_BROKEN}
    | set(FARM_BROKEN) | set(FARM_OK)
)



def note_connectivity(degraded: dict[int, str], code: int, message: str) -> Severity:
    """Update `degraded` (the link's problems by code) for a connectivity `code`; the severity
    the code is journaled with."""
    if code == CONNECTIVITY_LOST:
        degraded[CONNECTIVITY_LOST] = "TWS lost its connection to IB's servers (1100)"
    elif code in (RESTORED_DATA_LOST, RESTORED_DATA_KEPT):
        degraded.pop(CONNECTIVITY_LOST, None)
        degraded.pop(SERVER_BROKEN, None)
    elif code == SERVER_BROKEN:
        degraded[SERVER_BROKEN] = "TWS-to-server connectivity broken (2110)"
    elif code in FARM_BROKEN:
        degraded[code] = f"{FARM_BROKEN[code]} broken ({code}): {message}"
    elif code in FARM_OK:
        degraded.pop(FARM_OK[code], None)
    severity = Severity.HIGH if code in (CONNECTIVITY_LOST, SERVER_BROKEN) else Severity.INFO
    if code in FARM_BROKEN:
        severity = Severity.MEDIUM
    return severity
