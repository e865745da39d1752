"""The cockpit's panes."""
