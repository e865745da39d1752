"""Market data: reqMktData (with the account's permissions, row 4, and a competing session,
row 17), reqMarketDataType, and the tick loop that streams changed ticks to every subscription."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from weekly_er_tui.sim import messages as msg
from weekly_er_tui.sim.handlers import stock
from weekly_er_tui.sim.market import Quote
from weekly_er_tui.sim.permissions import (
    COMPETING_SESSION,
    DELAYED_TICK,
    LIVE_TICK,
    market_data_grant,
)
from weekly_er_tui.sim.session import ClientSession, Cursor, TickState

if TYPE_CHECKING:
    from weekly_er_tui.sim.handlers import Handler
    from weekly_er_tui.sim.server import SimulatedGateway

WRITE_BUFFER_LIMIT = 4 * 1024 * 1024


class MarketDataHandlers:
    def __init__(self, gw: SimulatedGateway) -> None:
        self.gw = gw
        # (session index, open, high, low) per symbol (and per delayed feed), as ticks went out
        self._highlow: dict[str, tuple[int, float, float, float]] = {}

    def routes(self) -> dict[int, Handler]:
        return {
            msg.IN_REQ_MKT_DATA: self.req_mkt_data,
            msg.IN_CANCEL_MKT_DATA: self.cancel_mkt_data,
            msg.IN_REQ_MARKET_DATA_TYPE: self.req_market_data_type,
        }

    def req_mkt_data(self, s: ClientSession, c: Cursor) -> None:
        c.skip()  # version
        req_id = c.next_int()
        contract = c.contract()
        if contract["sec_type"] == "BAG":
            c.skip(4 * c.next_int())
        if c.next_bool():
            c.skip(3)
        c.next_str()  # genericTickList
        snapshot = c.next_bool()
        inst = stock(self.gw.market, contract)
        if inst is None:
            s.send(msg.error(s.version, req_id, 200,
                             "No security definition has been found for the request"))  # fmt: skip
            return
        grant = market_data_grant(self.gw.realism, inst, s.market_data_type)
        if grant.error is not None:
            s.send(msg.error(s.version, req_id, *grant.error))
        if not grant.data_type:
            return  # refused: TWS keeps no subscription
        state = TickState(inst.symbol, delayed=grant.delayed)
        if self.gw.competing_session:
            s.send(msg.error(s.version, req_id, *COMPETING_SESSION))
            s.subs.market_data[req_id] = state  # streams once the other session lets go
            return
        s.send(msg.market_data_type(req_id, grant.data_type))
        self.send_ticks(s, req_id, state, self.gw._t(), force=True)
        if snapshot:
            s.send(msg.tick_snapshot_end(req_id))
        else:
            s.subs.market_data[req_id] = state

    def req_market_data_type(self, s: ClientSession, c: Cursor) -> None:
        c.skip()  # version
        s.market_data_type = c.next_int() or 1

    def seen_at(self, state: TickState, t: float) -> float:
        """The instant a subscription shows: now, or the delayed feed's lag ago."""
        return t - self.gw.realism.delayed_data_minutes * 60 if state.delayed else t

    def cancel_mkt_data(self, s: ClientSession, c: Cursor) -> None:
        c.skip()
        s.subs.market_data.pop(c.next_int(), None)

    def session_range(self, symbol: str, t: float, last: float,
                       key: str = "") -> tuple[float, float, float]:  # fmt: skip
        """(open, high, low) of the trading day so far, tracked as ticks go out (under `key`:
        the delayed feed keeps its own)."""
        key = key or symbol
        sessions = self.gw.market.sessions
        i = sessions.trading_day(t)
        cached = self._highlow.get(key)
        if not sessions.is_open(t):
            i = sessions.last_closed(t) if t < sessions.opens[i] else i
        if cached is None or cached[0] != i:
            bars = self.gw.market.daily_bars(symbol, sessions.opens[i] - 1, t)
            if bars and bars[-1].session == i:
                b = bars[-1]
                cached = (i, b.open, b.high, b.low)
            else:
                cached = (i, last, last, last)
        else:
            cached = (i, cached[1], max(cached[2], last), min(cached[3], last))
        self._highlow[key] = cached
        return cached[1], cached[2], cached[3]

    def tick_frames(self, req_id: int, state: TickState, q: Quote, t: float,
                     force: bool) -> list[bytes]:  # fmt: skip
        """The ticks that changed since the last round (all of them when forced), framed. A
        delayed subscription gets the delayed tick types; `q` and `t` are then the delayed ones."""
        key = f"{state.symbol} delayed" if state.delayed else state.symbol
        op, hi, lo = self.session_range(state.symbol, t, q.last, key)
        close = self.gw.market.prev_close(state.symbol, t)
        now = (q.bid, q.bid_size, q.ask, q.ask_size, q.last, q.last_size, q.volume, hi, lo, op,
               close)  # fmt: skip
        old = state.last
        fresh = force or not old
        out: list[bytes] = []
        price = msg.tick_price_frame
        kind = DELAYED_TICK if state.delayed else LIVE_TICK
        if fresh or old[0:2] != now[0:2]:
            out.append(price(req_id, kind[msg.TICK_BID], q.bid, q.bid_size))
        if fresh or old[2:4] != now[2:4]:
            out.append(price(req_id, kind[msg.TICK_ASK], q.ask, q.ask_size))
        if fresh or old[4:6] != now[4:6]:
            out.append(price(req_id, kind[msg.TICK_LAST], q.last, q.last_size))
        if fresh or old[6] != now[6]:
            out.append(msg.tick_size_frame(req_id, kind[msg.TICK_VOLUME], q.volume))
        if fresh or old[7] != now[7]:
            out.append(price(req_id, kind[msg.TICK_HIGH], hi, 0.0))
        if fresh or old[8] != now[8]:
            out.append(price(req_id, kind[msg.TICK_LOW], lo, 0.0))
        if fresh or old[9] != now[9]:
            out.append(price(req_id, kind[msg.TICK_OPEN], op, 0.0))
        if fresh or old[10] != now[10]:
            out.append(price(req_id, kind[msg.TICK_CLOSE], close, 0.0))
        state.last = now
        return out

    def send_ticks(self, s: ClientSession, req_id: int, state: TickState, t: float,
                    force: bool = False) -> int:  # fmt: skip
        t = self.seen_at(state, t)
        q = self.gw.market.quote(state.symbol, t)
        out = self.tick_frames(req_id, state, q, t, force)
        s.send_frames(out)
        return len(out)

    async def tick_loop(self) -> None:
        """Stream ticks to reqMktData subscribers every `tick_interval` real seconds.

        With `tick_interval` 0 every subscription gets a full set of ticks each round, as fast as
        the sockets drain (the benchmark's mode).
        """
        while True:
            if self.gw.tick_interval > 0:
                await asyncio.sleep(self.gw.tick_interval)
            self.gw.tick_rounds += 1
            self.tell_competing_session()
            if (self.gw.stalled or not self.gw.ib_link_up or not self.gw.market_data_farm_ok
                    or self.gw.competing_session):
                if self.gw.tick_interval <= 0:
                    await asyncio.sleep(0.01)
                continue
            t = self.gw._t()
            busy = False
            for s in self.gw._started():
                if not s.subs.market_data or s.buffered > WRITE_BUFFER_LIMIT:
                    continue
                busy = True
                force = self.gw.tick_interval <= 0
                batch: list[bytes] = []
                quotes: dict[tuple[str, bool], Quote] = {}
                for req_id, state in list(s.subs.market_data.items()):
                    seen = self.seen_at(state, t)
                    q = quotes.get((state.symbol, state.delayed))
                    if q is None:
                        q = quotes[state.symbol, state.delayed] = self.gw.market.quote(
                            state.symbol, seen)
                    batch += self.tick_frames(req_id, state, q, seen, force)
                s.send_frames(batch)
            if self.gw.tick_interval <= 0:
                sessions = [s for s in self.gw._started() if s.subs.market_data]
                if busy:
                    await asyncio.gather(*(_drain(s) for s in sessions))
                else:
                    await asyncio.sleep(0.01)

    def tell_competing_session(self) -> None:
        """Row 17: once per competing session, 10197 on every market-data subscription."""
        if not self.gw.competing_session:
            self.gw._competing_told = False
            return
        if self.gw._competing_told:
            return
        self.gw._competing_told = True
        for s in self.gw._started():
            for req_id in s.subs.market_data:
                s.send(msg.error(s.version, req_id, *COMPETING_SESSION))

async def _drain(s: ClientSession) -> None:
    try:
        await s.writer.drain()
    except (ConnectionError, OSError):
        s.close()
