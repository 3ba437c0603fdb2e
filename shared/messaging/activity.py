"""Lenient parsing of the activities Microsoft POSTs to our webhook, and what each one means for us.

Shapes follow Microsoft's `contact-center/extend/api/api-conversation-webhook.md` (Bot Framework
activities: `type`, `channelId`, `from.{id,name}`, `conversation.id`, `text`, `textFormat`,
`attachments[]`, and event names in `name`). The page contradicts itself, so parsing is lenient:
- system events arrive as `type: "message"` with `text: "EventName: **_AgentAccepted_**"` and a
  `name`, although the page says events are `type: "event"`: the event name is read from `name`
  or from that text pattern, and an activity that names an event is never relayed as a message;
- two samples name events (`AgentClosed`, `ConversationClosed`) the list lacks: both end;
- an earlier revision (the removed `configure-custom-events.md`) showed PascalCase keys (`Type`,
  `Id`, `Conversation.Id`): keys are matched case-insensitively at every level;
- the samples carry no `id`: the dedup key falls back to a hash of the canonical body.
Every string is repaired as ingress repairs OpenCX's (a lone surrogate, half an emoji, becomes
U+FFFD): refusing it would answer every redelivery the same, and Microsoft gives up after three.
Every uncertain reading lives in this module only.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from shared.media.refs import NAME_MAX, MediaRef, data_url_parts
from shared.platform.limits import MESSAGING_TEXT_MAX_CHARS
from shared.platform.text import NestingTooDeep, sanitise

MAX_BODY_BYTES = 1024 * 1024
# Deep enough for an Adaptive Card attachment; a deeper body is refused (400) before any recursion.
_MAX_DEPTH = 64
# What one outbox row (64 KiB per table property) and, when the table is down, one queue message
# (64 KiB) can hold. Longer is a hostile or broken sender: the text is cut and extra attachments
# dropped (both logged), never a 5xx that Microsoft retries three times and then drops. The
# Messaging API takes 6,000 characters per customer message; the same bound serves the other way.
MAX_TEXT_CHARS = MESSAGING_TEXT_MAX_CHARS
MAX_ATTACHMENTS = 20
MAX_ATTACHMENTS_JSON_CHARS = 12_000
MAX_FIELD_CHARS = 2_048  # an attachment's URL, name or type; a sender's id or name
CUT_URL = "cut:"  # stands for a content URL too long to keep: the file becomes a notice, never a cut file
_ATTACHMENT_KEYS = ("contenttype", "contenturl", "name")

# `EventName: **_AgentAccepted_**` (webhook page samples); tolerant of spacing and of the markdown.
_EVENT_TEXT = re.compile(r"^\s*EventName\s*:\s*[*_\s]*([A-Za-z][A-Za-z0-9_]*?)[*_\s]*$", re.IGNORECASE)

# Events after which the conversation is over for the customer. From the webhook page's list
# (AgentEndSession, PrimaryAgentEndConversation, ConversationClose,
# SupervisorForceClosedConversation) and its samples (AgentClosed, ConversationClosed). Compared
# case-insensitively. AgentDisconnected, CustomerDisconnected and the Consult*/Transfer* events do
# not end the conversation; OutOfOperatingHours* are undocumented in effect and only logged.
END_EVENT_NAMES = frozenset(
    name.lower()
    for name in (
        "AgentEndSession",
        "PrimaryAgentEndConversation",
        "ConversationClose",
        "ConversationClosed",
        "SupervisorForceClosedConversation",
        "AgentClosed",
        "EndConversation",
        "EndOfConversation",
    )
)


class ActivityKind(StrEnum):
    """What the bridge does with an activity."""

    REP_MESSAGE = "rep_message"  # relay to the customer
    END = "end"  # close the OpenCX session
    SYSTEM_EVENT = "system_event"  # log, ignore
    TYPING = "typing"  # ignore
    OTHER = "other"  # unknown type, or a message with neither text nor attachments: ignore


class ActivityInvalid(ValueError):
    """The body is not a JSON object. The reason is safe to log (it never quotes the body)."""


def _text(value: Any) -> str | None:
    """Strings as they are; numbers (a 13-digit id) as text; anything else is absent."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def _field(value: Any) -> str | None:
    text = _text(value)
    return text[:MAX_FIELD_CHARS] if text is not None else None


def _object(value: Any) -> Any:
    return value if isinstance(value, dict) else None


def _list(value: Any) -> list[Any]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


Text = Annotated[str | None, BeforeValidator(_text)]
Field_ = Annotated[str | None, BeforeValidator(_field)]


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class ChannelAccount(_Lenient):
    id: Field_ = None
    name: Field_ = None


class ConversationAccount(_Lenient):
    id: Text = None


def _url(value: Any) -> str | None:
    """A URL is never cut (a cut URL or data: URL is a broken file): one too long becomes CUT_URL."""
    text = _text(value)
    return CUT_URL if text is not None and len(text) > MAX_FIELD_CHARS else text


class Attachment(_Lenient):
    content_type: Field_ = Field(default=None, alias="contenttype")
    content_url: Annotated[str | None, BeforeValidator(_url)] = Field(default=None, alias="contenturl")
    name: Field_ = None


class Activity(_Lenient):
    """One webhook activity, keys already folded to lower case (see `parse_activity`)."""

    type: Text = None
    id: Text = None
    name: Text = None
    channel_id: Text = Field(default=None, alias="channelid")
    from_: Annotated[ChannelAccount | None, BeforeValidator(_object)] = Field(default=None, alias="from")
    conversation: Annotated[ConversationAccount | None, BeforeValidator(_object)] = None
    text: Text = None
    text_format: Text = Field(default=None, alias="textformat")
    attachments: Annotated[list[Attachment], BeforeValidator(_list)] = Field(default_factory=list)
    timestamp: Text = None
    canonical: str = Field(default="", alias="_canonical")
    text_cut: int = Field(default=0, alias="_text_cut")  # characters cut from `text`
    attachments_dropped: int = Field(default=0, alias="_attachments_dropped")

    @model_validator(mode="before")
    @classmethod
    def _fold(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            raise ValueError("an activity is a JSON object")
        folded = fold_keys(data)
        for computed in ("_canonical", "_text_cut", "_attachments_dropped"):
            folded.pop(computed, None)  # computed here only, never taken from the body
        return {**_bounded(folded), "_canonical": canonical_json(folded)}

    @property
    def conversation_id(self) -> str | None:
        return self.conversation.id if self.conversation else None

    @property
    def sender_name(self) -> str | None:
        return self.from_.name if self.from_ else None

    @property
    def sender_id(self) -> str | None:
        return self.from_.id if self.from_ else None

    @property
    def event_name(self) -> str | None:
        """The system event this activity announces: `name`, else the `EventName: **_X_**` text."""
        if self.name and self.name.strip():
            return self.name.strip()
        match = _EVENT_TEXT.match(self.text or "")
        return match.group(1) if match else None

    @property
    def kind(self) -> ActivityKind:
        kind = (self.type or "").strip().lower()
        if kind == "typing":
            return ActivityKind.TYPING
        if kind == "endofconversation":
            return ActivityKind.END
        event = self.event_name
        if event is not None:
            return ActivityKind.END if event.lower() in END_EVENT_NAMES else ActivityKind.SYSTEM_EVENT
        if kind == "event":
            return ActivityKind.SYSTEM_EVENT
        if kind == "message" and ((self.text or "").strip() or self.attachments):
            return ActivityKind.REP_MESSAGE
        return ActivityKind.OTHER

    @property
    def dedup_key(self) -> str:
        """Stable across redeliveries: the activity `id`, else a hash of the canonical body.

        Without an `id`, two identical bodies are one activity (docs/messaging.md): a rep who types
        the very same text twice with nothing else differing is relayed once. The caller scopes the
        key by conversation id and by a time window.
        """
        if self.id and self.id.strip():
            return f"id:{self.id.strip()}"
        return "sha256:" + hashlib.sha256(self.canonical.encode()).hexdigest()


def _bounded(folded: dict[str, Any]) -> dict[str, Any]:
    """Cut what one outbox row cannot hold (the dedup hash still covers the whole body)."""
    bounded = dict(folded)
    text = folded.get("text")
    if isinstance(text, str) and len(text) > MAX_TEXT_CHARS:
        bounded["text"], bounded["_text_cut"] = text[:MAX_TEXT_CHARS], len(text) - MAX_TEXT_CHARS
    attachments = _list(folded.get("attachments"))
    kept: list[dict[str, Any]] = []
    budget = MAX_ATTACHMENTS_JSON_CHARS
    for attachment in attachments[:MAX_ATTACHMENTS]:
        budget -= 40 + sum(len(json.dumps(_field(attachment.get(k)))) for k in _ATTACHMENT_KEYS)
        if budget < 0:
            break
        kept.append(attachment)
    if len(kept) < len(attachments):
        bounded["attachments"], bounded["_attachments_dropped"] = kept, len(attachments) - len(kept)
    return bounded


def fold_keys(value: Any, depth: int = 0) -> Any:
    """Lower-case every object key, at every level. On a clash the first non-null value wins."""
    if depth > _MAX_DEPTH:
        raise ActivityInvalid("activity nested too deeply")
    if isinstance(value, dict):
        folded: dict[str, Any] = {}
        for key, item in value.items():
            lowered = str(key).lower()
            if folded.get(lowered) is None:
                folded[lowered] = fold_keys(item, depth + 1)
        return folded
    if isinstance(value, list):
        return [fold_keys(item, depth + 1) for item in value]
    return value


def canonical_json(value: Any) -> str:
    """One spelling per body: folded keys, sorted, no whitespace. The base of the dedup hash."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def parse_activity(body: bytes | str | dict[str, Any]) -> Activity:
    """Parse a webhook body. Raises ActivityInvalid when it is not a JSON object; never on fields."""
    if isinstance(body, bytes | str):
        if len(body) > MAX_BODY_BYTES:
            raise ActivityInvalid("activity body too large")
        try:
            data = json.loads(body)
        except RecursionError:  # nested beyond the parser's stack: '[' x 5000
            raise ActivityInvalid("activity nested too deeply") from None
        except (ValueError, UnicodeDecodeError):
            raise ActivityInvalid("activity body is not JSON") from None
    else:
        data = body
    if not isinstance(data, dict):
        raise ActivityInvalid("activity body is not a JSON object")
    try:
        data = sanitise(data, max_nesting=_MAX_DEPTH)
    except NestingTooDeep:
        raise ActivityInvalid("activity nested too deeply") from None
    try:
        return Activity.model_validate(data)
    except ValidationError:  # only the top-level shape can fail; fields are coerced or dropped
        raise ActivityInvalid("activity body is not a valid activity") from None


def media_ref(item: Mapping[str, Any]) -> MediaRef | None:
    """A Bot Framework attachment (`contentType`, `contentUrl`, `name`, any case: a webhook activity or
    a `GET .../messages` item) as the relay's MediaRef. `contentUrl` is a "File URL" (webhook page)
    or, on the endpoint page, "URL or embedded base64 content": a `data:...;base64,` URL becomes
    the file's inline bytes. None for an attachment with no content URL (a card): nothing to pass on."""
    folded = {str(key).lower().replace("_", ""): value for key, value in item.items()}
    url, kind, name = folded.get("contenturl"), folded.get("contenttype"), folded.get("name")
    if not isinstance(url, str) or not url.strip():
        return None
    kind = kind.strip().lower() if isinstance(kind, str) and kind.strip() else None
    name = name.strip()[:NAME_MAX] if isinstance(name, str) and name.strip() else "file"
    if url == CUT_URL:
        return MediaRef(name=name, content_type=kind)  # neither URL nor bytes: told as a notice
    embedded = data_url_parts(url.strip())
    if embedded is not None:
        return MediaRef(name=name, content_type=kind or embedded[0], inline=embedded[1])
    return MediaRef(name=name, content_type=kind, url=url.strip())
