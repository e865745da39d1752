"""state/weekly_er.sqlite: what must survive a crash.

Trading state (a HALT stays a HALT across restarts), the strategy's tracked positions (so orphans
can be told apart), order intents keyed by orderRef (recorded BEFORE an order is sent, so a restart
never sends it twice), and the day's and week's baselines. WAL mode; a schema version.
A database it cannot read is moved aside with a clear error, never silently replaced.

state_db.py is the database (schema, opening, the in-memory carry-on when the disk refuses
writes); tables.py is the Store over it, typed records in and out. Import from here.
"""

from weekly_er_tui.order_life import IntentStatus, OrderIntentRecord
from weekly_er_tui.store.state_db import SCHEMA_VERSION, StateDb, StoreError
from weekly_er_tui.store.tables import OPEN_INTENT_STATUSES, Store, TrackedPosition, UnknownIntent

__all__ = ["OPEN_INTENT_STATUSES", "SCHEMA_VERSION", "IntentStatus", "OrderIntentRecord", "StateDb",
           "Store", "StoreError", "TrackedPosition", "UnknownIntent"]
