"""SectorBook: each symbol's sector and conId, from IB's contract details, before any order.

The pre-trade gate needs a symbol's sector before it accepts an entry in it (a symbol the account
does not hold yet has no sector on its position). Contract details are asked once per symbol and
kept in the state database with the day they came (`Store.contract_details`): a restart or a
reconnect does not ask again until they are `MAX_AGE` old. Requests go through the RequestPacer,
so 500 symbols complete (about 13 s at 40 a second) without one timing out behind the others;
each request's timeout starts when it is sent.

A sector from `safety_limits.sector_overrides` wins over IB's. A symbol whose sector cannot be
found (no details, no industry, timeouts) stays "Unknown", with the reason in `why_unknown`; the
gate refuses an entry in it (risk/gate.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from ib_async import IB, Stock

from weekly_er_tui.broker.pacing import RequestPacer
from weekly_er_tui.clock import Clock
from weekly_er_tui.risk.rules import UNKNOWN_SECTOR
from weekly_er_tui.store import Store

log = logging.getLogger("weekly_er_tui.sectors")

DETAILS_TIMEOUT = 5.0  # real seconds from when the request is sent
ATTEMPTS = 2
MAX_AGE = timedelta(days=7)  # sectors and conIds change rarely (corporate actions)


class SectorBook:
    def __init__(self, ib: IB, clock: Clock, pacer: RequestPacer, *, store: Store | None = None,
                 overrides: dict[str, str] | None = None) -> None:
        self.ib = ib
        self.clock = clock
        self.pacer = pacer
        self.store = store
        self.overrides = dict(overrides or {})
        self._sectors: dict[str, str] = {}
        self._con_ids: dict[str, int] = {}
        self.why_unknown: dict[str, str] = {}
        self._inflight: dict[str, asyncio.Future[None]] = {}
        if store is not None:
            today = clock.now().date()
            for symbol, (con_id, sector, fetched) in store.contract_details().items():
                if today - fetched < MAX_AGE:
                    self._con_ids[symbol] = con_id
                    self._sectors[symbol] = sector

    def known(self, symbol: str) -> str:
        """The sector known now (overrides first), without asking IB."""
        return self.overrides.get(symbol) or self._sectors.get(symbol, UNKNOWN_SECTOR)

    def con_id(self, symbol: str) -> int:
        return self._con_ids.get(symbol, 0)

    def note_con_id(self, symbol: str, con_id: int) -> None:
        """A conId seen elsewhere (a position message): no need to ask IB for it."""
        if con_id:
            self._con_ids.setdefault(symbol, con_id)

    def has(self, symbol: str) -> bool:
        return symbol in self._con_ids and (symbol in self._sectors or symbol in self.overrides)

    async def sector_of(self, symbol: str) -> str:
        """The sector, asking IB first if it is not known yet."""
        if symbol not in self.overrides and symbol not in self._sectors:
            await self.learn([symbol])
        return self.known(symbol)

    async def learn(self, symbols: Iterable[str]) -> dict[str, Any]:
        """Ask IB (paced) for every symbol not known yet; return which stayed Unknown."""
        wanted = [s for s in dict.fromkeys(symbols) if not self.has(s)]
        await asyncio.gather(*(self._learn_one(s) for s in wanted))
        unknown = sorted(s for s in dict.fromkeys(symbols) if self.known(s) == UNKNOWN_SECTOR)
        return {"sectors_unknown": unknown}

    async def _learn_one(self, symbol: str) -> None:
        running = self._inflight.get(symbol)
        if running is not None:  # another caller asked already: share its answer
            await asyncio.shield(running)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._inflight[symbol] = fut
        try:
            await self._ask(symbol)
        finally:
            del self._inflight[symbol]
            fut.set_result(None)

    async def _ask(self, symbol: str) -> None:
        why = "not asked"
        for _ in range(ATTEMPTS):
            if not self.ib.isConnected():
                why = "not connected to IB"
                break
            await self.pacer.slot()
            try:
                details = await asyncio.wait_for(
                    self.ib.reqContractDetailsAsync(Stock(symbol, "SMART", "USD")),
                    DETAILS_TIMEOUT)
            except (TimeoutError, ConnectionError) as exc:
                why = f"no contract details within {DETAILS_TIMEOUT:g} s ({exc!r})"
                continue
            if not details:
                why = "IB has no contract details for it (unknown symbol?)"
                break
            d = details[0]
            con_id = d.contract.conId if d.contract is not None else 0
            sector = str(d.industry or d.category or "")
            if con_id:
                self._con_ids[symbol] = con_id
            if not sector or sector == UNKNOWN_SECTOR:
                why = "IB's contract details name no industry for it"
                break
            self._sectors[symbol] = sector
            self.why_unknown.pop(symbol, None)
            if self.store is not None and con_id:
                self.store.save_contract_details(symbol, con_id, sector, self.clock.now().date())
            return
        self.why_unknown[symbol] = why
        log.warning("No sector for %s: %s", symbol, why)
