"""The Textual cockpit: a host for the engine's coroutines and a view of its state."""
