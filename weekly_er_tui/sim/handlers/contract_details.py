"""Reference data: reqContractDetails (with the trading hours of the coming sessions; the sector
is in its industry/category fields), reqHeadTimestamp and reqHistoricalData (refused without a
market-data subscription, row 4)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from weekly_er_tui.clock import ET
from weekly_er_tui.sim import messages as msg
from weekly_er_tui.sim.handlers import stock
from weekly_er_tui.sim.market import (
    aggregate_bars,
    bar_size_seconds,
    duration_seconds,
    parse_ib_datetime,
)
from weekly_er_tui.sim.permissions import history_refusal
from weekly_er_tui.sim.session import ClientSession, Cursor

if TYPE_CHECKING:
    from weekly_er_tui.sim.handlers import Handler
    from weekly_er_tui.sim.server import SimulatedGateway

MAX_INTRADAY_BARS = 100_000


class ContractDetailsHandlers:
    def __init__(self, gw: SimulatedGateway) -> None:
        self.gw = gw

    def routes(self) -> dict[int, Handler]:
        return {
            msg.IN_REQ_CONTRACT_DETAILS: self.req_contract_details,
            msg.IN_REQ_HISTORICAL_DATA: self.req_historical_data,
            msg.IN_CANCEL_HISTORICAL_DATA: lambda s, c: None,
            msg.IN_REQ_HEAD_TIMESTAMP: self.req_head_timestamp,
        }

    def trading_hours(self, t: float) -> tuple[str, str]:
        sessions = self.gw.market.sessions
        i = sessions.trading_day(t)
        parts = []
        for k in range(i, min(i + 5, len(sessions))):
            o = datetime.fromtimestamp(sessions.opens[k], ET)
            cl = datetime.fromtimestamp(sessions.closes[k], ET)
            parts.append(f"{o:%Y%m%d}:{o:%H%M}-{cl:%Y%m%d}:{cl:%H%M}")
        liquid = ";".join(parts)
        return liquid, liquid

    def req_contract_details(self, s: ClientSession, c: Cursor) -> None:
        c.skip()  # version
        req_id = c.next_int()
        contract = c.contract()
        self.gw.contract_details_asked.append(contract["symbol"])
        inst = stock(self.gw.market, contract)
        if inst is None:
            s.send(msg.error(s.version, req_id, 200,
                             "No security definition has been found for the request"))  # fmt: skip
            return
        trading, liquid = self.trading_hours(self.gw._t())
        s.send(msg.contract_details(s.version, req_id, inst, trading, liquid))
        s.send(msg.contract_details_end(req_id))

    def req_head_timestamp(self, s: ClientSession, c: Cursor) -> None:
        req_id = c.next_int()
        first = self.gw.market.sessions.opens[0]
        s.send(
            msg.head_timestamp(
                req_id, datetime.fromtimestamp(first, ET).strftime("%Y%m%d-%H:%M:%S")
            )
        )

    def req_historical_data(self, s: ClientSession, c: Cursor) -> None:
        req_id = c.next_int()
        contract = c.contract()
        c.next_bool()  # includeExpired
        end_text = c.next_str()
        bar_size = c.next_str()
        duration = c.next_str()
        c.next_bool()  # useRTH
        what = c.next_str()
        date_format = c.next_int() or 1
        inst = stock(self.gw.market, contract)
        if inst is None:
            s.send(msg.error(s.version, req_id, 200,
                             "No security definition has been found for the request"))  # fmt: skip
            return
        now = self.gw._t()

        def fail(why: str) -> None:
            s.send(
                msg.error(
                    s.version, req_id, 162, f"Historical Market Data Service error message:{why}"
                )
            )

        if what.upper() == "SCHEDULE":
            fail("the simulator has no SCHEDULE data")
            return
        refusal = history_refusal(self.gw.realism, inst)
        if refusal is not None:
            fail(refusal)
            return
        try:
            end = parse_ib_datetime(end_text) if end_text else now
            span = duration_seconds(duration)
            size = bar_size_seconds(bar_size)
        except ValueError as exc:
            fail(str(exc))
            return
        end = min(end, now)
        start = end - span.total_seconds()
        if size < 5:
            fail(f"bar size {bar_size!r} is below the simulator's 5 second step")
            return
        daily = size >= 86400
        if not daily and span.total_seconds() / size > MAX_INTRADAY_BARS:
            fail(f"{duration} of {bar_size} bars is more than {MAX_INTRADAY_BARS} bars")
            return
        if daily:
            bars = self.gw.market.daily_bars(inst.symbol, start, end)
            if size > 86400:
                bars = aggregate_bars(bars, size)
        else:
            bars = self.gw.market.intraday_bars(inst.symbol, start, end, size)
        s.send(msg.historical_data(req_id, msg.tws_time(start), msg.tws_time(end), bars,
                                   date_format, daily))  # fmt: skip
