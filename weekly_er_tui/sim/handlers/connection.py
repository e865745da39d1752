"""Connection requests: startApi (the clientId, managed accounts, next id, farm codes), reqIds,
reqManagedAccts and reqCurrentTime."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from weekly_er_tui.sim import messages as msg
from weekly_er_tui.sim.session import ClientSession, Cursor

if TYPE_CHECKING:
    from weekly_er_tui.sim.handlers import Handler
    from weekly_er_tui.sim.server import SimulatedGateway

# A real connect's farm messages (row 7): (OK code, broken code, farm), as captured.
FARMS_AT_CONNECT = ((2104, 2103, "usfarm.nj"), (2104, 2103, "usfarm"), (2104, 2103, "usopt"),
                    (2106, 2105, "ushmds"), (2158, 2157, "secdefnj"))  # fmt: skip
KIND_FARMS_AT_CONNECT = ((2104, 2103, "usfarm"), (2106, 2105, "ushmds"), (2158, 2157, "secdefnj"))


class ConnectionHandlers:
    def __init__(self, gw: SimulatedGateway) -> None:
        self.gw = gw

    def routes(self) -> dict[int, Handler]:
        return {
            msg.IN_START_API: self.start_api,
            msg.IN_REQ_IDS: self.req_ids,
            msg.IN_REQ_MANAGED_ACCTS: self.req_managed_accounts,
            msg.IN_REQ_CURRENT_TIME: self.req_current_time,
        }

    def start_api(self, s: ClientSession, c: Cursor) -> None:
        gw = self.gw
        if s.started:
            return
        c.skip()  # version
        client_id = c.next_int()
        if any(o.client_id == client_id for o in gw._started()):
            s.send(msg.error(s.version, -1, 326,
                             "Unable to connect as the client id is already in use. "
                             "Retry with a unique client id."))  # fmt: skip
            gw._event(
                "refused", f"client {client_id} refused: client id already in use ({s.peer})"
            )
            asyncio.get_running_loop().call_later(0.05, s.close)
            return
        s.client_id = client_id
        s.started = True
        s.send(msg.managed_accounts(gw.account_id))
        s.send(msg.next_valid_id(gw.book.next_order_id(client_id)))
        real = gw.realism.farm_codes_at_connect
        for ok, broken, farm in FARMS_AT_CONNECT if real else KIND_FARMS_AT_CONNECT:
            code = broken if broken in gw.farms_down else ok
            text = msg.CONNECTIVITY_MESSAGES[code].split(":")[0] + ":" + farm
            s.send(msg.error(s.version, -1, code, text))
        if real:
            s.send(msg.error(s.version, -1, 2107, msg.CONNECTIVITY_MESSAGES[2107]))
        gw._event(
            "connect",
            f"client {client_id} connected from {s.peer} (server version {s.version})",
            client_id,
        )

    def req_ids(self, s: ClientSession, c: Cursor) -> None:
        assert s.client_id is not None
        s.send(msg.next_valid_id(self.gw.book.next_order_id(s.client_id)))

    def req_managed_accounts(self, s: ClientSession, c: Cursor) -> None:
        s.send(msg.managed_accounts(self.gw.account_id))

    def req_current_time(self, s: ClientSession, c: Cursor) -> None:
        now = asyncio.get_running_loop().time()
        if now - s.subs.current_time_at < self.gw.realism.current_time_spacing_seconds:
            return  # a real TWS leaves it unanswered
        s.subs.current_time_at = now
        s.send(msg.current_time(int(self.gw._t())))
