"""How every probe labels what it creates, in one place, so cleanup can find it again."""

from __future__ import annotations

import secrets

PROBE_PREFIX = "[bridge go-live probe"  # every probe work item's subject starts with this
CONTEXT_NAME = "bridgeProbe"  # the context item that carries the run id on the work item
SESSION_PREFIX = "golive-"  # the fake OpenCX session id a probe work item names
CUSTOMER_PREFIX = "bridge-golive-"  # the Messaging API customerid of a probe conversation


def new_run_id() -> str:
    return secrets.token_hex(4)


def subject(run_id: str) -> str:
    return f"{PROBE_PREFIX} {run_id}] test work item: no customer is waiting, it is removed in minutes"
