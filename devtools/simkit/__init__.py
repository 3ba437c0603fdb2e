"""Plumbing the loopback simulators share; it imports none of them (dataverse_sim/test_layering.py)."""
