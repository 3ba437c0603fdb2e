"""An OpenCX API simulator on loopback; contract.py cites the docs.open.cx page for each shape and
docs/opencx-simulator.md says what it implements."""

from devtools.opencx_sim.contract import SCOPE_READ, SCOPE_WRITE, history_item
from devtools.opencx_sim.events import (
    DEMO_SESSIONS,
    EMAIL_SESSION_ID,
    PHONE_SESSION_ID,
    SMS_SESSION_ID,
    WEB_SESSION_ID,
    WHATSAPP_SESSION_ID,
    demo_handoff_event,
    seed_demo,
)
from devtools.opencx_sim.server import FaultRule
from devtools.opencx_sim.simulator import DEFAULT_KEY_NAME, DEFAULT_SCOPES, OpenCXSimulator

__all__ = [
    "DEFAULT_KEY_NAME",
    "DEFAULT_SCOPES",
    "DEMO_SESSIONS",
    "EMAIL_SESSION_ID",
    "PHONE_SESSION_ID",
    "SCOPE_READ",
    "SCOPE_WRITE",
    "SMS_SESSION_ID",
    "WEB_SESSION_ID",
    "WHATSAPP_SESSION_ID",
    "FaultRule",
    "OpenCXSimulator",
    "demo_handoff_event",
    "history_item",
    "seed_demo",
]
