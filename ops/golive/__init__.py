"""`python -m ops.golive`: the go-live check an admin runs against their own Dynamics and OpenCX.

Reads (what /api/health checks, from the admin's machine), then opt-in probes that answer what no
document settles: does unified routing pick up a work item created through the Web API
(routing_probe), which OpenCX `sender` reaches the customer (send_probe), and what Microsoft's
webhook token carries (webhook_probe). Everything a probe creates carries the label in `labels.py`
and is found again by it and removed (cleanup.py), even after a crash. See docs/deploy.md.
"""
