"""Optional Standard Webhooks verification (contract section 2) over the raw body, with rotation.

OpenCX documents no signature: one is required only when OPENCX_WEBHOOK_SECRET is set. The
headers are `webhook-id/-timestamp/-signature` or their `svix-` twins. The timestamp window is
checked here, so each reason comes from our own check, never from a library's message text; the
reference `standardwebhooks` package does the HMAC and the constant-time compare.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
from functools import lru_cache

from standardwebhooks.webhooks import Webhook

TOLERANCE_SECONDS = 300
_TIMESTAMP = re.compile(r"^\d{1,12}$")
_PARTS = ("id", "timestamp", "signature")
_PREFIXES = ("webhook-", "svix-")


class SignatureInvalid(Exception):
    """Why verification failed, in words safe to return to the caller (no secret material)."""


@lru_cache(maxsize=8)
def _verifiers(secrets: tuple[str, ...]) -> tuple[Webhook, ...]:
    return tuple(Webhook(secret) for secret in secrets)


def delivery_id(headers: Mapping[str, str]) -> str | None:
    """The sender's id for this delivery (`webhook-id`, else `svix-id`), when it gives one."""
    lowered = {key.lower(): value for key, value in headers.items()}
    for prefix in _PREFIXES:
        value = (lowered.get(prefix + "id") or "").strip()
        if value:
            return value
    return None


def _signature_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The three headers under the `webhook-` names, from whichever family carries a signature."""
    lowered = {key.lower(): value.strip() for key, value in headers.items()}
    prefix = next((p for p in _PREFIXES if lowered.get(p + "signature")), _PREFIXES[0])
    found = {f"webhook-{part}": lowered.get(prefix + part, "") for part in _PARTS}
    missing = [prefix + part for part in _PARTS if not found[f"webhook-{part}"]]
    if missing:
        raise SignatureInvalid(f"missing header(s): {', '.join(missing)}")
    return found


def verify_signature(
    body: str, headers: Mapping[str, str], secrets: Sequence[str], now: float | None = None
) -> str:
    """The signed delivery id when any configured secret signed this body; SignatureInvalid otherwise.

    The id comes from the family that carried the signature: an unsigned `webhook-id` beside a
    `svix-` signature must not name the handoff (a replay could mint new ids)."""
    found = _signature_headers(headers)
    stamp = found["webhook-timestamp"]
    if not _TIMESTAMP.match(stamp):
        raise SignatureInvalid("webhook-timestamp must be unix seconds")
    skew = int(stamp) - int(now if now is not None else time.time())
    if skew < -TOLERANCE_SECONDS:
        raise SignatureInvalid(f"webhook-timestamp is older than {TOLERANCE_SECONDS} s")
    if skew > TOLERANCE_SECONDS:
        raise SignatureInvalid(f"webhook-timestamp is more than {TOLERANCE_SECONDS} s in the future")
    found["webhook-signature"] = " ".join(found["webhook-signature"].split())
    for verifier in _verifiers(tuple(secrets)):
        try:
            verifier.verify(body, found, json_parse=False)
            return found["webhook-id"]
        except Exception:  # noqa: S112 - the package raises several types for malformed input; try the next secret
            continue
    raise SignatureInvalid("no matching signature")
