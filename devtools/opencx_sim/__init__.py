"""An OpenCX API simulator on loopback, for tests, demos and benchmarks of the handoff bridge.

It follows OpenCX's documented API (docs.open.cx/api-reference; each shape cites its page in
contract.py): `GET /chat/sessions/{id}`, `GET /chat/sessions/{id}/history` (cursor paging),
`POST /chat/sessions/{id}/send`, `PATCH /chat/sessions/{id}`; Bearer keys with scopes; about 100
requests a minute per key (429 + Retry-After); injectable faults; request records; a `/_sim/` admin API.

    with OpenCXSimulator() as sim:
        seed_demo(sim)
        os.environ.update(sim.env())          # OPENCX_API_URL, OPENCX_API_KEY
        body = sim.handoff_event(SMS_SESSION_ID)   # the webhook OpenCX would send
"""

from devtools.opencx_sim.contract import SCOPE_READ, SCOPE_WRITE, history_item
from devtools.opencx_sim.demo import (
    DEMO_SESSIONS,
    EMAIL_SESSION_ID,
    PHONE_SESSION_ID,
    SMS_SESSION_ID,
    WEB_SESSION_ID,
    WHATSAPP_SESSION_ID,
    demo_handoff_event,
    seed_demo,
)
from devtools.opencx_sim.faults import FaultRule
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
