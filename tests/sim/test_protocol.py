"""Framing, the handshake and every message layout, checked with ib_async's own decoder."""

from __future__ import annotations

import asyncio
import struct
from datetime import UTC, datetime
from typing import Any

import pytest
from ib_async.decoder import Decoder

from weekly_er_tui.sim import messages as msg
from weekly_er_tui.sim.market import Bar, Instrument
from weekly_er_tui.sim.orders import SimExecution, SimOrder
from weekly_er_tui.sim.protocol import (
    UNSET_DOUBLE,
    FrameReader,
    ProtocolError,
    VersionRange,
    encode_fields,
    format_field,
    handshake_request,
    parse_version_request,
    split_fields,
)
from weekly_er_tui.sim.server import SimulatedGateway

VERSIONS = (157, 163, 164, 166, 170, 176, 177, 178)


class Recorder:
    """A stand-in for ib_async's Wrapper: records every call the decoder makes."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.defaultTimezone = UTC

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)

        def record(*args: Any) -> None:
            self.calls.append((name, args))

        return record


def decode(version: int, fields: list[Any]) -> tuple[str, tuple[Any, ...]]:
    """Run ib_async's handler for one message; its exceptions propagate (no silent drop)."""
    rec = Recorder()
    dec = Decoder(rec, version)  # type: ignore[arg-type]
    wire = split_fields(encode_fields(fields)[4:])
    dec.handlers[int(wire[0])](wire)
    assert len(rec.calls) >= 1, f"decoder made no call for {wire[0]}"
    return rec.calls[-1]


INST = Instrument("AAPL", 200.0, 0.3, sector="Technology", industry="Computers",
                  subcategory="Computers", exchange="NASDAQ", name="Apple Inc")  # fmt: skip


def sample_order(status: str = "Submitted") -> SimOrder:
    return SimOrder(
        perm_id=1100000007, client_id=3, order_id=42, symbol="AAPL", con_id=INST.con_id,
        action="BUY", quantity=100.0, order_type="LMT", lmt_price=199.5, aux_price=None,
        tif="DAY", outside_rth=False, order_ref="er-2026-11-23-AAPL", account="DU1",
        placed_at=1795446000.0, day=1, status=status, filled=40.0, avg_fill_price=199.4,
        last_fill_price=199.45, completed_at=1795460000.0, completed_status="Filled",
    )  # fmt: skip


def sample_execution(realized: float | None = None) -> SimExecution:
    return SimExecution(
        exec_id="0000abcd.261123.01.01", order_id=42, perm_id=1100000007, client_id=3,
        order_ref="er-2026-11-23-AAPL", symbol="AAPL", con_id=INST.con_id, side="BOT", qty=40.0,
        price=199.4, time=datetime(2026, 11, 23, 15, 0, 5, tzinfo=UTC), commission=1.0,
        realized_pnl=realized, cum_qty=40.0, avg_price=199.4, account="DU1",
    )  # fmt: skip


def test_format_field() -> None:
    assert format_field(True) == "1" and format_field(False) == "0"
    assert format_field(None) == "" and format_field(UNSET_DOUBLE) == ""
    assert format_field(12) == "12" and format_field(190.57) == "190.57"
    assert format_field(float("inf")) == "Infinite"


def test_frames_round_trip_in_pieces() -> None:
    data = encode_fields([4, 2, -1, 2104, "ok"]) + encode_fields([49, 1, 1795446000])
    reader = FrameReader()
    got: list[list[str]] = []
    for i in range(len(data)):
        got += reader.feed(data[i : i + 1])
    assert got == [["4", "2", "-1", "2104", "ok"], ["49", "1", "1795446000"]]
    with pytest.raises(ProtocolError):
        FrameReader().feed(struct.pack(">I", 1 << 30))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (b"v157..178", 178),
        (b"v100..187", 178),  # a newer official client
        (b"v100..187 +PACEAPI", 178),
        (b"v157..170", 170),
        (b"v178", 178),
        (b"v100..150", None),  # cannot speak that old
        (b"v190..200", None),  # protobuf era: not this gateway
    ],
)
def test_version_negotiation(text: bytes, expected: int | None) -> None:
    assert parse_version_request(text).negotiate() == expected


def test_bad_version_string() -> None:
    with pytest.raises(ProtocolError, match="bad handshake"):
        parse_version_request(b"hello")
    assert VersionRange(157, 178, "+PACEAPI").options == "+PACEAPI"


async def _raw_handshake(port: int, request: bytes) -> tuple[list[list[str]], bool]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    frames = FrameReader()
    got: list[list[str]] = []
    closed = False
    try:
        while not got:
            data = await asyncio.wait_for(reader.read(4096), 2)
            if not data:
                closed = True
                break
            got += frames.feed(data)
    finally:
        writer.close()
    return got, closed


@pytest.mark.parametrize(("lo", "hi", "expected"), [(100, 187, "178"), (157, 163, "163")])
async def test_handshake_answers_version_and_time(
    gateway: SimulatedGateway, lo: int, hi: int, expected: str
) -> None:
    got, _ = await _raw_handshake(gateway.port, handshake_request(lo, hi))
    version, when = got[0]
    assert version == expected
    assert when.startswith("20261123 10:00:00")  # the simulated clock, in US Eastern time


async def test_handshake_from_a_too_old_client_is_closed(gateway: SimulatedGateway) -> None:
    got, closed = await _raw_handshake(gateway.port, handshake_request(100, 150))
    assert got == [] and closed


@pytest.mark.kind_simulator(
    "pins the kind simulator's three farm codes; a real connect's are "
    'tests/connection farm-code tests')
async def test_raw_client_start_api_gets_accounts_and_next_id(gateway: SimulatedGateway) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", gateway.port)
    writer.write(handshake_request(100, 187))
    writer.write(encode_fields([71, 2, 11, ""]))
    frames = FrameReader()
    got: list[list[str]] = []
    while len(got) < 6:
        got += frames.feed(await asyncio.wait_for(reader.read(4096), 2))
    writer.close()
    assert got[1] == ["15", "1", "DU1000001"]
    assert got[2] == ["9", "1", "1"]
    assert [f[3] for f in got[3:6]] == ["2104", "2106", "2158"]
    assert all(len(f) == 6 for f in got[3:6])  # v178: advancedOrderRejectJson present


@pytest.mark.parametrize("version", VERSIONS)
def test_open_order_layout(version: int) -> None:
    fields = msg.open_order(version, sample_order(), INST)
    if version == 178:
        assert len(fields) == 127
    name, (order_id, contract, order, state) = decode(version, fields)
    assert name == "openOrder" and order_id == 42
    assert contract.symbol == "AAPL" and contract.conId == INST.con_id
    assert order.clientId == 3 and order.permId == 1100000007
    assert order.orderRef == "er-2026-11-23-AAPL" and order.lmtPrice == 199.5
    assert order.totalQuantity == 100 and order.orderType == "LMT" and order.tif == "DAY"
    assert not order.outsideRth and order.deltaNeutralOrderType == "" and order.algoStrategy == ""
    assert state.status == "Submitted"
    assert order.usePriceMgmtAlgo is False and order.clearingIntent == "IB"


@pytest.mark.parametrize("version", VERSIONS)
def test_completed_order_layout(version: int) -> None:
    name, (contract, order, state) = decode(
        version, msg.completed_order(version, sample_order("Filled"), INST)
    )
    assert name == "completedOrder"
    assert contract.symbol == "AAPL" and order.permId == 1100000007
    assert order.orderRef == "er-2026-11-23-AAPL" and state.status == "Filled"
    assert state.completedStatus == "Filled" and state.completedTime.startswith("20261123")
    assert order.filledQuantity == 40


@pytest.mark.parametrize("version", VERSIONS)
def test_exec_details_layout(version: int) -> None:
    fields = msg.exec_details(version, -1, sample_execution(), INST)
    assert len(fields) == (32 if version >= 178 else 31)
    name, (req_id, contract, ex) = decode(version, fields)
    assert name == "execDetails" and req_id == -1
    assert contract.symbol == "AAPL"
    assert (ex.execId, ex.side, ex.shares, ex.price) == ("0000abcd.261123.01.01", "BOT", 40, 199.4)
    assert (ex.permId, ex.clientId, ex.orderId) == (1100000007, 3, 42)
    assert ex.orderRef == "er-2026-11-23-AAPL" and ex.cumQty == 40 and ex.avgPrice == 199.4
    assert ex.time == datetime(2026, 11, 23, 15, 0, 5, tzinfo=UTC)


@pytest.mark.parametrize("version", VERSIONS)
def test_contract_details_layout(version: int) -> None:
    name, (req_id, cd) = decode(version, msg.contract_details(version, 5, INST, "x", "y"))
    assert name == "contractDetails" and req_id == 5
    assert cd.contract.symbol == "AAPL" and cd.contract.conId == INST.con_id
    assert (cd.industry, cd.category, cd.subcategory) == ("Technology", "Computers", "Computers")
    assert cd.longName == "Apple Inc" and cd.contract.primaryExchange == "NASDAQ"
    assert cd.minTick == 0.01 and cd.stockType == "COMMON"
    if version >= 164:
        assert cd.suggestedSizeIncrement == 100


@pytest.mark.parametrize("version", (157, 165, 166, 178))
def test_error_layout(version: int) -> None:
    name, args = decode(version, msg.error(version, 42, 201, "Order rejected - reason: x"))
    assert name == "error" and args == (42, 201, "Order rejected - reason: x", "")


def test_fixed_size_messages() -> None:
    position = msg.position("DU1", INST, 100.0, 180.0)
    assert len(position) == 16
    assert decode(178, position)[1][2:] == (100.0, 180.0)
    portfolio = msg.portfolio(INST, 100.0, 201.0, 20100.0, 180.0, 2100.0, 0.0, "DU1")
    assert len(portfolio) == 20
    _, args = decode(178, portfolio)
    assert args[0].primaryExchange == "NASDAQ" and args[1:] == (
        100,
        201,
        20100,
        180,
        2100,
        0,
        "DU1",
    )
    status = msg.order_status(sample_order())
    assert len(status) == 12
    assert decode(178, status)[1] == (
        42,
        "Submitted",
        40,
        60,
        199.4,
        1100000007,
        0,
        199.45,
        3,
        "",
        0,
    )
    report = msg.commission_report(sample_execution(realized=12.5))
    assert len(report) == 8
    cr = decode(178, report)[1][0]
    assert (cr.execId, cr.commission, cr.realizedPNL) == ("0000abcd.261123.01.01", 1.0, 12.5)
    opening = decode(178, msg.commission_report(sample_execution(realized=None)))[1][0]
    assert opening.realizedPNL == 0
    assert decode(178, msg.pnl(7, -12.5, 300.0, 0.0))[1] == (7, -12.5, 300.0, 0.0)
    assert decode(178, msg.pnl_single(8, 100, 1.0, 2.0, 3.0, 4.0))[1] == (
        8,
        100,
        1.0,
        2.0,
        3.0,
        4.0,
    )
    assert decode(178, msg.completed_orders_end()) == ("completedOrdersEnd", ())
    assert decode(178, msg.tick_price(3, 1, 199.99, 300.0)) == (
        "priceSizeTick",
        (3, 1, 199.99, 300.0),
    )
    assert decode(178, msg.current_time(1795446000)) == ("currentTime", (1795446000,))


def test_historical_data_layout() -> None:
    bars = [Bar(1795444200, 1, 200.0, 201.0, 199.0, 200.5, 1e6)]
    rec = Recorder()
    dec = Decoder(rec, 178)  # type: ignore[arg-type]
    wire = split_fields(encode_fields(msg.historical_data(4, "a", "b", bars, 1, True))[4:])
    dec.handlers[17](wire)
    (name, (req_id, bar)), end = rec.calls
    assert name == "historicalData" and req_id == 4 and bar.date == "20261123"
    assert (bar.open, bar.high, bar.low, bar.close, bar.volume) == (200, 201, 199, 200.5, 1e6)
    assert end == ("historicalDataEnd", (4, "a", "b"))
