"""A Messaging API simulator on loopback: the API a custom messaging channel calls, and Dynamics' side.

It checks the bearer token (tokens from its own managed-identity-style endpoint, `issue_token`, or
`trust_token`), `channel-id` and `organization-id`; keeps conversations with `customerid`
idempotency and the documented limits and 300xx codes; checks attachments against the org's file
settings; injects faults; and plays a scripted rep who POSTs activities (and files, hosted at
`/files/`) to the bridge's webhook with RS256 tokens it signs (keys at `jwks_url`).

    with MessagingSimulator(webhook_url=bridge + "/api/messaging") as sim:
        os.environ.update(sim.env())
"""

from devtools.messaging_sim.faults import FaultRule
from devtools.messaging_sim.simulator import MessagingSimulator

__all__ = ["FaultRule", "MessagingSimulator"]
