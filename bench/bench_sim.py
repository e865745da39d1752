"""How fast the simulated gateway talks: tick messages per second to one client, connect time.

    python bench/bench_sim.py

- ticks_200_symbols: one raw TWS-protocol client subscribes to 200 symbols and the gateway pushes
  full tick sets as fast as the socket drains (tick_interval 0). Baseline, measured in the same
  run: a bare asyncio server writing the same encoded tick messages to the same kind of reader
  (the most any Python server could push through loopback). Target: at least 50,000 messages/s.
- ticks_to_ib_async: the same stream decoded by a real ib_async.IB client (the client's decoder is
  the limit here); baseline: the simulator rate above.
- connect_ib_async: a complete ib_async connectAsync (handshake, startApi, positions, open and
  completed orders, account updates, executions) to the demo account. Baseline: a bare TCP
  connect to the same port. Target: under 100 ms.
- market_order_round_trip: placeOrder to the commission report; baseline: reqCurrentTime.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ib_async import IB, MarketOrder, Stock

from weekly_er_tui.clock import ManualClock
from weekly_er_tui.sim import SimulatedGateway, load_scenario, parse_scenario
from weekly_er_tui.sim import messages as msg
from weekly_er_tui.sim.protocol import encode_fields, handshake_request

START = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
N_SYMBOLS = 200
WINDOW_S = 1.5


def _scenario(n: int) -> Any:
    symbols = {
        f"S{i:03d}": {"price": 20.0 + i, "sector": f"Sector{i % 8}", "volatility": 0.3}
        for i in range(n)
    }
    return parse_scenario({"account": {"id": "DU1", "cash": 1e6}, "symbols": symbols})


async def _count_frames(reader: asyncio.StreamReader, seconds: float, warmup: float) -> float:
    """Messages per second read from `reader` over `seconds`, after `warmup` seconds."""
    loop = asyncio.get_running_loop()
    buf = b""
    count = 0
    t_start = loop.time() + warmup
    t_end = t_start + seconds
    counting = False
    while True:
        now = loop.time()
        if now >= t_end:
            break
        if not counting and now >= t_start:
            counting, count = True, 0
        data = await reader.read(1 << 16)
        if not data:
            break
        buf += data
        pos = 0
        n = len(buf)
        while n - pos >= 4:
            size = int.from_bytes(buf[pos : pos + 4], "big")
            if n - pos - 4 < size:
                break
            pos += 4 + size
            count += 1
        buf = buf[pos:]
    return count / seconds


async def _raw_client(port: int, n: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(handshake_request(157, 178))
    writer.write(encode_fields([71, 2, 1, ""]))
    for i in range(n):
        contract = [0, f"S{i:03d}", "STK", "", 0.0, "", "", "SMART", "", "USD", "", ""]
        writer.write(encode_fields([1, 11, 1000 + i, *contract, False, "", False, False, ""]))
    await writer.drain()
    return reader, writer


async def tick_rate() -> float:
    clock = ManualClock(START)
    async with SimulatedGateway(_scenario(N_SYMBOLS), clock, tick_interval=0) as gw:
        reader, writer = await _raw_client(gw.port, N_SYMBOLS)
        try:
            return await _count_frames(reader, WINDOW_S, warmup=0.3)
        finally:
            writer.close()


async def baseline_rate() -> float:
    """A bare asyncio server writing pre-encoded tick messages (8 per symbol) in a loop."""
    batch = b"".join(
        encode_fields(f)
        for i in range(N_SYMBOLS)
        for f in (
            msg.tick_price(1000 + i, 1, 20.0 + i, 300.0),
            msg.tick_price(1000 + i, 2, 20.02 + i, 200.0),
            msg.tick_price(1000 + i, 4, 20.01 + i, 100.0),
            msg.tick_size(1000 + i, 8, 123400.0),
            msg.tick_price(1000 + i, 6, 21.0 + i, 0.0),
            msg.tick_price(1000 + i, 7, 19.0 + i, 0.0),
            msg.tick_price(1000 + i, 14, 20.5 + i, 0.0),
            msg.tick_price(1000 + i, 9, 20.4 + i, 0.0),
        )
    )

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                writer.write(batch)
                await writer.drain()
        except (ConnectionError, OSError):
            pass

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        return await _count_frames(reader, WINDOW_S, warmup=0.3)
    finally:
        writer.close()
        server.close()


async def ib_async_rate() -> float:
    clock = ManualClock(START)
    async with SimulatedGateway(_scenario(N_SYMBOLS), clock, tick_interval=0) as gw:
        ib = IB()
        await ib.connectAsync("127.0.0.1", gw.port, clientId=1, timeout=10)
        try:
            for i in range(N_SYMBOLS):
                con_id = gw.market.instruments[f"S{i:03d}"].con_id
                ib.reqMktData(Stock(f"S{i:03d}", "SMART", "USD", conId=con_id))
            await asyncio.sleep(0.5)
            before = ib.client._numMsgRecv
            t0 = time.perf_counter()
            await asyncio.sleep(WINDOW_S)
            return (ib.client._numMsgRecv - before) / (time.perf_counter() - t0)
        finally:
            ib.disconnect()


async def connect_times(n: int = 15) -> tuple[float, float, float, float]:
    """Medians (ms): ib_async connect, bare TCP connect, market order round trip, current time."""
    clock = ManualClock(START)
    connects: list[float] = []
    bare: list[float] = []
    orders: list[float] = []
    pings: list[float] = []
    async with SimulatedGateway(load_scenario("demo"), clock, engine_interval=0.01) as gw:
        for i in range(n):
            t0 = time.perf_counter()
            _, w = await asyncio.open_connection("127.0.0.1", gw.port)
            bare.append((time.perf_counter() - t0) * 1000)
            w.close()
            ib = IB()
            t0 = time.perf_counter()
            await ib.connectAsync("127.0.0.1", gw.port, clientId=100 + i, timeout=10)
            connects.append((time.perf_counter() - t0) * 1000)
            t0 = time.perf_counter()
            await ib.reqCurrentTimeAsync()
            pings.append((time.perf_counter() - t0) * 1000)
            done = asyncio.Event()
            t0 = time.perf_counter()
            trade = ib.placeOrder(Stock("AAPL", "SMART", "USD"), MarketOrder("BUY", 1))
            trade.commissionReportEvent += lambda *_, ev=done: ev.set()
            await asyncio.wait_for(done.wait(), 5)
            orders.append((time.perf_counter() - t0) * 1000)
            ib.disconnect()
            await gw.wait_for(lambda: not gw.clients)
    med = statistics.median
    return med(connects), med(bare), med(orders), med(pings)


async def _measure() -> list[dict[str, Any]]:
    sim = await tick_rate()
    base = await baseline_rate()
    client = await ib_async_rate()
    connect, bare, order, ping = await connect_times()
    return [
        {"name": "ticks_200_symbols", "value": round(sim), "unit": "msg/s",
         "baseline": round(base), "ratio": round(sim / base, 3), "target": 50_000,
         "met": sim >= 50_000},
        {"name": "ticks_to_ib_async", "value": round(client), "unit": "msg/s",
         "baseline": round(sim), "ratio": round(client / sim, 3), "target": 10_000,
         "met": client >= 10_000},
        {"name": "connect_ib_async", "value": round(connect, 2), "unit": "ms",
         "baseline": round(bare, 3), "ratio": round(connect / bare, 1), "target": 100,
         "met": connect <= 100},
        {"name": "market_order_round_trip", "value": round(order, 2), "unit": "ms",
         "baseline": round(ping, 3), "ratio": round(order / ping, 1), "target": 50,
         "met": order <= 50},
    ]  # fmt: skip


def run() -> list[dict[str, Any]]:
    """One row per measurement: name, value, unit, baseline, ratio, target (and met)."""
    return asyncio.run(_measure())


def main() -> None:
    rows = run()
    header = f"{'name':<26} {'value':>12} {'unit':>6} {'baseline':>12} {'ratio':>7} {'target':>8}"
    print(header)
    print("-" * len(header))
    for r in rows:
        flag = "" if r["met"] else "  MISSED TARGET"
        print(
            f"{r['name']:<26} {r['value']:>12,} {r['unit']:>6} {r['baseline']:>12,} "
            f"{r['ratio']:>7} {r['target']:>8,}{flag}"
        )


if __name__ == "__main__":
    main()
