"""Plumbing the loopback simulators share: werkzeug's server with the reset fault and the handler base
(`server`), the managed-identity endpoint and token store (`identity`), fault rules (`faults`), the
start/stop/records/in-flight lifecycle (`lifecycle`) and CLI helpers (`cli`).

It knows no simulator: each simulator keeps its routes, stores, error shapes and auth, and builds on
these pieces (tests/devtools/dataverse_sim/test_layering.py checks that simkit imports none of them).
"""
