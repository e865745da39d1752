"""The alert log's folding as a trader reads it: newest first, each occurrence counted once, no
"repeated" message for a state that has since changed; and an all-clear ("Reconnected",
"Trading resumed") reaches whoever heard the alarm it answers. Against a real SMTP server."""

from __future__ import annotations

from tests.alerts.conftest import alerts_config, running
from tests.alerts.smtp_server import LocalSmtpServer
from weekly_er_tui.alerts import AlertManager
from weekly_er_tui.clock import ManualClock
from weekly_er_tui.journal import Journal
from weekly_er_tui.model import Alert, Severity

CRITICAL, HIGH, MEDIUM, LOW = Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW


def _state_alert(manager: AlertManager, clock: ManualClock, what: str) -> None:
    """What the safety manager sends on p (pause) and r (resume)."""
    key, priority, title = {
        "p": ("trading_paused", MEDIUM, "Trading paused: paused by the trader"),
        "r": ("trading_resumed", LOW, "Trading resumed: resumed by the trader"),
    }[what]
    manager.alert(Alert(key, priority, "safety", title, timestamp=clock.now()))


async def test_pause_resume_pause_resume_pause_reads_in_order_and_sends_no_stale_repeat(
    journal: Journal, clock: ManualClock
) -> None:
    async with LocalSmtpServer() as server:
        manager = AlertManager(alerts_config(server.port), journal, clock)
        async with running(manager):
            for what in "prprp":
                _state_alert(manager, clock, what)
                clock.advance(30)
            titles = [r.title.split(":")[0] for r in manager.records]
            # Newest first, the state at the top is the state now (PAUSED), each press once.
            assert titles == ["Trading paused", "Trading resumed", "Trading paused",
                              "Trading resumed", "Trading paused"]
            assert not any("folded" in r.delivered for r in manager.records)
            assert manager.repeats_pending == 0
            await server.handler.wait_for(5)
            clock.advance(600)  # well past every window
            manager.notify("order_error", "Order error on AAPL", about="AAPL")
            await server.handler.wait_for(6)
            assert await manager.drain(5)
    subjects = [m.subject for m in server.messages]
    assert not any("(x" in s for s in subjects), subjects
    # Each resume answers the pause before it: sent at the pause's priority (MEDIUM: email).
    assert subjects[:5] == [
        "[Weekly ER][MEDIUM] Trading paused: paused by the trader",
        "[Weekly ER][MEDIUM] Trading resumed: resumed by the trader",
    ] * 2 + ["[Weekly ER][MEDIUM] Trading paused: paused by the trader"]


async def test_a_repeat_moves_its_entry_to_the_top_and_is_counted_once(
    journal: Journal, clock: ManualClock
) -> None:
    async with LocalSmtpServer() as server:
        manager = AlertManager(alerts_config(server.port), journal, clock)
        async with running(manager):
            manager.notify("order_error", "Order error on AAPL (1)", about="AAPL")
            clock.advance(60)
            manager.notify("limit_breach", "Sector Technology at 31%", about="sector")
            clock.advance(60)
            manager.notify("order_error", "Order error on AAPL (2)", about="AAPL")
            # The repeat is the newest thing that happened: its entry is on top, stamped with
            # its own time, saying since when it repeats.
            [top, below] = manager.records
            assert top.title == "Order error on AAPL (2)"
            assert top.timestamp == clock.now()
            assert top.delivered.endswith("+1 repeat folded since 14:02:00")
            assert below.title == "Sector Technology at 31%"
            await server.handler.wait_for(2)
            clock.advance(300)  # the window ends: one message stands for the repeat
            await server.handler.wait_for(3)
            assert await manager.drain(5)
            # The summary is a message about the same entry, not a second entry for it.
            assert [r.title for r in manager.records] == [
                "Order error on AAPL (2)", "Sector Technology at 31%"]
    assert server.messages[2].subject == (
        "[Weekly ER][HIGH] Order error on AAPL (2) (x1 since 14:02)")


async def test_no_repeated_message_once_the_state_changed(
    journal: Journal, clock: ManualClock
) -> None:
    async with LocalSmtpServer() as server:
        manager = AlertManager(alerts_config(server.port), journal, clock)
        async with running(manager):
            _state_alert(manager, clock, "p")
            clock.advance(10)
            _state_alert(manager, clock, "p")  # a second pause: folded
            assert manager.repeats_pending == 1
            clock.advance(10)
            _state_alert(manager, clock, "r")  # ACTIVE again: the pause's repeat is moot
            assert manager.repeats_pending == 0
            await server.handler.wait_for(2)
            clock.advance(600)
            manager.notify("order_error", "Order error on AAPL", about="AAPL")
            await server.handler.wait_for(3)
            assert await manager.drain(5)
            assert [r.title.split(":")[0] for r in manager.records] == [
                "Order error on AAPL", "Trading resumed", "Trading paused"]
    subjects = [m.subject for m in server.messages]
    assert len(subjects) == 3 and not any("(x" in s for s in subjects), subjects


async def test_reconnected_is_heard_wherever_connection_lost_was(
    journal: Journal, clock: ManualClock
) -> None:
    gateway = "5551234567@vtext.com"
    async with LocalSmtpServer() as server:
        manager = AlertManager(alerts_config(server.port, sms_recipients=[gateway]), journal,
                               clock)
        async with running(manager):
            # As broker/connection.py sends them: the loss HIGH, the return LOW.
            manager.alert(Alert("connection_lost", HIGH, "connection", "Connection lost to IBKR",
                                timestamp=clock.now()))
            clock.advance(20)
            manager.alert(Alert("reconnected", LOW, "connection",
                                "Reconnected to IBKR after 2 attempt(s)", timestamp=clock.now()))
            clock.advance(400)
            manager.alert(Alert("reconnected", LOW, "connection", "Reconnected again",
                                timestamp=clock.now()))  # answers nothing: stays LOW
            await server.handler.wait_for(4)
            assert await manager.drain(5)
    mails = [(m.rcpt_tos == [gateway], m.subject or m.text.strip()) for m in server.messages]
    assert sorted(mails) == sorted([
        (False, "[Weekly ER][HIGH] Connection lost to IBKR"),
        (False, "[Weekly ER][HIGH] Reconnected to IBKR after 2 attempt(s)"),
        (True, "Weekly ER HIGH: Connection lost to IBKR (14:02 ET)"),
        (True, "Weekly ER HIGH: Reconnected to IBKR after 2 attempt(s) (14:02 ET)"),
    ])
    assert manager.records[0].priority is LOW


async def test_the_all_clear_after_a_critical_is_critical_unless_the_config_says(
    journal: Journal, clock: ManualClock
) -> None:
    manager = AlertManager(alerts_config(1025), journal, clock)  # nothing sent: no run()
    manager.alert(Alert("reconnect_failed", CRITICAL, "connection", "IB connection failed"))
    manager.alert(Alert("reconnected", LOW, "connection", "Reconnected after 7 attempt(s)"))
    manager.alert(Alert("trading_halted", CRITICAL, "safety", "Trading HALTED"))
    manager.alert(Alert("trading_resumed", LOW, "safety", "Trading resumed"))
    assert [r.priority for r in manager.records] == [CRITICAL] * 4

    quiet = AlertManager(alerts_config(1025, priorities={"reconnected": "INFO"}), journal, clock)
    quiet.alert(Alert("connection_lost", HIGH, "connection", "Connection lost to IBKR"))
    quiet.alert(Alert("reconnected", LOW, "connection", "Reconnected after 1 attempt(s)"))
    assert quiet.records[0].priority is Severity.INFO
