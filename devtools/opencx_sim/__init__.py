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

from devtools.opencx_sim.contract import (
    CHANNEL_TYPES,
    DEFAULT_SENDERS,
    DOCS,
    SCOPE_READ,
    SCOPE_WRITE,
    SESSION_STATUSES,
    history_item,
)
from devtools.opencx_sim.demo import (
    DEMO_ORGANIZATION_ID,
    DEMO_SESSIONS,
    EMAIL_SESSION_ID,
    PHONE_SESSION_ID,
    SMS_SESSION_ID,
    WEB_SESSION_ID,
    WHATSAPP_SESSION_ID,
    demo_handoff_event,
    seed_demo,
)
from devtools.opencx_sim.faults import FAULT_KINDS, OPERATIONS, FaultRule
from devtools.opencx_sim.simulator import (
    DEFAULT_KEY_NAME,
    DEFAULT_SCOPES,
    ApiKey,
    OpenCXSimulator,
    RequestRecord,
    SentMessage,
    SessionUpdate,
)

__all__ = [
    "CHANNEL_TYPES",
    "DEFAULT_KEY_NAME",
    "DEFAULT_SCOPES",
    "DEFAULT_SENDERS",
    "DEMO_ORGANIZATION_ID",
    "DEMO_SESSIONS",
    "DOCS",
    "EMAIL_SESSION_ID",
    "FAULT_KINDS",
    "OPERATIONS",
    "PHONE_SESSION_ID",
    "SCOPE_READ",
    "SCOPE_WRITE",
    "SESSION_STATUSES",
    "SMS_SESSION_ID",
    "WEB_SESSION_ID",
    "WHATSAPP_SESSION_ID",
    "ApiKey",
    "FaultRule",
    "OpenCXSimulator",
    "RequestRecord",
    "SentMessage",
    "SessionUpdate",
    "demo_handoff_event",
    "history_item",
    "seed_demo",
]
