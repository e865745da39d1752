"""Subjects, bodies and SMS texts a person can act on; template files; SMS within 160."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.alerts.conftest import alerts_config
from weekly_er_tui.alerts.kinds import KINDS
from weekly_er_tui.alerts.templates import (
    SMS_LIMIT,
    TemplateError,
    Templates,
    build_context,
    check_template,
    fit_sms,
    sms_length,
    sms_safe,
)
from weekly_er_tui.model import Alert, Severity

WHEN = datetime(2026, 11, 23, 19, 2, 5, tzinfo=UTC)
EMERGENCY = Alert(
    key="emergency_stop",
    priority=Severity.CRITICAL,
    kind="safety",
    title="Emergency stop: portfolio -10.4% (limit -10%)",
    body="The portfolio fell 10.4% from the session baseline, past the emergency stop-loss.",
    facts={"drawdown": "-10.4%", "net_liquidation": 89880.5, "symbols": ["AAPL", "MSFT"]},
)


def context(alert: Alert = EMERGENCY, **kw: object) -> dict[str, str]:
    args: dict[str, object] = {
        "when": WHEN, "host": "tradebox", "account": "DU1234567",
        "positions": "AAPL 100 @ 187.20 uPnL -1,240.00\nDay P&L -10,432.50",
    }
    args.update(kw)
    return build_context(alert, alert.priority, KINDS[alert.key.split(":")[0]], **args)  # type: ignore[arg-type]


def test_subject_names_system_priority_and_what_happened() -> None:
    assert Templates().subject_for(context()) == (
        "[Weekly ER][CRITICAL] Emergency stop: portfolio -10.4% (limit -10%)"
    )


def test_body_gives_time_host_account_trigger_action_positions_and_next_steps() -> None:
    body = Templates().body_for(context())
    for text in (
        "Time:     2026-11-23 14:02:05 EST (2026-11-23 19:02:05 UTC)",
        "Host:     tradebox",
        "Account:  DU1234567",
        "What triggered it:\n  The portfolio fell 10.4%",
        "  drawdown: -10.4%\n  net liquidation: 89,880.50\n  symbols: AAPL, MSFT",
        "What the system did:\n  Closing ALL positions with market orders",
        "Current positions and P&L:\n  AAPL 100 @ 187.20 uPnL -1,240.00\n  Day P&L -10,432.50",
        "What you should do next:\n  Check in the app or TWS that every closing order filled",
    ):
        assert text in body
    assert "\n\n\n" not in body  # no repeats: no empty paragraph left behind


def test_missing_positions_and_account_say_so() -> None:
    body = Templates().body_for(context(positions="", account=""))
    assert "Current positions and P&L:\n  (not available)" in body
    assert "Account:  (not known yet)" in body


def test_repeated_count_in_subject_body_and_sms() -> None:
    since = datetime(2026, 11, 23, 19, 2, tzinfo=UTC)
    ctx = context(repeated=(12, since))
    templates = Templates()
    assert templates.subject_for(ctx).endswith("(limit -10%) (x12 since 14:02)")
    assert "Repeated 12 times since 14:02 ET" in templates.body_for(ctx)
    assert "(x12 since 14:02)" in templates.sms_for(ctx)


def test_template_files_replace_the_built_in_formats(tmp_path: Path) -> None:
    (tmp_path / "subject.txt").write_text("ALERT {priority}: {title} on {host}\n")
    (tmp_path / "body.txt").write_text("{title}\nAt {time_et}. Do this: {next_steps}\n{{literal}}")
    (tmp_path / "sms.txt").write_text("{priority} {title}")
    cfg = alerts_config(1025, subject_template=str(tmp_path / "subject.txt"),
                        body_template=str(tmp_path / "body.txt"),
                        sms_template=str(tmp_path / "sms.txt"))
    templates = Templates.from_config(cfg)
    ctx = context()
    assert templates.subject_for(ctx) == (
        "ALERT CRITICAL: Emergency stop: portfolio -10.4% (limit -10%) on tradebox"
    )
    body = templates.body_for(ctx)
    assert body.startswith("Emergency stop: portfolio -10.4% (limit -10%)\nAt 2026-11-23 14:02:05")
    assert body.rstrip().endswith("{literal}")
    assert templates.sms_for(ctx) == "CRITICAL Emergency stop: portfolio -10.4% (limit -10%)"


def test_bad_template_files_are_errors_naming_the_field_and_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "subject.txt"
    bad.write_text("{priority} {titel}")
    cfg = alerts_config(1025, subject_template=str(bad),
                        body_template=str(tmp_path / "missing.txt"))
    with pytest.raises(TemplateError) as info:
        Templates.from_config(cfg)
    problems = info.value.problems
    assert any(p.startswith(f"alerts.subject_template ({bad}): unknown placeholder {{titel}}")
               for p in problems)
    assert any(p.startswith("alerts.body_template: cannot read") for p in problems)


@pytest.mark.parametrize("text, problem", [
    ("{title.__class__}", "cannot use"),
    ("{0}", "needs a name"),
    ("{}", "needs a name"),
    ("{title", "not a valid template"),
    ("{title:d}", "cannot be rendered"),
])
def test_check_template_rejects_what_cannot_render_safely(text: str, problem: str) -> None:
    assert any(problem in p for p in check_template(text))


def test_subject_stays_on_one_line() -> None:
    alert = Alert("order_error", Severity.HIGH, "trading", "Order error\nBcc: someone@evil")
    assert "\n" not in Templates().subject_for(context(alert))


def test_sms_shortens_the_title_and_keeps_priority_and_time() -> None:
    alert = Alert("emergency_stop", Severity.CRITICAL, "safety",
                  "Emergency stop: portfolio -10.4% (limit -10%) — " + "closing everything " * 20)
    text = Templates().sms_for(context(alert))
    assert sms_length(text) <= SMS_LIMIT
    assert text.startswith("Weekly ER CRITICAL: Emergency stop: portfolio -10.4% (limit -10%) - ")
    assert text.endswith("... (14:02 ET)")


def test_sms_text_is_plain_gsm_friendly_ascii() -> None:
    assert sms_safe("Stop — “AAPL” … `x`\n€5 Ünïcode") == 'Stop - "AAPL" ... \'x\' 5 Unicode'
    assert sms_length("[a]") == 5  # GSM-7 extension characters count twice


@given(
    title=st.text(max_size=400),
    body=st.text(max_size=100),
    template=st.sampled_from([
        "Weekly ER {priority}: {title}{repeated_short} ({time_et_short} ET)",
        "{title} {title} {title}",
        "[[[{priority}]]] {host} {account} {title}",
        "{what_happened} ~~~ {next_steps}",
    ]),
)
def test_any_sms_fits_in_160(title: str, body: str, template: str) -> None:
    alert = Alert("order_error", Severity.HIGH, "trading", title, body)
    text = fit_sms(template, context(alert, host="h" * 50))
    assert sms_length(text) <= SMS_LIMIT
    assert text.isascii() and "\n" not in text
