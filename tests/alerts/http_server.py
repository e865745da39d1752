"""A real HTTP server (the standard library's) on 127.0.0.1, in a thread, for apprise to post to.

apprise's `json://`, `form://` and `ntfy://` URLs pointed at it deliver like any web service.
Requests are collected in order; `wait_for(n)` waits on a condition the handler signals, with a
bound, so no test sleeps and hopes. `answer` sets the status (and body) of the next replies, e.g.
a 401 that echoes the request (path, headers and body) back, as some services do.
"""

from __future__ import annotations

import asyncio
import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from tests.alerts.smtp_server import free_port


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode()).items()}


class LocalHttpServer:
    """Records every request; answers 200, or what `answer()` says (`echo`: the request back)."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.status = 200
        self.echo = False
        self.port = 0
        self._changed = threading.Condition()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def answer(self, status: int, *, echo: bool = False) -> None:
        self.status, self.echo = status, echo

    def start(self, port: int | None = None) -> LocalHttpServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                req = Request("POST", self.path, dict(self.headers.items()),
                              self.rfile.read(length))
                status, echo = server.status, server.echo
                reply = (
                    json.dumps({"error": "unauthorized", "request": self.path,
                                "headers": req.headers, "body": req.body.decode()})
                    if echo else '{"ok": true}'
                ).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)
                with server._changed:
                    server.requests.append(req)
                    server._changed.notify_all()

            do_PUT = do_POST

            def log_message(self, format: str, *args: Any) -> None:
                pass  # the server's own access log is not the product's

        self._httpd = ThreadingHTTPServer(("127.0.0.1", port or 0), Handler)
        self._httpd.daemon_threads = True
        self.port = int(self._httpd.server_address[1])
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True,
                                        name=f"test http server :{self.port}")
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def __enter__(self) -> LocalHttpServer:
        return self.start() if self._httpd is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def url(self, scheme: str = "json", path: str = "/hook") -> str:
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    def _wait(self, count: int, timeout: float) -> list[Request]:
        with self._changed:
            if not self._changed.wait_for(lambda: len(self.requests) >= count, timeout):
                raise AssertionError(
                    f"expected {count} request(s) within {timeout}s, got {len(self.requests)}"
                )
            return list(self.requests)

    async def wait_for(self, count: int, timeout: float = 5.0) -> list[Request]:
        """The first requests once at least `count` arrived (AssertionError after `timeout`)."""
        return await asyncio.to_thread(self._wait, count, timeout)


__all__ = ["LocalHttpServer", "Request", "free_port"]
