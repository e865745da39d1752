"""Why an alert was not sent names the setting that decided it, and a refused login names the
settings that fix it.

A trader read "Alert logged (no email or SMS at this priority)" on every alert with email off,
with no word of which threshold or which key; and a server that wants a login while the config
gives none got the Gmail app-password hint. A real SMTP server (aiosmtpd) on loopback.
"""

from __future__ import annotations

import asyncio
import logging

import pytest

from tests.alerts.conftest import alerts_config, events, running
from tests.alerts.smtp_server import Authenticator, LocalSmtpServer, free_port
from weekly_er_tui.alerts import AlertManager
from weekly_er_tui.clock import ManualClock
from weekly_er_tui.config import AlertsConfig
from weekly_er_tui.journal import Journal
from weekly_er_tui.model import Severity


def logged(journal: Journal) -> list[str]:
    return [str(e["message"]) for e in events(journal, "ALERT_SENT")
            if e["details"].get("channel") == "log"]


async def test_below_the_thresholds_names_each_key_and_its_value(
    journal: Journal, clock: ManualClock
) -> None:
    cfg = alerts_config(free_port(), email_min_priority="HIGH", sms_min_priority="CRITICAL",
                        sms_recipients=["5551234567@sms.example"])
    manager = AlertManager(cfg, journal, clock)
    manager.notify("position_entry", "Entered AAPL: bought 100 @ 187.20", priority=Severity.MEDIUM)
    assert logged(journal) == [
        "Alert logged, not sent: MEDIUM is below alerts.email_min_priority=HIGH and "
        "alerts.sms_min_priority=CRITICAL: [MEDIUM] Entered AAPL: bought 100 @ 187.20"]


async def test_with_email_off_it_says_which_key_turns_it_on(
    journal: Journal, clock: ManualClock
) -> None:
    manager = AlertManager(AlertsConfig(), journal, clock)
    manager.notify("connection_lost", "Connection lost to 127.0.0.1:7497")
    assert logged(journal) == [
        "Alert logged, not sent: no channel is on (alerts.email_enabled is false, no "
        "alerts.notify): [HIGH] Connection lost to 127.0.0.1:7497"]


# The server under test demands AUTH on a plain connection on purpose (the relay a trader met);
# aiosmtpd warns that such a server is unsafe, which is the point, not a problem of this suite.
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
async def test_a_server_that_wants_a_login_the_config_does_not_give_names_the_keys(
    journal: Journal, clock: ManualClock, caplog: object
) -> None:
    # No AUTH offered on a plain loopback link, but a login required: 530 on MAIL FROM.
    auth = Authenticator({"trader@example.com": "pw"})
    async with LocalSmtpServer(authenticator=auth, auth_required=True) as server:
        logging.getLogger("mail.log").setLevel(logging.WARNING)
        try:
            manager = AlertManager(alerts_config(server.port), journal, clock)
            async with running(manager):
                manager.notify("emergency_stop", "Emergency stop: portfolio -10.4%")
                assert await manager.drain(5)
                await asyncio.sleep(0)
        finally:
            logging.getLogger("mail.log").setLevel(logging.NOTSET)
        assert server.messages == []
    [failed] = events(journal, "ALERT_FAILED")
    error = failed["details"]["error"]
    assert "530" in error, error
    assert ("the server requires a login and none is configured: set alerts.email_user and "
            "alerts.email_password (or the WEEKLY_ER_EMAIL_PASSWORD environment variable)"
            ) in error, error
    assert "app password" not in error, error


async def test_a_server_without_login_and_a_configured_user_says_to_remove_the_user(
    journal: Journal, clock: ManualClock
) -> None:
    # The trader's finding 22: a loopback relay with no AUTH, email_user set; the hint said
    # "use port 465 or 587", the fix is to remove the login.
    async with LocalSmtpServer(offer_auth=False) as server:
        cfg = alerts_config(server.port, email_user="trader@example.com",
                            email_password="s3cret-pw")
        manager = AlertManager(cfg, journal, clock)
        async with running(manager):
            manager.notify("emergency_stop", "Emergency stop: portfolio -10.4%")
            assert await manager.drain(5)
        assert server.messages == []
    [failed] = events(journal, "ALERT_FAILED")
    error = failed["details"]["error"]
    assert ("offers no login (no AUTH), but alerts.email_user is set: remove alerts.email_user "
            "and alerts.email_password (and WEEKLY_ER_EMAIL_PASSWORD)") in error, error
    assert "does not support what alerts.smtp_security" not in error, error
