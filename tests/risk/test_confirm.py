"""risk/confirm.py: when the account's sources agree on a figure that would close positions."""

from __future__ import annotations

from weekly_er_tui.risk.confirm import AccountEvidence, account_agreement

START = 146_000.0


def test_streams_that_report_different_positions_never_agree() -> None:
    # The sale's position is gone, its cash not yet in: whatever else says, no agreement.
    ev = AccountEvidence(net_liquidation=120_500, daily_pnl=-500, pnl_current=True,
                         ib_net_liquidation=120_500,
                         unmatched_positions=("AAPL: position 0, account stream 130",))
    verdict = account_agreement(ev, session_start=START, standing_seconds=60)
    assert not verdict.agreed
    assert "AAPL: position 0, account stream 130" in verdict.waiting_for[0]


def test_the_daily_pnl_confirms_a_price_move() -> None:
    ev = AccountEvidence(net_liquidation=130_000, daily_pnl=-16_000, pnl_current=True,
                         ib_net_liquidation=146_000)  # IB's figure is 3 minutes old
    verdict = account_agreement(ev, session_start=START, standing_seconds=0)
    assert verdict.agreed and "daily P&L" in verdict.by


def test_a_pnl_from_before_the_latest_fill_does_not_confirm() -> None:
    ev = AccountEvidence(net_liquidation=130_000, daily_pnl=-16_000, pnl_current=False)
    verdict = account_agreement(ev, session_start=START, standing_seconds=0.2)
    assert not verdict.agreed
    assert any("after the latest fill" in w for w in verdict.waiting_for)


def test_ibs_own_net_liquidation_confirms() -> None:
    ev = AccountEvidence(net_liquidation=130_000, ib_net_liquidation=130_400)
    verdict = account_agreement(ev, session_start=None, standing_seconds=0)
    assert verdict.agreed and "NetLiquidation" in verdict.by


def test_a_disagreeing_figure_waits_then_the_standing_breach_confirms() -> None:
    ev = AccountEvidence(net_liquidation=130_000, daily_pnl=-200, pnl_current=True,
                         ib_net_liquidation=146_000)
    assert not account_agreement(ev, session_start=START, standing_seconds=0.5).agreed
    late = account_agreement(ev, session_start=START, standing_seconds=1.0)
    assert late.agreed and "standing" in late.by
