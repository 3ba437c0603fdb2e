"""Plumbing the loopback simulators share. It knows no simulator (tests/devtools/dataverse_sim/test_layering.py
checks that simkit imports none of them)."""
