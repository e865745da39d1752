"""The account's streams to clients: positions, account values and portfolio, and P&L.

A real gateway sends these on separate streams with their own timing (notes rows 1 and 8):
positions (reqPositions) come when a position changes, possibly a while after the fill; account
values and portfolio rows (reqAccountUpdates) come on their own lag after a position change and
otherwise about every 3 minutes; P&L (reqPnL, reqPnLSingle) about once a second, with
max-double for what is not computed yet (row 16). The kind simulator sends all of them at once,
every `account_interval`. The realism switches (`account_lag_seconds`, `account_refresh_seconds`,
`position_lag_seconds`, `pnl_interval_seconds`, `pnl_unset_max_double`) choose.

Lags are real seconds (a network matter); the 3-minute refresh is clock time (IB's schedule).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from weekly_er_tui.sim import messages as msg
from weekly_er_tui.sim.market import Instrument
from weekly_er_tui.sim.protocol import UNSET_DOUBLE
from weekly_er_tui.sim.session import ClientSession, Cursor

if TYPE_CHECKING:
    from weekly_er_tui.sim.handlers import Handler
    from weekly_er_tui.sim.server import SimulatedGateway

log = logging.getLogger("weekly_er_tui.sim")

# The values a client sees in both its own currency and BASE (as TWS sends them).
BASE_TOO = ("CashBalance", "TotalCashValue", "NetLiquidation", "UnrealizedPnL", "RealizedPnL")
# An unset P&L value as TWS writes it (row 16): ib_async reads it as the number it says.
UNSET_TEXT = "1.7976931348623157E308"


class AccountStream:
    """Serves the account requests and publishes the account's changes, each stream on its own
    schedule."""

    def __init__(self, gw: SimulatedGateway) -> None:
        self.gw = gw
        self.rounds = 0  # periodic rounds done (tests wait on it)
        self._pnl_sent_at = -1e9  # loop time of the last P&L round

    @property
    def _id(self) -> str:
        return self.gw.account_id

    # what changed

    def position_changed(self, symbol: str) -> None:
        """After a fill: the position, then (after its own lag) the account update; P&L goes out
        on its own once-a-second schedule (the kind simulator sends everything at once)."""
        real = self.gw.realism
        self._after(real.position_lag_seconds, lambda: self._send_position(symbol))
        self._after(real.account_lag_seconds, lambda: self._send_account_update(symbol))
        if real.account_refresh_seconds <= 0:
            self._send_pnl()
        self.gw._notify()

    def refresh(self) -> None:
        """The periodic round (every `account_interval` real seconds): P&L always; account values
        and portfolio rows when they changed (kind) or when `account_refresh_seconds` of clock
        time passed since a client's last account update (real)."""
        every = self.gw.realism.account_refresh_seconds
        now = self.gw._t()
        for s in self.gw._started():
            if every > 0 and now - s.subs.account_sent_at < every:
                continue
            if s.subs.account_updates:
                self._account_update(s, None, force_time=every > 0)
            self._account_multi(s)
            s.subs.account_sent_at = now
        self._send_pnl()
        self.rounds += 1

    def _after(self, seconds: float, send: Callable[[], None]) -> None:
        if seconds <= 0:
            send()
        else:
            asyncio.get_running_loop().call_later(seconds, self._guarded, send)

    def _guarded(self, send: Callable[[], None]) -> None:
        if not self.gw._running:
            return
        try:
            send()
        except Exception:
            log.exception("account stream update failed")

    def _send_position(self, symbol: str) -> None:
        gw = self.gw
        h = gw.account.holdings.get(symbol)
        inst = gw.market.instruments[symbol]
        qty, avg = (h.quantity, h.avg_cost) if h else (0.0, 0.0)
        for s in gw._started():
            if s.subs.positions:
                s.send(msg.position(self._id, inst, qty, round(avg, 6)))
            for req_id in s.subs.positions_multi:
                s.send(msg.position_multi(req_id, self._id, inst, qty, round(avg, 6), ""))
        gw._notify()

    def _send_account_update(self, symbol: str | None) -> None:
        for s in self.gw._started():
            if s.subs.account_updates:
                self._account_update(s, symbol, force_time=False)
            self._account_multi(s)
            s.subs.account_sent_at = self.gw._t()
        self.gw._notify()

    def _account_update(self, s: ClientSession, symbol: str | None, force_time: bool) -> None:
        changed = False
        if symbol is not None:
            changed = self.send_portfolio(s, symbol)
        changed = self.send_portfolio(s, None) or changed
        changed = self.send_account_values(s) or changed
        if changed or force_time:
            t = self.gw._t()
            s.send(msg.account_time(t))
            s.subs.account_sent_at = t

    def _account_multi(self, s: ClientSession) -> None:
        if not s.subs.account_multi:
            return
        vals = self.value_strings()
        for req_id in s.subs.account_multi:
            for key in ("NetLiquidation", "TotalCashValue", "GrossPositionValue", "BuyingPower",
                        "AvailableFunds"):  # fmt: skip
                s.send(msg.account_update_multi(req_id, self._id, "", key, vals[key], "USD"))

    def _send_pnl(self) -> None:
        gw = self.gw
        now = asyncio.get_running_loop().time()
        if now - self._pnl_sent_at < gw.realism.pnl_interval_seconds:
            return  # row 16: IB's own pace, about once a second
        self._pnl_sent_at = now
        for s in gw._started():
            for req_id, old in list(s.subs.pnl.items()):
                row = self.pnl_row()
                if row != old and set(old) != {UNSET_DOUBLE}:  # unset: _figures sends it
                    s.subs.pnl[req_id] = row
                    s.send(msg.pnl(req_id, *_unset_text(row)))
            for req_id, (con_id, old_single) in list(s.subs.pnl_single.items()):
                sym = gw.market.by_con_id.get(con_id)
                if sym is None:
                    continue
                row = self.pnl_single_row(sym)
                if row != old_single and set(old_single[1:]) != {UNSET_DOUBLE}:
                    s.subs.pnl_single[req_id] = (con_id, row)
                    s.send(msg.pnl_single(req_id, *_unset_text(row)))

    # figures

    def position_rows(self) -> list[tuple[Instrument, float, float]]:
        gw = self.gw
        return [(gw.market.instruments[sym], qty, avg)
                for sym, (qty, avg) in gw.account.positions.items()]  # fmt: skip

    def value_strings(self) -> dict[str, str]:
        raw = self.gw.account.values()
        vals = {k: f"{v:.2f}" for k, v in raw.items()}
        vals["Cushion"] = f"{raw['Cushion']:.6f}"
        vals["Leverage"] = f"{raw['Leverage']:.4f}"
        return vals

    def pnl_row(self) -> tuple[float, ...]:
        a = self.gw.account
        return (round(a.daily_pnl, 2), round(a.unrealized_pnl, 2), round(a.realized_pnl, 2))

    def pnl_single_row(self, symbol: str) -> tuple[float, ...]:
        p = self.gw.account.pnl_single(symbol)
        realized = round(p.realized, 2)
        if realized == 0 and self.gw.realism.pnl_unset_max_double:
            realized = UNSET_DOUBLE  # nothing of it realized today: unset (row 16)
        return (p.position, round(p.daily, 2), round(p.unrealized, 2), realized,
                round(p.value, 2))  # fmt: skip

    def _figures_later(self, s: ClientSession) -> None:
        """The figures after an unset first answer, once IB has computed them (row 16)."""
        if self.gw.realism.pnl_unset_max_double:
            self._after(self.gw.realism.pnl_first_figure_seconds, lambda: self._figures(s))

    def _figures(self, s: ClientSession) -> None:
        self._pnl_sent_at = asyncio.get_running_loop().time()  # IB's pace counts from here
        for req_id, old in list(s.subs.pnl.items()):
            if set(old) == {UNSET_DOUBLE}:
                row = s.subs.pnl[req_id] = self.pnl_row()
                s.send(msg.pnl(req_id, *_unset_text(row)))
        for req_id, (con_id, old_single) in list(s.subs.pnl_single.items()):
            sym = self.gw.market.by_con_id.get(con_id)
            if sym is not None and set(old_single[1:]) == {UNSET_DOUBLE}:
                row = self.pnl_single_row(sym)
                s.subs.pnl_single[req_id] = (con_id, row)
                s.send(msg.pnl_single(req_id, *_unset_text(row)))

    def _first_answer(self, row: tuple[float, ...], keep: int = 0) -> tuple[float, ...]:
        """A subscription's first answer: every value unset while IB has not computed it
        (row 16; the first `keep` fields, a position, are known). The figures follow."""
        if not self.gw.realism.pnl_unset_max_double:
            return row
        return row[:keep] + (UNSET_DOUBLE,) * (len(row) - keep)

    def send_account_values(self, s: ClientSession, force: bool = False) -> bool:
        vals = self.value_strings()
        acct = self._id
        sent = False
        if force:
            s.send(msg.account_value("AccountCode", acct, "", acct))
            s.send(msg.account_value("AccountType", "INDIVIDUAL", "", acct))
            s.send(msg.account_value("AccountReady", "true", "", acct))
            s.send(msg.account_value("Currency", "USD", "USD", acct))
            s.send(msg.account_value("DayTradesRemaining", "-1", "", acct))
        for key, val in vals.items():
            if force or s.subs.values_sent.get(key) != val:
                s.send(msg.account_value(key, val, "USD", acct))
                if key in BASE_TOO:
                    base_key = key if key != "TotalCashValue" else "TotalCashBalance"
                    s.send(msg.account_value(base_key, val, "BASE", acct))
                s.subs.values_sent[key] = val
                sent = True
        return sent

    def send_portfolio(self, s: ClientSession, symbol: str | None, force: bool = False) -> bool:
        gw = self.gw
        sent = False
        symbols = [symbol] if symbol else list(gw.account.holdings)
        for sym in symbols:
            h = gw.account.holdings.get(sym)
            qty = h.quantity if h else 0.0
            if not qty and sym not in s.subs.portfolio_sent:
                continue
            inst = gw.market.instruments[sym]
            price = gw.account.price(sym)
            row = (
                qty,
                price,
                round(qty * price, 2),
                round(h.avg_cost if h else 0.0, 6),
                round(gw.account.unrealized(sym), 2),
                round(gw.account.realized(sym), 2),
            )
            if force or s.subs.portfolio_sent.get(sym) != row:
                s.send(msg.portfolio(inst, *row, self._id))
                sent = True
                if qty:
                    s.subs.portfolio_sent[sym] = row
                else:
                    s.subs.portfolio_sent.pop(sym, None)
        return sent

    # requests

    def routes(self) -> dict[int, Handler]:
        return {
            msg.IN_REQ_POSITIONS: self.req_positions,
            msg.IN_CANCEL_POSITIONS: self.cancel_positions,
            msg.IN_REQ_ACCOUNT_UPDATES: self.req_account_updates,
            msg.IN_REQ_ACCOUNT_UPDATES_MULTI: self.req_account_updates_multi,
            msg.IN_CANCEL_ACCOUNT_UPDATES_MULTI: self.cancel_account_updates_multi,
            msg.IN_REQ_POSITIONS_MULTI: self.req_positions_multi,
            msg.IN_CANCEL_POSITIONS_MULTI: self.cancel_positions_multi,
            msg.IN_REQ_ACCOUNT_SUMMARY: self.req_account_summary,
            msg.IN_CANCEL_ACCOUNT_SUMMARY: lambda s, c: None,
            msg.IN_REQ_PNL: self.req_pnl,
            msg.IN_CANCEL_PNL: self.cancel_pnl,
            msg.IN_REQ_PNL_SINGLE: self.req_pnl_single,
            msg.IN_CANCEL_PNL_SINGLE: self.cancel_pnl_single,
        }

    def req_positions(self, s: ClientSession, c: Cursor) -> None:
        s.subs.positions = True
        for inst, qty, avg in self.position_rows():
            s.send(msg.position(self._id, inst, qty, round(avg, 6)))
        s.send(msg.position_end())

    def cancel_positions(self, s: ClientSession, c: Cursor) -> None:
        s.subs.positions = False

    def req_account_updates(self, s: ClientSession, c: Cursor) -> None:
        c.skip()
        subscribe = c.next_bool()
        c.next_str()  # account code
        if not subscribe:
            s.subs.account_updates = False
            return
        self._after(self.gw.realism.account_download_lag_seconds,
                    lambda: self._download_account(s))

    def _download_account(self, s: ClientSession) -> None:
        """The first answer to reqAccountUpdates: every value and portfolio row, then the end."""
        if s.closed:
            return
        s.subs.account_updates = True
        s.subs.values_sent.clear()
        s.subs.portfolio_sent.clear()
        self.send_account_values(s, force=True)
        self.send_portfolio(s, None, force=True)
        t = self.gw._t()
        s.send(msg.account_time(t))
        s.subs.account_sent_at = t
        s.send(msg.account_download_end(self._id))

    def req_account_updates_multi(self, s: ClientSession, c: Cursor) -> None:
        c.skip()
        req_id = c.next_int()
        c.next_str()  # account
        model = c.next_str()
        self._after(self.gw.realism.account_download_lag_seconds,
                    lambda: self._download_account_multi(s, req_id, model))

    def _download_account_multi(self, s: ClientSession, req_id: int, model: str) -> None:
        if s.closed:
            return
        s.subs.account_multi.add(req_id)
        for key, val in self.value_strings().items():
            s.send(msg.account_update_multi(req_id, self._id, model, key, val, "USD"))
        s.send(msg.account_update_multi_end(req_id))

    def cancel_account_updates_multi(self, s: ClientSession, c: Cursor) -> None:
        c.skip()
        s.subs.account_multi.discard(c.next_int())

    def req_positions_multi(self, s: ClientSession, c: Cursor) -> None:
        c.skip()
        req_id = c.next_int()
        c.next_str()
        model = c.next_str()
        s.subs.positions_multi.add(req_id)
        for inst, qty, avg in self.position_rows():
            s.send(msg.position_multi(req_id, self._id, inst, qty, round(avg, 6), model))
        s.send(msg.position_multi_end(req_id))

    def cancel_positions_multi(self, s: ClientSession, c: Cursor) -> None:
        c.skip()
        s.subs.positions_multi.discard(c.next_int())

    def req_account_summary(self, s: ClientSession, c: Cursor) -> None:
        c.skip()
        req_id = c.next_int()
        c.next_str()  # group
        tags = [t.strip() for t in c.next_str().split(",") if t.strip()]
        vals = self.value_strings()
        for tag in tags:
            if tag == "AccountType":
                s.send(msg.account_summary(req_id, self._id, tag, "INDIVIDUAL", ""))
            elif tag in vals:
                s.send(msg.account_summary(req_id, self._id, tag, vals[tag], "USD"))
        s.send(msg.account_summary_end(req_id))

    def req_pnl(self, s: ClientSession, c: Cursor) -> None:
        req_id = c.next_int()
        row = self._first_answer(self.pnl_row())
        s.subs.pnl[req_id] = row
        s.send(msg.pnl(req_id, *_unset_text(row)))
        self._figures_later(s)

    def cancel_pnl(self, s: ClientSession, c: Cursor) -> None:
        s.subs.pnl.pop(c.next_int(), None)

    def req_pnl_single(self, s: ClientSession, c: Cursor) -> None:
        req_id = c.next_int()
        c.next_str()  # account
        c.next_str()  # model
        con_id = c.next_int()
        inst = self.gw.market.resolve(con_id=con_id)
        if inst is None:
            s.send(msg.error(s.version, req_id, 200,
                             "No security definition has been found for the request"))  # fmt: skip
            return
        row = self._first_answer(self.pnl_single_row(inst.symbol), keep=1)
        s.subs.pnl_single[req_id] = (con_id, row)
        s.send(msg.pnl_single(req_id, *_unset_text(row)))
        self._figures_later(s)

    def cancel_pnl_single(self, s: ClientSession, c: Cursor) -> None:
        s.subs.pnl_single.pop(c.next_int(), None)


def _unset_text(row: tuple[float, ...]) -> list[float | str]:
    """The row as sent: an unset value written out as TWS writes it (the encoder would send an
    empty field, which ib_async reads as 0.0: a figure)."""
    return [UNSET_TEXT if v == UNSET_DOUBLE else v for v in row]
