"""`weekly-er-tui web` over real HTTP on loopback (aiohttp's client against the real server, a
real engine on the simulated gateway behind its control socket): the token on the page, the
websocket and the static assets; a loopback server answers only to loopback names; a page of
another site may not open a session; the page with no engine says how to start one; each
browser session is journaled by the engine, start and end; a key that acts is refused in
read-only mode, saying how to act from the web."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import aiohttp
import pytest

from tests.engine.rig import Rig
from tests.fixtures_sim import wait_until
from tests.web.conftest import TOKEN, web_server
from weekly_er_tui.model import EventType, TradingState

ASSETS = ("/", "/ws", "/static/js/textual.js", "/static/css/xterm.css")
ANSI = re.compile(r"\x1b\[[0-9;?<>=]*[ -/]*[@-~]"  # CSI: colours, cursor moves
                  r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"  # OSC: titles
                  r"|\x1b[()=>][0-9A-Za-z]?")


def client() -> aiohttp.ClientSession:
    # unsafe=True: keep the cookie of a server addressed by IP, as a browser does.
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


def base(port: int, host: str = "127.0.0.1") -> str:
    return f"http://{host}:{port}"


async def test_without_the_token_every_request_is_refused_and_with_it_the_page_opens(
    rig: Rig,
) -> None:
    await rig.start_engine()
    async with web_server(rig.data_dir, token=TOKEN) as server, client() as http:
        url = base(server.port)
        for path in ASSETS:
            for query in ("", "?token=wrong-token-of-the-right-length"):
                async with http.get(url + path + query, allow_redirects=False) as r:
                    assert r.status == 403, (path, query)
                    text = await r.text()
                    assert "needs its token" in text and TOKEN not in text
        # The token once in the address: into an HttpOnly, SameSite=Strict cookie, then out of
        # the address bar.
        async with http.get(f"{url}/?token={TOKEN}&fontsize=14", allow_redirects=False) as r:
            assert r.status == 303 and r.headers["Location"] == "/?fontsize=14"
            cookie = r.headers["Set-Cookie"]
            assert f"wer_web_{server.port}={TOKEN}" in cookie
            assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
        for path in ("/", "/static/js/textual.js", "/static/css/xterm.css"):
            async with http.get(url + path) as r:
                assert r.status == 200, path
        async with http.ws_connect(f"{url}/ws?width=100&height=30") as ws:
            message = await asyncio.wait_for(ws.receive(), 30)
            assert message.type is aiohttp.WSMsgType.BINARY


async def test_a_loopback_server_answers_only_to_loopback_names(rig: Rig) -> None:
    """A page of another site that DNS-rebinding pointed at 127.0.0.1 sends its own Host."""
    await rig.start_engine()
    async with web_server(rig.data_dir) as server, client() as http:
        url = base(server.port)
        async with http.get(url + "/") as r:
            assert r.status == 200
        async with http.get(f"http://localhost:{server.port}/") as r:
            assert r.status == 200
        for path in ASSETS:
            async with http.get(url + path, headers={"Host": f"evil.example:{server.port}"}) as r:
                assert r.status == 403
                assert "answers only on this machine" in await r.text()


async def test_a_page_of_another_site_may_not_open_a_session(rig: Rig) -> None:
    await rig.start_engine()
    async with web_server(rig.data_dir) as server, client() as http:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await http.ws_connect(f"{base(server.port)}/ws",
                                  headers={"Origin": "http://evil.example"})
        assert refused.value.status == 403


async def test_the_page_talks_back_to_the_address_it_was_opened_at(rig: Rig) -> None:
    """Bound to every interface, the page's websocket URL is the address the browser used, not
    the bind address (textual-serve's own page would say ws://0.0.0.0:PORT/ws)."""
    await rig.start_engine()
    async with web_server(rig.data_dir, token=TOKEN, host="0.0.0.0") as server, client() as http:
        async with http.get(f"{base(server.port)}/?token={TOKEN}",
                            headers={"Host": f"10.77.0.1:{server.port}"}) as r:
            assert r.status == 200
            page = await r.text()
        assert f'data-session-websocket-url="ws://10.77.0.1:{server.port}/ws"' in page
        assert f'src="http://10.77.0.1:{server.port}/static/js/textual.js"' in page
        assert "0.0.0.0" not in page
        assert "googleapis" not in page  # nothing fetched from elsewhere


async def test_with_no_engine_the_page_says_so_and_how_to_start_one(tmp_path: Path) -> None:
    data = tmp_path / "no-engine-here"
    async with web_server(data) as server, client() as http:
        async with http.get(base(server.port) + "/") as r:
            assert r.status == 503
            page = await r.text()
        assert "No engine is running" in page and str(data) in page
        assert f"weekly-er-tui run --headless --data-dir {data}" in page
        assert "make demo" in page and 'http-equiv="refresh"' in page
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await http.ws_connect(base(server.port) + "/ws")
        assert refused.value.status == 503


async def screen_until(ws: aiohttp.ClientWebSocketResponse, *words: str,
                       timeout: float = 30) -> str:
    """The session's screen output (escape codes taken out) until every word has shown."""
    seen = ""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    flat = ""
    while not all(w in flat for w in words):
        left = deadline - loop.time()
        assert left > 0, f"never shown: {[w for w in words if w not in flat]} in {flat[-3000:]!r}"
        try:
            message = await asyncio.wait_for(ws.receive(), left)
        except TimeoutError:
            raise AssertionError(f"never shown: {words} in {flat[-3000:]!r}") from None
        if message.type is aiohttp.WSMsgType.BINARY:
            seen += message.data.decode("utf-8", "replace")
            flat = re.sub(r"\s+", " ", ANSI.sub(" ", seen))
        elif message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
            raise AssertionError(f"the session closed before showing {words}")
    return flat


async def test_each_session_is_journaled_and_read_only_refuses_a_key_that_acts(
    rig: Rig,
) -> None:
    engine = await rig.start_engine()
    async with web_server(rig.data_dir) as server, client() as http:
        async with http.ws_connect(f"{base(server.port)}/ws?width=160&height=48") as ws:
            await screen_until(ws, "Positions (1)", "KO")
            started = [e for e in rig.events(EventType.SYSTEM)
                       if e["message"].startswith("Web session")]
            assert len(started) == 1 and "started" in started[0]["message"]
            assert started[0]["details"]["peer"] == "127.0.0.1"
            assert started[0]["details"]["control"] is False
            session = started[0]["details"]["session"]

            await ws.send_json(["stdin", "p"])
            flat = await screen_until(ws, "refused, nothing sent", "web page",
                                      "--allow-control")
            assert "Read-only: p (pause) refused" in flat
            assert engine.safety.trading_state is TradingState.ACTIVE

        def ended() -> bool:
            return any(e["message"].startswith(f"Web session {session} ended")
                       for e in rig.events(EventType.SYSTEM))

        await wait_until(ended, timeout=20)
    assert engine.safety.trading_state is TradingState.ACTIVE
    assert engine.store.trading_state()[0] is TradingState.ACTIVE


async def test_with_allow_control_the_page_acts_and_flatten_still_asks_first(rig: Rig) -> None:
    engine = await rig.start_engine()
    async with web_server(rig.data_dir, token=TOKEN, allow_control=True) as server, \
            client() as http:
        url = f"{base(server.port)}/ws?width=160&height=48&token={TOKEN}"
        async with http.ws_connect(url) as ws:
            await screen_until(ws, "Positions (1)", "KO")
            started = [e for e in rig.events(EventType.SYSTEM)
                       if e["message"].startswith("Web session")]
            assert started[-1]["details"]["control"] is True
            assert "with control (--allow-control)" in started[-1]["message"]

            await ws.send_json(["stdin", "p"])
            await wait_until(lambda: engine.safety.trading_state is TradingState.PAUSED,
                             timeout=20)

            await ws.send_json(["stdin", "F"])
            await screen_until(ws, "EMERGENCY FLATTEN", "Cancel every open order")
            await ws.send_json(["stdin", "\x1b"])  # Esc: cancelled
            await screen_until(ws, "Flatten cancelled: nothing sent")
            assert rig.sim_position("KO") == 100


async def test_stopping_the_server_ends_its_sessions_journaled_and_leaves_the_engine(
    rig: Rig,
) -> None:
    engine = await rig.start_engine()
    async with client() as http:
        async with web_server(rig.data_dir) as server:
            ws = await http.ws_connect(f"{base(server.port)}/ws?width=120&height=40")
            await screen_until(ws, "Positions (1)")
        # The server stopped: the page is told the session went away, the end is journaled.
        closing = await asyncio.wait_for(ws.receive(), 20)
        while closing.type not in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
            closing = await asyncio.wait_for(ws.receive(), 20)
        # (1001 "going away" when the page is reading; this client was not, during stop().)
        assert ws.closed
        await ws.close()
    messages = [e["message"] for e in rig.events(EventType.SYSTEM)
                if e["message"].startswith("Web session")]
    assert len(messages) == 2 and "started" in messages[0] and "ended" in messages[1]
    assert engine.state.is_running
