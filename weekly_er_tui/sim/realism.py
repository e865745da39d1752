"""The realism profile: what a real TWS / IB Gateway does where a kind simulator would not.

Each field switches one behaviour of ../shared/notes/ib-real-behaviour.md (the row number is in
its comment). `Realism.kind()` is the old, kind simulator (every switch off): unit tests of the
wire format use it. `Realism.real()` is a real gateway as documented and recorded: the soak and
the integration tests run on it. A scenario picks a profile and overrides single switches:

    "realism": {"profile": "real", "account_lag_seconds": 0.5}

The gateway reads its switches from `gw.realism` at the moment a behaviour happens, so a test may
also change one on a running gateway.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

# What an account may see of a symbol (row 4): "live" (subscribed), "delayed" (no subscription,
# delayed data enabled, as on a new paper account), "none" (delayed data not enabled either).
MarketDataPermission = Literal["live", "delayed", "none"]


class Realism(BaseModel):
    """Switches of the simulated gateway's real-world behaviour (all off: the kind simulator)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    profile: Literal["kind", "real"] = "kind"

    # Row 1: account values and portfolio rows come this many real seconds after the position
    # change that moved them (0: with it) ...
    account_lag_seconds: float = Field(0.0, ge=0, json_schema_extra={"real": 0.5})
    # ... and otherwise every this many clock seconds (0: whenever a value changed, about once a
    # real second: the kind simulator).
    account_refresh_seconds: float = Field(0.0, ge=0, json_schema_extra={"real": 180.0})
    # Row 1 at a (re)connect: the account's first download after reqAccountUpdates (account
    # values, portfolio rows, accountDownloadEnd; reqAccountUpdatesMulti's values and end too)
    # comes this many real seconds after it, while
    # the positions (reqPositions) come at once. A gateway loading the account after its restart
    # is slow; past the client's connect timeout ib_async gives up waiting and goes on without
    # it. Unverified how long a real one takes: off in the real profile, a test sets it.
    account_download_lag_seconds: float = Field(0.0, ge=0, json_schema_extra={"real": 0.0})
    # Row 8: a position update comes this many real seconds after its fill's execution report.
    position_lag_seconds: float = Field(0.0, ge=0, json_schema_extra={"real": 0.2})
    # Row 7: the farm codes of a real connect: one 2104 per market data farm, 2106, 2107 for an
    # inactive farm, 2158 (the kind simulator: 2104, 2106, 2158). A farm that is down at the
    # connect (gw.emit_connectivity(2103/2105/2157) before it) is 2103/2105/2157 either way.
    farm_codes_at_connect: bool = Field(False, json_schema_extra={"real": True})
    # Some TWS builds never answer a second reqCurrentTime within a second of the first (the
    # reason the connection spaces its heartbeats): requests closer than this go unanswered.
    current_time_spacing_seconds: float = Field(0.0, ge=0, json_schema_extra={"real": 1.0})
    # Row 9: during 1100 (or 2110) orders still work at IB, but their execution reports and the
    # account updates they cause are held until 1101/1102.
    hold_reports_during_1100: bool = Field(False, json_schema_extra={"real": True})
    # Row 4: the account's market-data permission, and per-symbol exceptions. A real funded
    # account is subscribed ("live"); a new paper account is "delayed" (a test or a scenario says
    # so). Without a subscription a live request gets 10089 (354 when delayed is not enabled
    # either) and no ticks, reqMarketDataType(3/4) gets delayed ticks, history gets 162.
    market_data: MarketDataPermission = Field("live", json_schema_extra={"real": "live"})
    market_data_by_symbol: dict[str, MarketDataPermission] = Field(default_factory=dict)
    # Row 4: how far delayed data lags the market (IB: 15-20 minutes).
    delayed_data_minutes: float = Field(15.0, ge=0, le=60, json_schema_extra={"real": 15.0})
    # -- orders and executions (rows 2, 3, 5, 12, 13, 14, 20) ---------------------------------
    # Row 2: a rejection is error 201 plus openOrder/orderStatus `Inactive`, in either order.
    # "alternate": error first for odd permIds, the Inactive status first for even ones.
    rejection_messages: Literal["error_only", "error_first", "status_first", "alternate"] = (
        Field("error_only", json_schema_extra={"real": "alternate"}))
    # Row 3: "Read-Only API" checked in TWS/Gateway: every placeOrder answered by error 321.
    # A setting of the gateway, not a behaviour: off in the real profile too; a scenario sets it.
    read_only: bool = Field(False, json_schema_extra={"real": False})
    # Row 12: the commission report trails its execDetails by this many real seconds.
    commission_delay_seconds: float = Field(0.0, ge=0, json_schema_extra={"real": 0.3})
    # Row 13: the messages of a fill. "paper": PreSubmitted -> execDetails -> openOrder Filled
    # -> orderStatus Filled -> commissionReport, no Submitted for a market order that fills at
    # once; "filled_first": the same with orderStatus Filled before execDetails; "alternate":
    # paper for odd permIds, filled_first for even ones.
    fill_messages: Literal["kind", "paper", "filled_first", "alternate"] = Field(
        "kind", json_schema_extra={"real": "alternate"})
    # Row 14: every n-th reqExecutions answer lacks its execDetailsEnd (0: never). One live
    # capture at v200 shows it, unverified at v178: off in the real profile, a scenario sets it.
    drop_exec_details_end_every: int = Field(0, ge=0, json_schema_extra={"real": 0})
    # Row 20: IB's own price check: a limit more than this percent through the market is
    # accepted, then Cancelled with error 202 "... too far through the market" (0: off).
    price_check_pct: float = Field(0.0, ge=0, json_schema_extra={"real": 10.0})
    # Row 20: IB's own size check: an order worth more than this is error 201 "... please
    # submit a smaller order" (0: off).
    size_check_value: float = Field(0.0, ge=0, json_schema_extra={"real": 2_000_000.0})
    # -- sessions, cancels, P&L, TWS's own settings (rows 10, 11, 15, 16, 19) -----------------
    # Row 10: an outsideRth order works only in extended hours (04:00 ET to 4 hours after the
    # close: 20:00, 17:00 after a 13:00 early close) on trading days; nothing fills on a weekend
    # or holiday: it waits PreSubmitted for the next 04:00. Off: it works at any hour.
    extended_hours_only: bool = Field(False, json_schema_extra={"real": True})
    # Row 11: MOC/LOC by listing exchange: NYSE takes them until 10 minutes before the close
    # (15:50), Nasdaq until 5 minutes before (15:55); after close - 10 minutes none is cancelled
    # or reduced (error 161, the order stays working). Early closes move both. Off: every new
    # MOC/LOC is refused from close - 10 minutes and cancels are always allowed.
    moc_exchange_cutoffs: bool = Field(False, json_schema_extra={"real": True})
    # Row 15: a cancel of an order that has already ended (cancelled, filled) is error 161 "not
    # in a cancellable state", not 10147 "not found".
    cancel_ended_is_161: bool = Field(False, json_schema_extra={"real": True})
    # Row 16: P&L (reqPnL, reqPnLSingle) at most every this many real seconds (0: every round of
    # the account loop) ...
    pnl_interval_seconds: float = Field(0.0, ge=0, json_schema_extra={"real": 1.0})
    # ... and unset values as max-double (1.7976931348623157E308): every value of a
    # subscription's first answer (IB has not computed them yet), and a symbol's realized P&L
    # while nothing of it was realized today.
    pnl_unset_max_double: bool = Field(False, json_schema_extra={"real": True})
    # ... the figures following that first answer this many real seconds later.
    pnl_first_figure_seconds: float = Field(0.0, ge=0, json_schema_extra={"real": 0.3})
    # Row 19: TWS's precautionary settings (Global Configuration > Presets), applied to API
    # orders unless "Bypass Order Precautions for API Orders" is checked: a limit more than this
    # percent off the market, an order worth more than this many USD, or more shares than this
    # is refused by TWS with error 451 naming the constraint (0: no such limit; all 0: bypassed).
    # The real profile: a trader's presets, the Percentage left blank (as TWS allows: resting
    # limits far from the market are common) and a value and a size limit that a large close
    # can meet (TWS's out-of-box values are tighter: captures show 3% and a Total Value Limit
    # of 100,000 USD); a test or scenario sets its own.
    precaution_percentage: float = Field(0.0, ge=0, json_schema_extra={"real": 0.0})
    precaution_total_value: float = Field(0.0, ge=0, json_schema_extra={"real": 1_000_000.0})
    precaution_size_limit: float = Field(0.0, ge=0, json_schema_extra={"real": 100_000.0})

    @classmethod
    def kind(cls) -> Realism:
        return cls()

    @classmethod
    def real(cls, **overrides: object) -> Realism:
        """Every behaviour on, at the values a real gateway shows; `overrides` change single
        switches."""
        fields = {name: info for name, info in cls.model_fields.items() if name != "profile"}
        values: dict[str, object] = {"profile": "real"}
        for name, info in fields.items():
            extra = info.json_schema_extra
            if isinstance(extra, dict) and "real" in extra:
                values[name] = extra["real"]
        values.update(overrides)
        return cls.model_validate(values)

    @classmethod
    def from_spec(cls, spec: dict[str, object] | None) -> Realism:
        """A scenario's `realism` object: a profile, then single overrides."""
        if not spec:
            return cls.kind()
        spec = dict(spec)
        profile = spec.pop("profile", "kind")
        if profile == "real":
            return cls.real(**spec)
        return cls.model_validate({"profile": profile, **spec})


# Adding a behaviour: one field with its kind default and its real value, e.g.
#     account_lag_seconds: float = Field(0.0, ge=0, json_schema_extra={"real": 0.3})  # row 1
# then read `self.realism.account_lag_seconds` where the gateway does that thing.
