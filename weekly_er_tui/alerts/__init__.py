"""Alerts: one AlertManager (priority, de-duplication, rate limit, queues, retries) and its
channels (email and SMS over SMTP, push and SMS services through apprise, plus the UI's alert log
and events_log.csv)."""

from weekly_er_tui.alerts.channels import AlertConfigError, DeliveryError, scrub
from weekly_er_tui.alerts.kinds import KINDS, AlertKind
from weekly_er_tui.alerts.manager import AlertManager
from weekly_er_tui.alerts.setup import config_problems

__all__ = [
    "KINDS", "AlertConfigError", "AlertKind", "AlertManager", "DeliveryError", "config_problems",
    "scrub",
]
