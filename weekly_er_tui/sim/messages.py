"""Field layouts of the messages the gateway sends, at a negotiated server version (157..178).

Each function returns the field list of one message (field 0 is the message id). The layouts
mirror what ib_async 2.1.0's `decoder.py` reads, field for field; version-dependent fields follow
the same thresholds. Bool fields are always sent as 1/0 (some clients cannot parse an empty bool).
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from weekly_er_tui.sim.market import Bar, Instrument
from weekly_er_tui.sim.orders import SimExecution, SimOrder
from weekly_er_tui.sim.protocol import UNSET_DOUBLE, Field

ET = ZoneInfo("America/New_York")
TWS_TZ = "America/New_York"

Fields = list[Field]

# incoming message ids
IN_REQ_MKT_DATA = 1
IN_CANCEL_MKT_DATA = 2
IN_PLACE_ORDER = 3
IN_CANCEL_ORDER = 4
IN_REQ_OPEN_ORDERS = 5
IN_REQ_ACCOUNT_UPDATES = 6
IN_REQ_EXECUTIONS = 7
IN_REQ_IDS = 8
IN_REQ_CONTRACT_DETAILS = 9
IN_REQ_AUTO_OPEN_ORDERS = 15
IN_REQ_ALL_OPEN_ORDERS = 16
IN_REQ_MANAGED_ACCTS = 17
IN_REQ_HISTORICAL_DATA = 20
IN_CANCEL_HISTORICAL_DATA = 25
IN_REQ_CURRENT_TIME = 49
IN_REQ_GLOBAL_CANCEL = 58
IN_REQ_MARKET_DATA_TYPE = 59
IN_REQ_POSITIONS = 61
IN_REQ_ACCOUNT_SUMMARY = 62
IN_CANCEL_ACCOUNT_SUMMARY = 63
IN_CANCEL_POSITIONS = 64
IN_START_API = 71
IN_REQ_POSITIONS_MULTI = 74
IN_CANCEL_POSITIONS_MULTI = 75
IN_REQ_ACCOUNT_UPDATES_MULTI = 76
IN_CANCEL_ACCOUNT_UPDATES_MULTI = 77
IN_REQ_HEAD_TIMESTAMP = 87
IN_REQ_PNL = 92
IN_CANCEL_PNL = 93
IN_REQ_PNL_SINGLE = 94
IN_CANCEL_PNL_SINGLE = 95
IN_REQ_COMPLETED_ORDERS = 99

# tick types
TICK_BID_SIZE = 0
TICK_BID = 1
TICK_ASK = 2
TICK_ASK_SIZE = 3
TICK_LAST = 4
TICK_LAST_SIZE = 5
TICK_HIGH = 6
TICK_LOW = 7
TICK_VOLUME = 8
TICK_CLOSE = 9
TICK_OPEN = 14

CONNECTIVITY_MESSAGES: dict[int, str] = {
    1100: "Connectivity between IB and Trader Workstation has been lost.",
    1101: "Connectivity between IB and Trader Workstation has been restored - data lost.*",
    1102: "Connectivity between IB and Trader Workstation has been restored - data maintained. "
    "All data farms are connected: usfarm; ushmds; secdefnj.",
    2103: "Market data farm connection is broken:usfarm",
    2104: "Market data farm connection is OK:usfarm",
    2105: "HMDS data farm connection is broken:ushmds",
    2106: "HMDS data farm connection is OK:ushmds",
    2110: "Connectivity between Trader Workstation and server is broken. "
    "It will be restored automatically.",
    2107: "HMDS data farm connection is inactive but should be available upon demand.cashhmds",
    2157: "Sec-def data farm connection is broken:secdefnj",
    2158: "Sec-def data farm connection is OK:secdefnj",
}


def tws_time(t: float) -> str:
    """`yyyymmdd hh:mm:ss <tz>` in US Eastern time, as TWS writes instants."""
    return datetime.fromtimestamp(t, ET).strftime("%Y%m%d %H:%M:%S ") + TWS_TZ


def handshake_time(t: float) -> str:
    return datetime.fromtimestamp(t, ET).strftime("%Y%m%d %H:%M:%S %Z")


def _num(x: float | None) -> float | None:
    return None if x is None else float(x)


def contract11(inst: Instrument, exchange: str) -> Fields:
    """conId, symbol, secType, lastTradeDate, strike, right, multiplier, exchange, currency,
    localSymbol, tradingClass."""
    return [inst.con_id, inst.symbol, "STK", "", 0.0, "", "", exchange, inst.currency,
            inst.symbol, "NMS"]  # fmt: skip


# connection


def managed_accounts(accounts: str) -> Fields:
    return [15, 1, accounts]


def next_valid_id(order_id: int) -> Fields:
    return [9, 1, order_id]


def error(version: int, req_id: int, code: int, message: str) -> Fields:
    fields: Fields = [4, 2, req_id, code, message]
    if version >= 166:
        fields.append("")  # advancedOrderRejectJson
    return fields


def current_time(epoch: int) -> Fields:
    return [49, 1, epoch]


# market data


def tick_price(req_id: int, tick_type: int, price: float, size: float, attrib: int = 0) -> Fields:
    return [1, 6, req_id, tick_type, price, size, attrib]


def tick_size(req_id: int, tick_type: int, size: float) -> Fields:
    return [2, 6, req_id, tick_type, size]


def tick_price_frame(req_id: int, tick_type: int, price: float, size: float) -> bytes:
    """`tick_price` already framed: the tick loop's hot path (same bytes as encode_fields)."""
    body = f"1\x006\x00{req_id}\x00{tick_type}\x00{price!r}\x00{size!r}\x000\x00".encode()
    return len(body).to_bytes(4, "big") + body


def tick_size_frame(req_id: int, tick_type: int, size: float) -> bytes:
    body = f"2\x006\x00{req_id}\x00{tick_type}\x00{size!r}\x00".encode()
    return len(body).to_bytes(4, "big") + body


def market_data_type(req_id: int, data_type: int) -> Fields:
    return [58, 1, req_id, data_type]


def tick_snapshot_end(req_id: int) -> Fields:
    return [57, 1, req_id]


def contract_details(
    version: int, req_id: int, inst: Instrument, trading_hours: str, liquid_hours: str
) -> Fields:
    fields: Fields = [10]
    if version < 164:
        fields.append(8)
    fields += [
        req_id, inst.symbol, "STK", "", 0.0, "", "SMART", inst.currency, inst.symbol,
        "NMS", "NMS", inst.con_id, 0.01,
    ]  # fmt: skip
    if version < 164:
        fields.append("")  # mdSizeMultiplier
    fields += [
        "",  # multiplier
        "ACTIVETIM,AD,ADJUST,ALERT,ALGO,ALLOC,AVGCOST,BASKET,DAY,GTC,IOC,LIT,LMT,LOC,MIT,MKT,"
        "MOC,MTL,NONALGO,OCA,OPG,POSTONLY,REL,STP,STPLMT,TRAIL,WHATIF",
        f"SMART,{inst.exchange},ARCA,BATS,IEX",
        1,  # priceMagnifier
        0,  # underConId
        inst.name,
        inst.exchange,
        "",  # contractMonth
        inst.sector,  # industry: IB's broad classification, the sector
        inst.industry,  # category
        inst.subcategory,
        "US/Eastern",
        trading_hours,
        liquid_hours,
        "",  # evRule
        "",  # evMultiplier
        0,  # secIdList count
        1,  # aggGroup
        "",  # underSymbol
        "",  # underSecType
        "26",  # marketRuleIds
        "",  # realExpirationDate
        "COMMON",
    ]
    if version == 163:
        fields.append(100.0)  # suggestedSizeIncrement
    if version >= 164:
        fields += [0.0001, 0.0001, 100.0]
    return fields


def contract_details_end(req_id: int) -> Fields:
    return [52, 1, req_id]


def historical_data(req_id: int, start: str, end: str, bars: list[Bar], date_format: int,
                    daily: bool) -> Fields:  # fmt: skip
    fields: Fields = [17, req_id, start, end, len(bars)]
    for b in bars:
        if daily:
            date = datetime.fromtimestamp(b.time, ET).strftime("%Y%m%d")
        elif date_format == 2:
            date = str(b.time)
        else:
            date = tws_time(b.time)
        wap = round((b.high + b.low + b.close) / 3, 4)
        fields += [date, b.open, b.high, b.low, b.close, b.volume, wap, max(1, int(b.volume / 100))]
    return fields


def head_timestamp(req_id: int, stamp: str) -> Fields:
    return [88, req_id, stamp]


# account


def position(account: str, inst: Instrument, qty: float, avg_cost: float) -> Fields:
    return [61, 3, account, *contract11(inst, inst.exchange), qty, avg_cost]


def position_end() -> Fields:
    return [62, 1]


def portfolio(
    inst: Instrument,
    qty: float,
    price: float,
    value: float,
    avg_cost: float,
    unrealized: float,
    realized: float,
    account: str,
) -> Fields:
    return [7, 8, *contract11(inst, inst.exchange), qty, price, value, avg_cost, unrealized,
            realized, account]  # fmt: skip


def account_value(key: str, value: str, currency: str, account: str) -> Fields:
    return [6, 2, key, value, currency, account]


def account_time(t: float) -> Fields:
    return [8, 1, datetime.fromtimestamp(t, ET).strftime("%H:%M")]


def account_download_end(account: str) -> Fields:
    return [54, 1, account]


def account_update_multi(req_id: int, account: str, model: str, key: str, value: str,
                         currency: str) -> Fields:  # fmt: skip
    return [73, 1, req_id, account, model, key, value, currency]


def account_update_multi_end(req_id: int) -> Fields:
    return [74, 1, req_id]


def account_summary(req_id: int, account: str, tag: str, value: str, currency: str) -> Fields:
    return [63, 1, req_id, account, tag, value, currency]


def account_summary_end(req_id: int) -> Fields:
    return [64, 1, req_id]


def position_multi(req_id: int, account: str, inst: Instrument, qty: float, avg_cost: float,
                   model: str) -> Fields:  # fmt: skip
    return [71, 1, req_id, account, *contract11(inst, inst.exchange), qty, avg_cost, model]


def position_multi_end(req_id: int) -> Fields:
    return [72, 1, req_id]


# P&L values are numbers, or the text of an unset one (sim/account_stream.py, row 16).
PnlValue = float | str


def pnl(req_id: int, daily: PnlValue, unrealized: PnlValue, realized: PnlValue) -> Fields:
    return [94, req_id, daily, unrealized, realized]


def pnl_single(req_id: int, pos: PnlValue, daily: PnlValue, unrealized: PnlValue,
               realized: PnlValue, value: PnlValue) -> Fields:  # fmt: skip
    return [95, req_id, pos, daily, unrealized, realized, value]


# orders


def order_status(order: SimOrder) -> Fields:
    return [
        3,
        order.order_id,
        order.status,
        order.filled,
        order.remaining,
        order.avg_fill_price,
        order.perm_id,
        0,  # parentId
        order.last_fill_price,
        order.client_id,
        "",  # whyHeld
        0.0,  # mktCapPrice
    ]


def _order_core(order: SimOrder, inst: Instrument) -> Fields:
    return [
        *contract11(inst, "SMART"),
        order.action,
        order.quantity,
        order.order_type,
        _num(order.lmt_price),
        _num(order.aux_price),
        order.tif,
        "",  # ocaGroup
        order.account,
        "",  # openClose
        0,  # origin
        order.order_ref,
    ]


def _fa_to_exempt_code(version: int) -> Fields:
    """The fields from faGroup to exemptCode, laid out alike in an open and a completed order
    (the decoder reads both with the same steps; faProfile only before version 177)."""
    return [
        "", "", "",  # faGroup, faMethod, faPercentage
        *([""] if version < 177 else []),  # faProfile
        "",  # modelCode
        "",  # goodTillDate
        "",  # rule80A
        None,  # percentOffset
        "",  # settlingFirm
        0,  # shortSaleSlot
        "",  # designatedLocation
        -1,  # exemptCode
    ]  # fmt: skip


def open_order(version: int, order: SimOrder, inst: Instrument) -> Fields:
    f: Fields = [5, order.order_id, *_order_core(order, inst)]
    f += [
        order.client_id, order.perm_id, order.outside_rth, False,  # hidden
        0.0,  # discretionaryAmt
        "",  # goodAfterTime
        "",  # sharesAllocation (deprecated)
        *_fa_to_exempt_code(version),
        0,  # auctionStrategy
        None, None, None, None, None,  # startingPrice, stockRefPrice, delta, range lo/hi
        0,  # displaySize
        False, False, False,  # blockOrder, sweepToFill, allOrNone
        None,  # minQty
        3,  # ocaType
        False, False,  # eTradeOnly, firmQuoteOnly
        None,  # nbboPriceCap
        0,  # parentId
        0,  # triggerMethod
        None,  # volatility
        0,  # volatilityType
        "",  # deltaNeutralOrderType: empty, or the decoder reads a delta-neutral block
        None,  # deltaNeutralAuxPrice
        False,  # continuousUpdate
        0,  # referencePriceType
        None, None, None, None,  # trailStopPrice, trailingPercent, basisPoints, basisPointsType
        "",  # comboLegsDescrip
        0, 0, 0,  # comboLegs, orderComboLegs, smartComboRoutingParams counts
        None, None, None,  # scaleInitLevelSize, scaleSubsLevelSize, scalePriceIncrement
        "",  # hedgeType
        False,  # optOutSmartRouting
        "",  # clearingAccount
        "IB",  # clearingIntent
        False,  # notHeld
        False,  # deltaNeutralContract present
        "",  # algoStrategy
        False,  # solicited
        False,  # whatIf
        order.status,
        "", "", "", "", "", "", "", "", "",  # margin before/change/after
        None, None, None,  # commission, min, max
        "",  # commissionCurrency
        "",  # warningText
        False, False,  # randomizeSize, randomizePrice
        0,  # conditions count
        "",  # adjustedOrderType
        None,  # triggerPrice
        None,  # trailStopPrice
        None,  # lmtPriceOffset
        None, None, None,  # adjustedStopPrice, adjustedStopLimitPrice, adjustedTrailingAmount
        0,  # adjustableTrailingUnit
        "", "", "",  # softDollarTier name, val, displayName
        None,  # cashQty
        False, False, False, False,  # dontUseAutoPriceForHedge, isOmsContainer,
        # discretionaryUpToLimitPrice, usePriceMgmtAlgo
    ]  # fmt: skip
    if version >= 159:
        f.append(None)  # duration
    if version >= 160:
        f.append(None)  # postToAts
    if version >= 162:
        f.append(False)  # autoCancelParent
    if version >= 170:
        f += [None, None, None, None, None]  # minTradeQty .. midOffsetAtHalf
    return f


def open_order_end() -> Fields:
    return [53, 1]


def completed_order(version: int, order: SimOrder, inst: Instrument) -> Fields:
    core = _order_core(order, inst)
    f: Fields = [101, *core]
    f += [
        order.perm_id, order.outside_rth, False,  # hidden
        0.0,  # discretionaryAmt
        "",  # goodAfterTime
        *_fa_to_exempt_code(version),
        None, None, None, None, None,  # startingPrice, stockRefPrice, delta, range lo/hi
        0,  # displaySize
        False, False,  # sweepToFill, allOrNone
        None,  # minQty
        3,  # ocaType
        0,  # triggerMethod
        None,  # volatility
        0,  # volatilityType
        "",  # deltaNeutralOrderType
        None,  # deltaNeutralAuxPrice
        False,  # continuousUpdate
        0,  # referencePriceType
        None, None,  # trailStopPrice, trailingPercent
        "",  # comboLegsDescrip
        0, 0, 0,  # comboLegs, orderComboLegs, smartComboRoutingParams counts
        None, None, None,  # scale sizes and price increment
        "",  # hedgeType
        "",  # clearingAccount
        "IB",  # clearingIntent
        False,  # notHeld
        False,  # deltaNeutralContract present
        "",  # algoStrategy
        False,  # solicited
        order.status,
        False, False,  # randomizeSize, randomizePrice
        0,  # conditions count
        None,  # trailStopPrice
        None,  # lmtPriceOffset
        None,  # cashQty
        False, False,  # dontUseAutoPriceForHedge, isOmsContainer
        "",  # autoCancelDate
        order.filled,  # filledQuantity
        0,  # refFuturesConId
        False,  # autoCancelParent
        "",  # shareholder
        False, False,  # imbalanceOnly, routeMarketableToBbo
        0,  # parentPermId
        tws_time(order.completed_at) if order.completed_at is not None else "",
        order.completed_status,
    ]  # fmt: skip
    if version >= 170:
        f += [None, None, None, None, None]
    return f


def completed_orders_end() -> Fields:
    return [102]


def exec_details(version: int, req_id: int, ex: SimExecution, inst: Instrument) -> Fields:
    f: Fields = [
        11, req_id, ex.order_id, *contract11(inst, inst.exchange),
        ex.exec_id, tws_time(ex.time.timestamp()), ex.account, inst.exchange, ex.side, ex.qty,
        ex.price, ex.perm_id, ex.client_id,
        0,  # liquidation
        ex.cum_qty, ex.avg_price, ex.order_ref,
        "",  # evRule
        None,  # evMultiplier
        "",  # modelCode
        2 if ex.order_id else 1,  # lastLiquidity: removed (taker) for API orders
    ]  # fmt: skip
    if version >= 178:
        f.append(False)  # pendingPriceRevision
    return f


def exec_details_end(req_id: int) -> Fields:
    return [55, 1, req_id]


def commission_report(ex: SimExecution) -> Fields:
    realized = UNSET_DOUBLE if ex.realized_pnl is None else round(ex.realized_pnl, 4)
    return [59, 1, ex.exec_id, ex.commission, "USD", realized, UNSET_DOUBLE, None]


def utc_stamp(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y%m%d-%H:%M:%S")
