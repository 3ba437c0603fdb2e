"""Standard Webhooks verification (DESIGN section 2) over the raw body, with secret rotation.

The reference `standardwebhooks` package does the HMAC, the constant-time compare and the
±300 s tolerance. It raises more than WebhookVerificationError on malformed headers
(ValueError, binascii.Error, ...), so every failure is folded into one SignatureInvalid: the
caller answers 401, never 500.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import lru_cache

from standardwebhooks.webhooks import Webhook

_TIMESTAMP = re.compile(r"^\d{1,12}$")
_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")


class SignatureInvalid(Exception):
    """Why verification failed, in words safe to return to the caller (no secret material)."""


@lru_cache(maxsize=8)
def _verifiers(secrets: tuple[str, ...]) -> tuple[Webhook, ...]:
    return tuple(Webhook(secret) for secret in secrets)


def verify_signature(body: str, headers: Mapping[str, str], secrets: Sequence[str]) -> str:
    """Return the webhook-id when any configured secret signed this body; raise SignatureInvalid."""
    lowered = {key.lower(): value.strip() for key, value in headers.items() if key.lower() in _HEADERS}
    missing = [name for name in _HEADERS if not lowered.get(name)]
    if missing:
        raise SignatureInvalid(f"missing header(s): {', '.join(missing)}")
    if not _TIMESTAMP.match(lowered["webhook-timestamp"].strip()):
        raise SignatureInvalid("webhook-timestamp must be unix seconds")
    lowered["webhook-signature"] = " ".join(lowered["webhook-signature"].split())
    last_reason = "no matching signature"
    for verifier in _verifiers(tuple(secrets)):
        try:
            verifier.verify(body, lowered, json_parse=False)
            return lowered["webhook-id"]
        except Exception as exc:  # the package raises several types for malformed input
            last_reason = _reason(exc)
            if "timestamp" in last_reason:
                break  # same answer for every secret
    raise SignatureInvalid(last_reason)


def _reason(exc: Exception) -> str:
    text = str(exc).lower()
    if "too old" in text:
        return "webhook-timestamp is older than 300 s"
    if "too new" in text:
        return "webhook-timestamp is more than 300 s in the future"
    if "header" in text:
        return "malformed signature headers"
    return "no matching signature"
