from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import trustme

from weekly_er_tui.alerts import AlertManager
from weekly_er_tui.clock import ManualClock
from weekly_er_tui.config import AlertsConfig
from weekly_er_tui.journal import Journal, read_csv

# Monday 2026-11-23 14:02 in New York.
START = datetime(2026, 11, 23, 19, 2, tzinfo=UTC)
PASSWORD = "s3cr3t-App-Pa55word"


def alerts_config(port: int, **overrides: Any) -> AlertsConfig:
    """Email to two recipients through the loopback server on `port`, fast retries."""
    data: dict[str, Any] = {
        "email_enabled": True,
        "smtp_server": "127.0.0.1",
        "smtp_port": port,
        "smtp_security": "none",
        "smtp_timeout": 5,
        "email_from": "weekly-er@example.com",
        "recipients": ["trader@example.com", "partner@example.com"],
        "retry_initial_delay": 0.05,
        "retry_max_delay": 0.2,
    }
    data.update(overrides)
    return AlertsConfig.model_validate(data)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def journal(tmp_path: Path, clock: ManualClock) -> Iterator[Journal]:
    j = Journal(tmp_path, clock)
    yield j
    j.close()


def events(journal: Journal, *types: str) -> list[dict[str, Any]]:
    """events_log.csv rows (details parsed), optionally of the given event types."""
    import json

    rows = read_csv(journal.events.path)
    out = []
    for row in rows:
        if types and row["event_type"] not in types:
            continue
        out.append({**row, "details": json.loads(row["details"] or "{}")})
    return out


@contextlib.asynccontextmanager
async def running(manager: AlertManager) -> AsyncIterator[asyncio.Task[None]]:
    """The manager's sender as a background task, cancelled (and awaited) on exit."""
    task = asyncio.create_task(manager.run())
    await asyncio.sleep(0)
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def ca_file(tmp_path: Path, ca: trustme.CA) -> str:
    path = tmp_path / "test-ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture(scope="session")
def server_tls(ca: trustme.CA) -> ssl.SSLContext:
    """The server side: a certificate for 127.0.0.1 signed by the test's own CA."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(ctx)
    return ctx


# A token as apprise URLs carry them (in the path, the user part or the password).
TOKEN = "tk_Zq8S3cr3tT0kenValue4alerts"


def notify_config(*entries: dict[str, Any], **overrides: Any) -> AlertsConfig:
    """apprise channels only (no email), fast retries."""
    data: dict[str, Any] = {
        "notify": list(entries),
        "retry_initial_delay": 0.05,
        "retry_max_delay": 0.2,
    }
    data.update(overrides)
    return AlertsConfig.model_validate(data)
