"""The cockpit's scenes: engine states recorded from the real engine on the simulated gateway
(record.py, rig.py) and read back (fixtures.py) by the snapshot tests and the screenshots."""
