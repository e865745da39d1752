"""The control channel of a running engine: a Unix socket in its data directory (owner only),
newline-delimited JSON, EngineState snapshots one way and commands the other; and the lock that
keeps one engine per account on this machine. No textual here: the engine serves it."""
