"""Shadow mode: the engine decides everything and sends nothing (issue 19).

`journal.py` writes logs/shadow_orders.csv; `report.py` reads it beside the account's real
executions (trade_journal.csv). What reaches IB is stopped in one place only:
broker/sender.py (ShadowSender).
"""
