"""Executions: reqExecutions, filtered as IB filters it (today's, by client, account, symbol,
side and time); every n-th answer may lack its execDetailsEnd (row 14)."""

from __future__ import annotations

import contextlib
import logging
from datetime import datetime
from typing import TYPE_CHECKING

from weekly_er_tui.clock import ET
from weekly_er_tui.sim import messages as msg
from weekly_er_tui.sim.market import parse_ib_datetime
from weekly_er_tui.sim.session import ClientSession, Cursor

if TYPE_CHECKING:
    from weekly_er_tui.sim.handlers import Handler
    from weekly_er_tui.sim.server import SimulatedGateway

log = logging.getLogger("weekly_er_tui.sim")


class ExecutionHandlers:
    def __init__(self, gw: SimulatedGateway) -> None:
        self.gw = gw
        self.answered = 0  # reqExecutions answered (row 14 counts them)

    def routes(self) -> dict[int, Handler]:
        return {msg.IN_REQ_EXECUTIONS: self.req_executions}

    def req_executions(self, s: ClientSession, c: Cursor) -> None:
        c.skip()
        req_id = c.next_int()
        client_id = c.next_int()
        acct = c.next_str()
        since = c.next_str()
        symbol = c.next_str().upper()
        sec_type = c.next_str().upper()
        c.next_str()  # exchange
        side = c.next_str().upper()
        self.gw.book.advance()
        today = datetime.fromtimestamp(self.gw._t(), ET).date()
        after: float | None = None
        if since:
            with contextlib.suppress(ValueError):
                after = parse_ib_datetime(since)
        for ex in self.gw.book.executions:
            if ex.time.astimezone(ET).date() != today:
                continue
            if client_id and ex.client_id != client_id:
                continue
            if acct and acct != ex.account:
                continue
            if symbol and symbol != ex.symbol:
                continue
            if sec_type and sec_type != "STK":
                continue
            if side and {"BUY": "BOT", "SELL": "SLD"}.get(side, side) != ex.side:
                continue
            if after is not None and ex.time.timestamp() < after:
                continue
            inst = self.gw.market.instruments[ex.symbol]
            s.send(msg.exec_details(s.version, req_id, ex, inst))
            s.send(msg.commission_report(ex))
        self.answered += 1
        every = self.gw.realism.drop_exec_details_end_every
        if every and self.answered % every == 0:
            log.info("reqExecutions %s: execDetailsEnd left out (realism, row 14)", req_id)
            return
        s.send(msg.exec_details_end(req_id))
