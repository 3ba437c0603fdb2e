"""OpenCX's webhook envelope (docs/contract.md section 2), validated, and the handoff's identity.

OpenCX sends `{"event", "organization_id", "data"}`, `data` as an object or a one-element array
(its docs show both). A handoff event carries no channel, contact or transcript: the worker reads
those from the OpenCX API. Every failing field is reported at once, never with its value.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from shared.opencx.events import HANDOFF_TO_HUMAN as HANDOFF_EVENT
from shared.platform.limits import MESSAGING_TEXT_MAX_CHARS
from shared.platform.text import NestingTooDeep, has_unsafe_characters, is_blank, sanitise

CONVERSATION_ID_MAX = 128
SUMMARY_MAX = 10_000
SHORT_TEXT_MAX = 200
_ID_FORBIDDEN = re.compile(r"[/\\#?]")
# Control and format characters (bidi overrides, zero-width), Unicode line breaks (U+2028, U+2029,
# U+0085): an id is a table key and a log dimension, and these forge or disguise a log line.
ID_CHARACTERS_RULE = "must not contain control, format or line-separator characters or / \\ # ?"


class FieldError(BaseModel):
    field: str
    message: str


class EventInvalid(Exception):
    """The body is JSON but not a valid event. Carries every failing field."""

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = errors
        super().__init__(", ".join(error.field for error in errors))


def check_identifier(value: str, max_length: int = CONVERSATION_ID_MAX) -> str:
    """An id that becomes a table key, a log dimension and part of a Dynamics id."""
    if is_blank(value):
        raise PydanticCustomError("blank", "must not be blank")
    if len(value) > max_length:
        raise PydanticCustomError("too_long", f"must be at most {max_length} characters")
    if has_unsafe_characters(value) or _ID_FORBIDDEN.search(value):
        raise PydanticCustomError("forbidden_characters", ID_CHARACTERS_RULE)
    if not value.strip(". "):  # '.' or '..' would name another path of the OpenCX API
        raise PydanticCustomError("dots_only", "must not be made of dots only")
    return value


def _short_text(value: Any) -> str | None:
    """Optional descriptive strings: trimmed, cut, blank -> None; a non-string is kept as text."""
    if value is None:
        return None
    text = value if isinstance(value, str) else str(value)
    return None if is_blank(text) else text.strip()[:SHORT_TEXT_MAX]


class HandoffEvent(BaseModel):
    """What a handoff event tells us. `timestamp` keeps the sender's text: it is part of the
    handoff's identity, and re-formatting it would change that."""

    model_config = ConfigDict(extra="ignore")

    event: str = HANDOFF_EVENT
    organization_id: str | None = None
    conversation_id: Annotated[str, Field(min_length=1)]
    timestamp: str
    summary: str | None = None
    summaryTruncated: bool = False
    reason: str | None = None
    contact_reason: str | None = None
    user_sentiment: str | None = None
    language: str | None = None
    customer_id: str | None = None
    message_count: int | None = None
    message: str | None = None  # conversation.contact_response: the customer's text (undocumented)

    @field_validator("conversation_id")
    @classmethod
    def _conversation_id(cls, value: str, info: ValidationInfo) -> str:
        if info.context and info.context.get("legacy_ids"):
            return value  # a v1 message queued before an upgrade: v1's own rules admitted it
        return check_identifier(value)

    @field_validator("timestamp", mode="before")
    @classmethod
    def _timestamp(cls, value: Any) -> str:
        if not isinstance(value, str):
            raise PydanticCustomError("timestamp", "must be an ISO 8601 date-time string with a time zone")
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise PydanticCustomError("timestamp", "must be an ISO 8601 date-time with a time zone") from None
        if parsed.tzinfo is None:
            raise PydanticCustomError("timestamp", "must carry a time zone (e.g. Z or +00:00)")
        return value.strip()

    @field_validator("summary", "message", mode="before")
    @classmethod
    def _long_text(cls, value: Any) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str):
            raise PydanticCustomError("string_type", "must be a string or null")
        return None if is_blank(value) else value.strip()

    @field_validator(
        "reason",
        "contact_reason",
        "user_sentiment",
        "language",
        "customer_id",
        "organization_id",
        mode="before",
    )
    @classmethod
    def _optional_text(cls, value: Any) -> str | None:
        return _short_text(value)

    @field_validator("message_count", mode="before")
    @classmethod
    def _count(cls, value: Any) -> int | None:
        """Carried for the rep; never worth refusing a handoff over."""
        try:
            return int(value) if value is not None and int(value) >= 0 else None
        except (TypeError, ValueError, OverflowError):
            return None

    def model_post_init(self, _context: Any) -> None:
        if self.summary is not None and len(self.summary) > SUMMARY_MAX:
            self.summary = self.summary[:SUMMARY_MAX]
            self.summaryTruncated = True
        if self.message is not None and len(self.message) > MESSAGING_TEXT_MAX_CHARS:
            self.message = self.message[:MESSAGING_TEXT_MAX_CHARS]  # the Messaging API takes 6,000 at most


def derive_handoff_id(event: HandoffEvent) -> str:
    """The handoff's identity when no id header names it: the same event delivered twice is one
    handoff (contract section 2)."""
    key = f"{event.organization_id or ''}\n{event.conversation_id}\n{event.event}\n{event.timestamp}"
    return "ocx_" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]


def _field_path(prefix: str, location: tuple[int | str, ...]) -> str:
    return ".".join([prefix, *(str(part) for part in location)]) if location else prefix


def read_envelope(body: Any) -> tuple[str, str | None, Any]:
    """`event`, `organization_id` and the raw `data` of a decoded body; EventInvalid when the
    envelope itself is wrong (the body is not an object, `event` is missing)."""
    if not isinstance(body, dict):
        raise EventInvalid([FieldError(field="(body)", message="must be a JSON object")])
    event = body.get("event")
    if not isinstance(event, str) or is_blank(event):
        raise EventInvalid([FieldError(field="event", message="is required and must be a string")])
    organization = _short_text(body.get("organization_id"))
    return event.strip()[:SHORT_TEXT_MAX], organization, body.get("data")


def parse_event(body: dict[str, Any]) -> HandoffEvent:
    """Validate a decoded event body, listing every failing field at once."""
    try:
        body = sanitise(body)
    except NestingTooDeep as exc:
        raise EventInvalid([FieldError(field="(body)", message=str(exc))]) from None
    event, organization, data = read_envelope(body)
    prefix = "data"
    if isinstance(data, list):
        if len(data) != 1:
            raise EventInvalid([FieldError(field="data", message="must be an object or a one-element array")])
        data, prefix = data[0], "data.0"
    if not isinstance(data, dict):
        raise EventInvalid([FieldError(field="data", message="is required and must be an object")])
    try:
        return HandoffEvent.model_validate({**data, "event": event, "organization_id": organization})
    except ValidationError as exc:
        errors = [
            FieldError(field=_field_path(prefix, tuple(error["loc"])), message=error["msg"])
            for error in exc.errors(include_input=False, include_url=False)
        ]
        raise EventInvalid(errors) from None
