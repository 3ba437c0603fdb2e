"""A file on its way across the bridge, as the outbox keeps it, and the text that stands in for a
file that could not cross ("[photo not forwarded: 7.2 MB, the limit is 5 MB]").

Each side's shape is read in one place (Microsoft's activity attachments in
shared/messaging/activity.py, OpenCX's history media in shared/opencx/media.py); both become a
`MediaRef` here, so the relay, the notes and the notices speak of one thing.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

NAME_MAX = 256  # Messaging API attachment `name`: "256 characters" (api-conversation-endpoint.md)
DROPPED_PREFIX = "dropped:"  # a MediaRef standing for files past what one message could hold
_MIB = 1024 * 1024


@dataclass(frozen=True)
class MediaRef:
    """One file: where it is (`url`), or its bytes when the sender embedded them (`inline`, base64)."""

    name: str
    content_type: str | None = None  # as the sender declared it
    url: str | None = None
    inline: str | None = None  # base64, from a `data:` URL the sender embedded
    size: int | None = None  # as the sender declared it
    ref_id: str | None = None  # the source's id for the file (OpenCX's attachment id)

    @property
    def kind_word(self) -> str:
        kind = (self.content_type or "").split("/")[0].lower()
        return {"image": "photo", "video": "video", "audio": "voice message"}.get(kind, "file")

    def to_dict(self) -> dict[str, Any]:
        found = {"name": self.name, "type": self.content_type, "url": self.url, "inline": self.inline,
                 "size": self.size, "id": self.ref_id}  # fmt: skip
        return {key: value for key, value in found.items() if value is not None}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MediaRef:
        size = data.get("size")
        return cls(
            name=str(data.get("name") or "file")[:NAME_MAX],
            content_type=data.get("type"),
            url=data.get("url"),
            inline=data.get("inline"),
            size=size if isinstance(size, int) else None,
            ref_id=data.get("id"),
        )


def data_url_parts(value: str) -> tuple[str | None, str] | None:
    """`data:<type>;base64,<data>` as (type, data); None for anything else."""
    if not value.startswith("data:") or "," not in value:
        return None
    header, _, data = value.partition(",")
    if not header.endswith(";base64"):
        return None
    kind = header[5:].split(";")[0].strip() or None
    return kind, data


class RefusalReason(StrEnum):
    HOST = "host"  # a host the allow-list does not name
    SCHEME = "scheme"  # not https (plain http only on loopback)
    TYPE = "type"  # a content type the allow-list does not name
    TOO_BIG = "too_big"
    TOO_MANY = "too_many"  # more files than the customer's channel carries in one message
    REDIRECT = "redirect"  # a redirect to another host
    GONE = "gone"  # the link no longer works, or the file could not be opened
    SLOW = "slow"  # not fetched within MEDIA_TIMEOUT_SECONDS
    UNANSWERED = "unanswered"  # its host failed every try the message waited for


@dataclass(frozen=True)
class Refusal:
    """Why a file did not cross, in words the other side reads."""

    reason: RefusalReason
    detail: str

    def notice(self, ref: MediaRef) -> str:
        return f"[{ref.kind_word} not forwarded: {self.detail}]"


def megabytes(size: int) -> str:
    """7549747 -> "7.2 MB", 5242880 -> "5 MB", 20480 -> "20 KB": how a person says a file's size."""
    if size < _MIB // 10:
        return f"{max(1, round(size / 1024))} KB"
    return f"{size / _MIB:.1f}".removesuffix(".0") + " MB"


def too_big(size: int | None, limit: int) -> Refusal:
    if limit <= 0:
        return Refusal(RefusalReason.TOO_BIG, "files are not forwarded here")
    if size is None:  # stopped while streaming: its full size is not known
        return Refusal(RefusalReason.TOO_BIG, f"larger than the {megabytes(limit)} limit")
    return Refusal(RefusalReason.TOO_BIG, f"{megabytes(size)}, the limit is {megabytes(limit)}")


def type_refused(content_type: str | None) -> Refusal:
    return Refusal(
        RefusalReason.TYPE, f"{content_type or 'an unknown type'} is not a type the bridge passes on"
    )


def unusable(ref: MediaRef) -> Refusal | None:
    """Why a file cannot even be tried: a stand-in for files past what one message held, or a file
    whose source gave no usable URL or bytes."""
    if (ref.ref_id or "").startswith(DROPPED_PREFIX):
        return Refusal(RefusalReason.TOO_MANY, "more files than one message can carry")
    if not ref.url and ref.inline is None:
        return Refusal(RefusalReason.GONE, "the file could not be read")
    return None
