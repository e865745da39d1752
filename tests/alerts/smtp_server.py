"""A real SMTP server (aiosmtpd) on 127.0.0.1, run on the test's own event loop.

Messages are collected in order; `wait_for(n)` waits on an event the handler sets, with a bound,
so no test sleeps and hopes.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    raw: bytes
    login: str | None
    tls: bool

    @property
    def subject(self) -> str:
        return str(self.message.get("Subject", ""))

    @property
    def text(self) -> str:
        part = self.message.get_body(("plain",))
        assert part is not None
        return str(part.get_content()).replace("\r\n", "\n")


class Collector:
    def __init__(self) -> None:
        self.messages: list[Received] = []
        self._changed = asyncio.Event()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        data = session.auth_data
        login = data.login.decode() if session.authenticated and isinstance(data, LoginPassword) \
            else None
        self.messages.append(
            Received(str(envelope.mail_from), list(envelope.rcpt_tos), msg, raw, login,
                     session.ssl is not None)
        )
        self._changed.set()
        return "250 Message accepted for delivery"

    async def wait_for(self, count: int, timeout: float = 5.0) -> list[Received]:
        async with asyncio.timeout(timeout):
            while len(self.messages) < count:
                self._changed.clear()
                await self._changed.wait()
        return self.messages


class Authenticator:
    """Accepts `users`; on a failed login optionally echoes the password back in the reply, the
    way a careless server might, to prove the client scrubs what the library raises."""

    def __init__(self, users: dict[str, str], echo_password: bool = False) -> None:
        self.users = users
        self.echo_password = echo_password
        self.attempts: list[tuple[str, str]] = []

    def __call__(self, server: SMTP, session: Session, envelope: Envelope, mechanism: str,
                 auth_data: Any) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        user, password = auth_data.login.decode(), auth_data.password.decode()
        self.attempts.append((user, password))
        if self.users.get(user) == password:
            return AuthResult(success=True, auth_data=auth_data)
        if self.echo_password:
            return AuthResult(success=False, handled=False,
                              message=f"535 5.7.8 Bad credentials {user}/{password}")
        return AuthResult(success=False, handled=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LocalSmtpServer:
    """aiosmtpd on 127.0.0.1. `starttls` offers (and with `require_starttls` demands) STARTTLS;
    `implicit_tls` wraps the listening socket (port-465 style); `offer_auth=False` offers no
    login on a plain link."""

    def __init__(
        self,
        *,
        starttls: ssl.SSLContext | None = None,
        require_starttls: bool = False,
        implicit_tls: ssl.SSLContext | None = None,
        authenticator: Authenticator | None = None,
        auth_required: bool = False,
        offer_auth: bool = True,
    ) -> None:
        self.handler = Collector()
        self.starttls = starttls
        self.require_starttls = require_starttls
        self.implicit_tls = implicit_tls
        self.authenticator = authenticator
        self.auth_required = auth_required
        # False: no AUTH in the EHLO answer (a relay that takes mail without a login).
        self.offer_auth = offer_auth
        self.port = 0
        self._server: asyncio.AbstractServer | None = None
        self._sessions: list[SMTP] = []

    @property
    def messages(self) -> list[Received]:
        return self.handler.messages

    def _factory(self) -> SMTP:
        smtp = SMTP(
            self.handler,
            hostname="localhost",
            tls_context=self.starttls,
            require_starttls=self.require_starttls,
            authenticator=self.authenticator,
            auth_required=self.auth_required,
            # AUTH only over TLS: on a plain link that is no AUTH offered at all.
            auth_require_tls=(self.starttls is not None or self.implicit_tls is not None
                              or not self.offer_auth),
            enable_SMTPUTF8=True,
            loop=asyncio.get_running_loop(),
        )
        self._sessions.append(smtp)
        return smtp

    async def start(self, port: int = 0) -> int:
        self._server = await asyncio.get_running_loop().create_server(
            self._factory, host="127.0.0.1", port=port or self.port, ssl=self.implicit_tls,
        )
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self.port

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for smtp in self._sessions:
            if smtp.transport is not None:
                smtp.transport.close()
        self._sessions.clear()
        await asyncio.sleep(0)

    async def __aenter__(self) -> LocalSmtpServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
