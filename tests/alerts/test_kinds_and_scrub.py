"""The kinds table (and its README copy), scrubbing secrets, and channel security settings."""

from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path

import aiosmtplib
import pytest

from tests.alerts.conftest import PASSWORD, alerts_config
from weekly_er_tui.alerts import KINDS, scrub
from weekly_er_tui.alerts.channels import SmtpTransport, resolve_security, secret_forms
from weekly_er_tui.alerts.kinds import kind_name, markdown_table, priority_for
from weekly_er_tui.config import AlertsConfig, ConfigError, parse_config
from weekly_er_tui.model import Severity

README = Path(__file__).parents[2] / "weekly_er_tui" / "alerts" / "README.md"


def test_every_kind_of_the_guide_is_there_with_a_category_and_advice() -> None:
    guide = {
        "connection": {"connection_lost", "reconnected", "reconnect_failed"},
        "safety": {"limit_breach", "emergency_stop", "trading_paused", "trading_halted"},
        "trading": {"position_entry", "position_exit", "order_error"},
    }
    for category, names in guide.items():
        for name in names:
            assert KINDS[name].category == category
    for kind in KINDS.values():
        assert kind.category in {"connection", "safety", "trading", "system"}
        assert kind.action and kind.next_steps and kind.when
    assert KINDS["emergency_stop"].priority is Severity.CRITICAL
    assert KINDS["reconnect_failed"].priority is Severity.CRITICAL


def test_readme_table_is_the_kinds_table() -> None:
    assert markdown_table() in README.read_text()


def test_priority_override_order() -> None:
    overrides = {"position_entry": Severity.HIGH}
    assert priority_for("position_entry", overrides, Severity.INFO) is Severity.HIGH
    assert priority_for("limit_breach", overrides, Severity.CRITICAL) is Severity.CRITICAL
    assert priority_for("limit_breach", overrides) is Severity.MEDIUM
    assert priority_for("no_such_kind", overrides) is Severity.MEDIUM
    assert kind_name("order_rejected:AAPL:123") == "order_rejected"


def test_scrub_masks_every_secret_and_its_encodings() -> None:
    forms = secret_forms("me@gmail.com", PASSWORD)
    plain_b64 = base64.b64encode(f"\0me@gmail.com\0{PASSWORD}".encode()).decode()
    text = f"535 bad {PASSWORD}; AUTH PLAIN {plain_b64}; repr {PASSWORD!r}"
    out = scrub(text, forms)
    assert PASSWORD not in out and plain_b64 not in out
    assert out == "535 bad ********; AUTH PLAIN ********; repr '********'"
    assert scrub("nothing to hide", ["", "x" * 0]) == "nothing to hide"
    assert secret_forms("me", "") == ()
    # A password with quotes or backslashes as repr() shows it inside other text.
    tricky = "a'b\\c"
    assert tricky not in scrub(repr(("x", tricky)), secret_forms("u", tricky))
    assert "b\\\\c" not in scrub(repr(("x", tricky)), secret_forms("u", tricky))


def test_library_errors_are_scrubbed_and_explained() -> None:
    cfg = alerts_config(587, smtp_server="smtp.gmail.com", smtp_security="auto",
                        email_user="me@gmail.com", email_password=PASSWORD)
    transport = SmtpTransport(cfg)
    err = transport._explain(aiosmtplib.SMTPAuthenticationError(535, f"no {PASSWORD}"))
    assert PASSWORD not in err.text and not err.transient
    assert "Check email credentials, enable app passwords" in err.text
    err = transport._explain(aiosmtplib.SMTPConnectError(f"refused {PASSWORD}"))
    assert err.transient and PASSWORD not in err.text
    assert err.text.startswith("cannot reach smtp.gmail.com:587")
    err = transport._explain(aiosmtplib.SMTPResponseException(451, "try later"))
    assert err.transient
    err = transport._explain(aiosmtplib.SMTPRecipientsRefused([]))
    assert not err.transient and "alerts.recipients" in err.text
    assert PASSWORD not in repr(cfg) and PASSWORD not in str(transport.__dict__.get("config"))


@pytest.mark.parametrize("port, security, expected", [
    (465, "auto", "tls"), (587, "auto", "starttls"), (2525, "auto", "starttls"),
    (2525, "tls", "tls"), (465, "starttls", "starttls"),
])
def test_security_follows_the_port_unless_set(port: int, security: str, expected: str) -> None:
    cfg = AlertsConfig.model_validate(
        {"smtp_server": "smtp.example.com", "smtp_port": port, "smtp_security": security}
    )
    assert resolve_security(cfg) == expected


@pytest.mark.parametrize("server", ["127.0.0.1", "127.8.9.10", "::1", "[::1]", "localhost",
                                    "LOCALHOST.", "mail.localhost"])
def test_plain_smtp_is_allowed_on_loopback(server: str) -> None:
    assert AlertsConfig.model_validate({"smtp_server": server, "smtp_security": "none"})


@pytest.mark.parametrize("server", ["smtp.gmail.com", "10.0.0.5", "192.168.1.2", "::2",
                                    "localhost.example.com"])
def test_plain_smtp_elsewhere_is_a_config_error_naming_the_field(server: str) -> None:
    text = f'{{"alerts": {{"smtp_server": "{server}", "smtp_security": "none"}}}}'
    with pytest.raises(ConfigError) as info:
        parse_config(text)
    [problem] = info.value.problems
    assert problem.startswith("alerts.smtp_security: 'none' (plain SMTP")
    assert repr(server) in problem


def test_alerts_package_loads_neither_textual_nor_ib_async() -> None:
    code = (
        "import sys, weekly_er_tui.alerts, weekly_er_tui.alerts.testalert; "
        "bad = [m for m in ('textual', 'ib_async') if m in sys.modules]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
