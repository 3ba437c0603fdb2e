"""One file's bytes, or why not, within a cap: the steps the relay and the incident notes share.

The order is the cheap-first one: a file with nothing to try, a declared size or type already over
the line (not fetched at all), embedded bytes checked as a fetched file would be, then the fetch. A
host that does not answer is a `Failure` while the caller is `patient` (the work waits and is
retried), and a refusal ("its host did not answer") once it has waited FILE_TRIES times.
"""

from __future__ import annotations

import base64
import binascii

from shared.media.fetch import Credential, Fetched, Keep, fetch
from shared.media.policy import MediaPolicy
from shared.media.refs import MediaRef, Refusal, RefusalReason, too_big, type_refused, unusable
from shared.platform.failure import Failure


def obtain(
    ref: MediaRef, policy: MediaPolicy, *, keep: Keep, credential: Credential | None, cap: int, patient: bool
) -> Fetched | Refusal | Failure:
    got: Fetched | Refusal | Failure
    if (cannot := unusable(ref)) is not None:
        got = cannot
    elif ref.inline is not None:
        got = _inline(ref, policy, cap)
    elif ref.size is not None and ref.size > cap:
        got = too_big(ref.size, cap)  # declared too big: not fetched at all
    elif ref.content_type and not policy.allows_type(ref.content_type):
        got = type_refused(ref.content_type)
    else:
        assert ref.url is not None
        got = fetch(
            ref.url, policy, keep=keep, credential=credential, declared_type=ref.content_type, max_bytes=cap
        )
    if isinstance(got, Failure) and not patient:
        return Refusal(RefusalReason.UNANSWERED, "its host did not answer")  # tried enough: the rest goes on
    return got


def _inline(ref: MediaRef, policy: MediaPolicy, cap: int) -> Fetched | Refusal:
    """A file the sender embedded: checked as a fetched one would be."""
    data = ref.inline or ""
    try:
        size = len(base64.b64decode(data, validate=True))
    except (binascii.Error, ValueError):
        return Refusal(RefusalReason.GONE, "the file could not be read")
    if not policy.allows_type(ref.content_type):
        return type_refused(ref.content_type)
    if size > cap:
        return too_big(size, cap)
    return Fetched(content_type=(ref.content_type or "").lower(), size=size, needed_token=True,
                   base64=bytearray(data.encode("ascii")))  # fmt: skip
