"""`python -m devtools.send_handoff [FILE] --url URL [--key KEY] [--secret whsec_...] [--webhook-id ID]`.

POSTs an OpenCX webhook envelope as OpenCX does: the key in `?code=`, unsigned unless `--secret` is given.
OpenCX documents no signature (docs/contract.md section 2): Standard Webhooks headers are only for the
optional OPENCX_WEBHOOK_SECRET check, its tests and `--secret`.
"""

from __future__ import annotations

import argparse
import base64
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path

from standardwebhooks.webhooks import Webhook

from devtools.azurite import PROJECT_ROOT

DEFAULT_SAMPLE = PROJECT_ROOT / "samples" / "opencx" / "handoff-sms.json"
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
    webhook_id = webhook_id or new_webhook_id()
    timestamp = int(time.time()) if timestamp is None else timestamp
    text = body.decode("utf-8") if isinstance(body, bytes) else body
    signature = Webhook(secret).sign(webhook_id, datetime.fromtimestamp(timestamp, UTC), text)
    headers = {"webhook-id": webhook_id, "webhook-timestamp": str(timestamp), "webhook-signature": signature}
    return {**headers, "content-type": "application/json"}


def with_code(url: str, key: str | None) -> str:
    """The URL with `?code=<key>` (replacing any code already there), as OpenCX would call it."""
    if not key:
        return url
    parts = urllib.parse.urlsplit(url)
    query = [(k, v) for k, v in urllib.parse.parse_qsl(parts.query) if k != "code"] + [("code", key)]
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))


def send(
    body: bytes, url: str, key: str | None = None, secret: str | None = None, webhook_id: str | None = None
) -> tuple[int, str]:
    """POST the body; (status, response text) whatever the status. Signed only with a `secret`; a
    `webhook_id` alone is still sent as `webhook-id`, the handoff's id for the bridge (redelivery tests)."""
    if not url.startswith(("http://", "https://")):
        raise ValueError("the URL must be http:// or https://")
    if secret:
        headers = signed_headers(body, secret=secret, webhook_id=webhook_id)
    else:
        headers = {"content-type": "application/json", **({"webhook-id": webhook_id} if webhook_id else {})}
    target = with_code(url, key)
    request = urllib.request.Request(target, data=body, method="POST", headers=headers)  # noqa: S310 (checked)
    try:
        with urllib.request.urlopen(request, timeout=15) as response:  # noqa: S310 (checked)
            return response.status, response.read().decode("utf-8", errors="replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("utf-8", errors="replace")


def main(argv: list[str] | None = None) -> int:
    """Exit 0 on a 2xx answer, 1 otherwise, so scripts can check it."""
    parser = argparse.ArgumentParser(prog="python -m devtools.send_handoff", description=__doc__)
    parser.add_argument(
        "file", type=Path, nargs="?", default=DEFAULT_SAMPLE, help="the webhook envelope (JSON)"
    )
    parser.add_argument("--url", required=True, help="e.g. http://127.0.0.1:7071/api/handoffs")
    parser.add_argument("--key", help="function key, sent as ?code= (or put it in --url)")
    parser.add_argument("--secret", help="whsec_ secret: sign the body (only when the bridge requires it)")
    parser.add_argument("--webhook-id", help="reuse an id to try duplicate delivery")
    args = parser.parse_args(argv)
    status, text = send(args.file.read_bytes(), args.url, args.key, args.secret, args.webhook_id)
    print(f"{status}\n{text}")
    return 0 if 200 <= status < 300 else 1


if __name__ == "__main__":
    sys.exit(main())
