"""Sign a webhook body with Standard Webhooks headers, for the optional OPENCX_WEBHOOK_SECRET check.

OpenCX documents no signature (docs/contract.md section 2): the stack, the demo and send_handoff send
unsigned by default; tests of the signature path and `send_handoff --secret` sign with this.
"""

from __future__ import annotations

import base64
import time
import uuid
from datetime import UTC, datetime

from standardwebhooks.webhooks import Webhook

# The local stack's well-known development secret. Never use it in Azure.
DEV_WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"handoff-bridge-local-dev-secret!").decode()


def new_webhook_id() -> str:
    return f"msg_{uuid.uuid4().hex}"


def signed_headers(
    body: bytes | str,
    secret: str = DEV_WEBHOOK_SECRET,
    webhook_id: str | None = None,
    timestamp: int | None = None,
) -> dict[str, str]:
    """The three Standard Webhooks headers plus Content-Type for `body`."""
    webhook_id = webhook_id or new_webhook_id()
    timestamp = int(time.time()) if timestamp is None else timestamp
    text = body.decode("utf-8") if isinstance(body, bytes) else body
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": Webhook(secret).sign(webhook_id, datetime.fromtimestamp(timestamp, UTC), text),
        "content-type": "application/json",
    }
