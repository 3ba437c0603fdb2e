"""A Messaging API simulator on loopback: the API a custom messaging channel calls, and Dynamics' side.

It checks the bearer token (tokens from its own managed-identity-style endpoint, `issue_token`, or
`trust_token`), `channel-id` and `organization-id`; keeps conversations with `customerid`
idempotency and the documented limits and 300xx codes; injects faults; and plays a scripted rep who
POSTs activities to the bridge's webhook with RS256 tokens it signs (keys at `jwks_url`).

    with MessagingSimulator(webhook_url=bridge + "/api/messaging") as sim:
        os.environ.update(sim.env())
"""

from devtools.messaging_sim.faults import FAULT_KINDS, OPERATIONS, FaultRule
from devtools.messaging_sim.keys import TOKEN_KINDS, TokenMinter
from devtools.messaging_sim.rep import Delivery, ScriptedRep
from devtools.messaging_sim.simulator import MessagingSimulator, RequestRecord

__all__ = [
    "FAULT_KINDS",
    "OPERATIONS",
    "TOKEN_KINDS",
    "Delivery",
    "FaultRule",
    "MessagingSimulator",
    "RequestRecord",
    "ScriptedRep",
    "TokenMinter",
]
