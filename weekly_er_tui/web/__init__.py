"""`weekly-er-tui web`: the running engine's cockpit on a web page, through textual-serve.

`access.py` decides who may open it (the token, loopback hosts); `server.py` serves the page
and runs one `weekly-er-tui attach` per browser session. Neither imports textual nor the engine:
the cockpit is the attach process, the engine is reached over its control socket.
"""
