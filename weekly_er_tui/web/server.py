"""The web cockpit's server: textual-serve's page and websocket, each browser session its own
`weekly-er-tui attach` (read-only unless the trader allowed control), behind the token.

Every request passes `guard` first: a loopback server answers only to a loopback Host (a page
of another site reaching 127.0.0.1 through DNS rebinding names its own host); when a token is
needed, a request without it is refused (403, a plain sentence), `?token=` once sets an HttpOnly
SameSite=Strict cookie; a websocket opened by a page of another origin is refused. The page,
the websocket and the static assets alike.

Each session is journaled by the engine (`web_session` on the control socket), start and end.
With no engine running, the page says so and how to start one, and tries again every 5 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import secrets
import shlex
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jinja2
from aiohttp import WSCloseCode, web
from textual_serve.app_service import AppService
from textual_serve.server import Server, to_int

from weekly_er_tui.control.client import NoEngine, request
from weekly_er_tui.control.commands import candidate_sockets
from weekly_er_tui.web.access import Access, host_of

log = logging.getLogger("weekly_er_tui.web")

TEMPLATES = Path(__file__).resolve().parent / "templates"
PROBE_TIMEOUT_S = 5.0
RETRY_S = 5
STOP_TIMEOUT_S = 10.0
PAGE = web.AppKey("page", jinja2.Template)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Engine:
    """The running engine a session attaches to."""

    socket: Path
    data_dir: str
    pid: int


@dataclass(frozen=True)
class WebOptions:
    data_dir: Path
    account: str = ""
    config: str | None = None
    allow_control: bool = False


class CockpitServer(Server):
    """textual-serve's Server, with its URLs made from each request's own Host (so a page
    opened as http://10.1.2.3:8765/ talks back to that address, not to the bind address),
    our page template (no fonts fetched from the internet), and the guard above."""

    def __init__(self, options: WebOptions, access: Access, host: str, port: int) -> None:
        super().__init__("weekly-er-tui attach", host=host, port=port,
                         title="Weekly ER — web cockpit", templates_path=TEMPLATES)
        self.options = options
        self.access = access
        self._sockets: set[web.WebSocketResponse] = set()
        self._runner: web.AppRunner | None = None

    # -- starting and stopping -------------------------------------------------------------
    async def start(self) -> int:
        """Bind and serve; the port it listens on (the one asked, or the kernel's for 0).
        OSError when the address cannot be bound (cli/web.py says which flag to change)."""
        app = await self._make_app()
        runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        port = int(runner.addresses[0][1])
        self.port = port
        self.access = replace(self.access, port=port)
        return port

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def _make_app(self) -> web.Application:
        app = web.Application(middlewares=[self.guard])
        env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True)
        app[PAGE] = env.get_template("app_index.html")
        app.add_routes([
            web.get("/", self.handle_index, name="index"),
            web.get("/ws", self.handle_websocket, name="websocket"),
            web.static("/static", self.statics_path, show_index=False, name="static"),
        ])
        app.on_shutdown.append(self._close_sessions)
        return app

    async def _close_sessions(self, _app: web.Application) -> None:
        for ws in list(self._sockets):
            await ws.close(code=WSCloseCode.GOING_AWAY, message=b"the web server stopped")

    # -- the guard -------------------------------------------------------------------------
    @web.middleware
    async def guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        access = self.access
        if not access.host_ok(request.headers.get("Host")):
            return refused(f"this server answers only on this machine (it is bound to "
                           f"{self.host}): open http://127.0.0.1:{access.port}/ here, or "
                           f"through `ssh -L {access.port}:127.0.0.1:{access.port} <host>` "
                           f"from elsewhere.")
        given = request.query.get("token") or request.cookies.get(access.cookie)
        if not access.token_ok(given):
            return refused("this cockpit needs its token. Open "
                           f"http://{request.host}/?token=<the token> once (the browser keeps "
                           "it); the token is in the file that `weekly-er-tui web` named when "
                           "it started, on the machine it runs on.")
        origin = request.headers.get("Origin")
        if (request.path == "/ws" and origin
                and origin.split("://", 1)[-1].rstrip("/") != request.host):
            return refused(f"a page of {host_of(origin)} may not open this cockpit's session.")
        if access.token is not None and "token" in request.query and request.path == "/":
            # Into the cookie, out of the address bar (and the browser's history).
            rest = {k: v for k, v in request.query.items() if k != "token"}
            response = web.Response(status=303, headers={
                "Location": "/" + (f"?{urlencode(rest)}" if rest else ""),
                "Cache-Control": "no-store"})
            response.set_cookie(access.cookie, access.token, httponly=True, samesite="Strict",
                                path="/")
            return response
        return await handler(request)

    # -- the page --------------------------------------------------------------------------
    async def handle_index(self, request: web.Request) -> web.StreamResponse:
        engine = await self.find_engine()
        if engine is None:
            return no_engine_page(self.options.data_dir)
        base = f"{request.scheme}://{request.host}"
        ws = f"{'wss' if request.scheme == 'https' else 'ws'}://{request.host}/ws"
        try:
            font_size = int(request.query.get("fontsize", "16"))
        except ValueError:
            font_size = 16
        page = request.app[PAGE].render(
            font_size=max(6, min(font_size, 48)), app_websocket_url=ws,
            static_url=f"{base}/static/", title=self.title,
            mode="with control" if self.options.allow_control else "read-only",
            engine=engine)
        return web.Response(text=page, content_type="text/html",
                            headers={"Cache-Control": "no-store"})

    # -- one browser session ---------------------------------------------------------------
    def attach_command(self, engine: Engine) -> str:
        """The cockpit one browser session runs: attach to the engine, read-only unless the
        trader started this server with --allow-control."""
        words = [sys.executable, "-m", "weekly_er_tui.cli", "attach", "--data-dir",
                 engine.data_dir, "--web"]
        if not self.options.allow_control:
            words.append("--read-only")
        if self.options.config:
            words += ["--config", self.options.config]
        return shlex.join(words)

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        engine = await self.find_engine()
        if engine is None:
            raise web.HTTPServiceUnavailable(
                text=f"No engine is running for {self.options.data_dir}: nothing to watch.")
        fields = {"session": secrets.token_hex(4), "peer": request.remote or "?",
                  "control": self.options.allow_control}
        began = time.monotonic()
        await self.journal(engine, event="start", **fields)
        try:
            return await self._session(request, self.attach_command(engine))
        finally:
            await self.journal(engine, event="end", seconds=round(time.monotonic() - began, 1),
                               **fields)

    async def _session(self, request: web.Request, command: str) -> web.WebSocketResponse:
        """textual-serve's session: `command` in a process of its own, its screen and keys
        over the websocket, until either side leaves."""
        websocket = web.WebSocketResponse(heartbeat=15)
        width = to_int(request.query.get("width", "80"), 80)
        height = to_int(request.query.get("height", "24"), 24)
        service: AppService | None = None
        self._sockets.add(websocket)
        try:
            await websocket.prepare(request)
            async def close() -> None:
                await websocket.close()

            service = AppService(command, write_bytes=websocket.send_bytes,
                                 write_str=websocket.send_str, close=close,
                                 download_manager=self.download_manager, debug=False)
            await service.start(width, height)
            await self._process_messages(websocket, service)
        except asyncio.CancelledError:
            await websocket.close()
        except Exception:
            log.exception("web session failed")
        finally:
            self._sockets.discard(websocket)
            if service is not None:
                await stop_cockpit(service)
        return websocket

    # -- the engine ------------------------------------------------------------------------
    async def find_engine(self) -> Engine | None:
        """The engine `attach` would find from here, or None when none answers."""
        for path in candidate_sockets(self.options.data_dir, self.options.account,
                                      any_engine=True):
            try:
                reply = await request(path, "status", timeout=PROBE_TIMEOUT_S)
            except (NoEngine, ConnectionError, TimeoutError, OSError, ValueError):
                continue
            who = reply.get("engine", {})
            return Engine(path, str(who.get("data_dir", self.options.data_dir)),
                          int(who.get("pid", 0)))
        return None

    async def journal(self, engine: Engine, **fields: Any) -> None:
        """Tell the engine of a session's start or end; it journals it as an event."""
        try:
            reply = await request(engine.socket, "web_session", timeout=PROBE_TIMEOUT_S,
                                  **fields)
        except (NoEngine, ConnectionError, TimeoutError, OSError, ValueError) as exc:
            log.warning("web session %s %s not journaled: the engine did not answer (%s)",
                        fields.get("session"), fields.get("event"), exc)
            return
        if not reply.get("ok"):
            log.warning("web session %s %s not journaled: %s", fields.get("session"),
                        fields.get("event"), reply.get("error"))


async def stop_cockpit(service: AppService) -> None:
    """Ask the session's cockpit to quit (it detaches; the engine goes on); kill it if it has
    not within STOP_TIMEOUT_S."""
    process = service._process
    try:
        await asyncio.wait_for(service.stop(), STOP_TIMEOUT_S)
    except TimeoutError:
        if process is not None and process.returncode is None:
            log.warning("web session: the cockpit (pid %s) did not quit; killed", process.pid)
            with contextlib.suppress(ProcessLookupError):
                process.kill()
    if process is not None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(process.wait(), STOP_TIMEOUT_S)
        # textual-serve leaves the pipes' transport to the garbage collector, which warns
        # (and, after the loop closed, raises); close it now that the process is reaped.
        transport = getattr(process, "_transport", None)
        if transport is not None:
            transport.close()


def refused(why: str) -> web.Response:
    return web.Response(status=403, text=f"403 Forbidden: {why}\n",
                        headers={"Cache-Control": "no-store"})


def no_engine_page(data_dir: Path) -> web.Response:
    d = html.escape(str(data_dir))
    body = f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><meta http-equiv="refresh" content="{RETRY_S}">
<title>Weekly ER — no engine running</title>
<style>body{{background:#0c181f;color:#e8eef2;font-family:monospace;margin:3em;line-height:1.6}}
code{{background:#12232d;padding:.1em .4em}}</style></head>
<body><h1>No engine is running</h1>
<p>No weekly-er-tui engine answers for <code>{d}</code>: there is no cockpit to show.</p>
<p>Start one on the machine that serves this page:</p>
<ul><li>on IB: <code>weekly-er-tui run --headless --data-dir {d}</code></li>
<li>on the simulator (no IB account): <code>make demo</code>, or
<code>weekly-er-tui demo --headless --data-dir {d}</code></li></ul>
<p>This page tries again every {RETRY_S} seconds.</p></body></html>
"""
    return web.Response(status=503, text=body, content_type="text/html",
                        headers={"Cache-Control": "no-store"})
