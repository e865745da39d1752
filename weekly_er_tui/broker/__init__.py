"""The only place that imports ib_async: connection, portfolio snapshot, orders."""
