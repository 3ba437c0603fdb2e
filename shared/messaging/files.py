"""An outbox entry's files made ready for the side they go to (docs/messaging.md, "Pictures and
files"): fetched safely (shared/media/fetch.py), within the smaller of MEDIA_MAX_BYTES and what the
customer's channel carries, in the shape the receiving API documents. A file that cannot cross
becomes a short text beside the message ("[photo not forwarded: 7.2 MB, the limit is 5 MB]"): the
other side always learns a file was there.

- To the customer (OpenCX `POST /chat/sessions/{id}/send`, `message.attachments[{name, url, base64,
  mime_type}]`): by `url` when the file opened without a token (OpenCX can fetch it too), as
  `base64` when it needed the Messaging API's token (OpenCX could not).
- To the rep (Messaging API `attachments[{contentType, contentUrl, name}]`, `contentUrl` "URL or
  embedded base64 content", api-conversation-endpoint.md): always embedded, as a `data:` URL (the
  Bot Framework's inline-attachment form): an OpenCX media URL may need OpenCX's key or expire.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from shared.media.fetch import Credential, Fetched, Keep
from shared.media.obtain import obtain
from shared.media.policy import MediaPolicy
from shared.media.refs import MediaRef, Refusal, RefusalReason, megabytes, unusable
from shared.messaging.activity import media_ref
from shared.platform import telemetry
from shared.platform.failure import Failure
from shared.platform.json_body import Embedded
from shared.platform.limits import (
    MESSAGE_FILES_MAX_BYTES,
    MESSAGING_TEXT_MAX_CHARS,
    MMS_MAX_MEDIA,
    MMS_MAX_TOTAL_BYTES,
    WHATSAPP_MEDIA_MAX_BYTES,
)


@dataclass
class Ready:
    """The files that cross, in the receiver's shape, and the texts for those that do not."""

    attachments: list[dict[str, Any]] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    refused: list[RefusalReason] = field(default_factory=list)

    def text_with_notices(self, text: str | None, limit: int = MESSAGING_TEXT_MAX_CHARS) -> str | None:
        """The words, cut so that the notices after them fit within `limit`; the whole never past it."""
        notices = "\n".join(self.notices)
        words = (text or "").strip()[: max(0, limit - len(notices) - 1) if notices else limit]
        return "\n".join(part for part in (words, notices) if part)[:limit] or None


@dataclass(frozen=True)
class _Budget:
    per_file: int
    total: int = MESSAGE_FILES_MAX_BYTES  # all the message's files together (held until the send)
    count: int | None = None


def entry_refs(attachments: Sequence[Mapping[str, Any]]) -> list[MediaRef]:
    """An outbox entry's files. Rows written before files were relayed hold Microsoft's
    `{contentType, contentUrl, name}`; newer ones `MediaRef.to_dict()`."""
    refs: list[MediaRef] = []
    for item in attachments:
        microsoft = any(str(key).lower().replace("_", "") == "contenturl" for key in item)
        ref = media_ref(item) if microsoft else MediaRef.from_dict(dict(item))
        if ref is not None:  # one without a URL or bytes (cut at the webhook) becomes a notice
            refs.append(ref)
    return refs


def _customer_budget(policy: MediaPolicy, channel: str | None) -> _Budget:
    if channel == "sms":
        return _Budget(min(policy.max_bytes, MMS_MAX_TOTAL_BYTES), MMS_MAX_TOTAL_BYTES, MMS_MAX_MEDIA)
    if channel == "whatsapp":
        return _Budget(min(policy.max_bytes, WHATSAPP_MEDIA_MAX_BYTES))
    return _Budget(policy.max_bytes)


def _prepare(
    refs: Sequence[MediaRef],
    policy: MediaPolicy,
    budget: _Budget,
    keep: Keep,
    credential: Credential | None,
    shape: Callable[[MediaRef, Fetched], dict[str, Any]],
    target: str,
    patient: bool,
) -> Ready | Failure:
    ready, used = Ready(), 0
    for ref in refs:
        remaining = min(budget.per_file, budget.total - used)
        if remaining <= 0 < budget.per_file:
            got: Fetched | Refusal | Failure = Refusal(
                RefusalReason.TOO_BIG, f"the message's {megabytes(budget.total)} for files is used up"
            )
        elif budget.count is not None and len(ready.attachments) >= budget.count and unusable(ref) is None:
            got = Refusal(RefusalReason.TOO_MANY, f"a message carries at most {budget.count} files here")
        else:
            got = obtain(ref, policy, keep=keep, credential=credential, cap=remaining, patient=patient)
        if isinstance(got, Failure):
            return got  # the host may answer later: the whole message waits and is retried
        if isinstance(got, Refusal):
            if got.reason is RefusalReason.TOO_BIG and used and remaining < budget.per_file:
                got = Refusal(RefusalReason.TOO_BIG, got.detail + " for all of a message's files")
            ready.notices.append(got.notice(ref))
            ready.refused.append(got.reason)
            telemetry.count("media.refused", target=target, reason=got.reason.value)
            continue
        used += got.size
        attachment = shape(ref, got)
        ready.attachments.append(attachment)
        telemetry.count("media.relayed", target=target, how="url" if "url" in attachment else "inline")
    return ready


def for_customer(
    refs: Sequence[MediaRef], policy: MediaPolicy, channel: str | None,
    credential: Credential | None, *, patient: bool = True,
) -> Ready | Failure:  # fmt: skip
    """OpenCX attachments for the rep's files; `credential`: the Messaging API's token."""

    def shape(ref: MediaRef, got: Fetched) -> dict[str, Any]:
        found: dict[str, Any] = {"name": ref.name}
        if got.base64 is not None:
            found["base64"] = Embedded(got.base64)
        else:
            found["url"] = ref.url
        found["mime_type"] = got.content_type or ref.content_type or "application/octet-stream"
        return found

    budget = _customer_budget(policy, channel)
    return _prepare(refs, policy, budget, Keep.WHEN_TOKEN_NEEDED, credential, shape, "customer", patient)


def for_rep(
    refs: Sequence[MediaRef], policy: MediaPolicy, credential: Credential | None, *, patient: bool = True
) -> Ready | Failure:
    """Messaging API attachments for the customer's files; `credential`: OpenCX's API key."""

    def shape(ref: MediaRef, got: Fetched) -> dict[str, Any]:
        kind = got.content_type or ref.content_type or "application/octet-stream"
        assert got.base64 is not None
        return {
            "contentType": kind,
            "contentUrl": Embedded(got.base64, f"data:{kind};base64,"),
            "name": ref.name,
        }

    return _prepare(refs, policy, _Budget(policy.max_bytes), Keep.BODY, credential, shape, "rep", patient)
