"""OpenCX's webhook event names, written once.

https://docs.open.cx/api-reference/webhooks/types lists them; docs/contract.md section 2 says which
the bridge acts on. Ingress takes a handoff; the messaging webhook's customer side takes a reply
and the end of the conversation; every other event is answered 200 and ignored.
"""

from __future__ import annotations

from typing import Final

HANDOFF_TO_HUMAN: Final = "conversation.handoff_to_human"
CONTACT_RESPONSE: Final = "conversation.contact_response"  # the customer wrote (fields undocumented)
CLOSED: Final = "conversation.closed"
CUSTOMER_EVENTS: Final = frozenset({CONTACT_RESPONSE, CLOSED})
"""What a customer does after a handoff, relayed to the rep in mode messaging."""
