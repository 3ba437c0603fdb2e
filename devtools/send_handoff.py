"""`python -m devtools.send_handoff FILE --url URL [--key KEY] [--secret whsec_...] [--webhook-id ID]`.

Signs a handoff body as OpenCX does (Standard Webhooks) and POSTs it, for trying a running
stack, or a deployed one, by hand. Prints the status and the response body.
"""

from __future__ import annotations

import argparse
import sys
import urllib.error
import urllib.request
from pathlib import Path

from devtools.signing import DEV_WEBHOOK_SECRET, signed_headers


def send(
    body: bytes,
    url: str,
    key: str | None = None,
    secret: str = DEV_WEBHOOK_SECRET,
    webhook_id: str | None = None,
) -> tuple[int, str]:
    """POST a freshly signed body; returns (status, response text) whatever the status."""
    if not url.startswith(("http://", "https://")):
        raise ValueError("the URL must be http:// or https://")
    headers = signed_headers(body, secret=secret, webhook_id=webhook_id)
    if key:
        headers["x-functions-key"] = key
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)  # noqa: S310 (checked)
    try:
        with urllib.request.urlopen(request, timeout=15) as response:  # noqa: S310 (checked)
            return response.status, response.read().decode("utf-8", errors="replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("utf-8", errors="replace")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m devtools.send_handoff", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "file", type=Path, help="the webhook body (JSON), e.g. samples/opencx/handoff-sms.json"
    )
    parser.add_argument("--url", required=True, help="e.g. http://127.0.0.1:7071/api/handoffs")
    parser.add_argument("--key", default=None, help="function key, sent as x-functions-key")
    parser.add_argument("--secret", default=DEV_WEBHOOK_SECRET, help="whsec_ signing secret (default: dev)")
    parser.add_argument("--webhook-id", default=None, help="reuse an id to try duplicate delivery")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Exit 0 on a 2xx answer, 1 otherwise, so scripts can check it."""
    args = parse_args(argv)
    status, text = send(args.file.read_bytes(), args.url, args.key, args.secret, args.webhook_id)
    print(status)
    print(text)
    return 0 if 200 <= status < 300 else 1


if __name__ == "__main__":
    sys.exit(main())
