"""The request bodies we send to the Messaging API, each built in exactly one function.

Shapes follow Microsoft's `contact-center/extend/api/api-conversation-create.md` (create) and
`api/api-conversation-endpoint.md` (message, typing, endOfConversation). Where the docs disagree the
reading chosen is stated next to the field, so a real-tenant finding changes one line.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from shared.platform.limits import (
    MESSAGING_CONTEXT_MAX_ENTRIES,
    MESSAGING_CUSTOMER_FIELD_MAX_CHARS,
    MESSAGING_START_MESSAGE_MAX_BYTES,
    MESSAGING_TEXT_MAX_CHARS,
)

MAX_CUSTOMER_FIELD_CHARS = MESSAGING_CUSTOMER_FIELD_MAX_CHARS  # customercontext: "200 chars" each
MAX_CONTEXT_ENTRIES = MESSAGING_CONTEXT_MAX_ENTRIES  # conversationcontext: "up to 100" (30010 past that)
MAX_CONTEXT_VALUE_CHARS = 1000  # ours: the docs set no limit; a context value is a detail, not a transcript
MAX_START_MESSAGE_BYTES = MESSAGING_START_MESSAGE_MAX_BYTES
MAX_TEXT_CHARS = MESSAGING_TEXT_MAX_CHARS  # message text (error 30011)
TRANSCRIPT_SEPARATOR = "\n\n--- Conversation so far ---\n"


def _clip(value: str | None, limit: int) -> str | None:
    if value is None:
        return None
    value = value.strip()
    return value[:limit] if value else None


def _context_value(value: Any) -> Any:
    if isinstance(value, bool | int | float):
        return value
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text[:MAX_CONTEXT_VALUE_CHARS]


def build_conversation_context(items: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """`{name: {"isDisplayable": bool, "value": v}}`, first 100 non-empty entries in the caller's order.

    An item is a plain value (displayed to the rep) or a `(value, is_displayable)` pair. Entries past
    100 are dropped, not sent: error 30010 would refuse the whole conversation.
    """
    context: dict[str, dict[str, Any]] = {}
    for name, item in items.items():
        value, displayable = item if isinstance(item, tuple) else (item, True)
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        if len(context) >= MAX_CONTEXT_ENTRIES:
            break
        context[str(name)] = {"isDisplayable": bool(displayable), "value": _context_value(value)}
    return context


def _fit_utf8(text: str, limit: int) -> str:
    encoded = text.encode()
    if len(encoded) <= limit:
        return text
    return encoded[:limit].decode(errors="ignore")


def build_start_message(summary: str | None, transcript_lines: Sequence[str] = ()) -> str:
    """The summary, then as many of the transcript's LAST lines as fit in the start message's 27 KB."""
    head = (summary or "").strip()
    head = _fit_utf8(head, MAX_START_MESSAGE_BYTES)
    budget = MAX_START_MESSAGE_BYTES - len(head.encode()) - len(TRANSCRIPT_SEPARATOR.encode())
    tail: list[str] = []
    for line in reversed(transcript_lines):
        cost = len(line.encode()) + 1
        if cost > budget:
            break
        tail.append(line)
        budget -= cost
    if not tail:
        return head
    body = "\n".join(reversed(tail))
    return f"{head}{TRANSCRIPT_SEPARATOR}{body}" if head else body


def build_create_body(
    customer_id: str,
    *,
    first_name: str | None = None,
    last_name: str | None = None,
    preferred_name: str | None = None,
    email: str | None = None,
    phone: str | None = None,
    context: Mapping[str, Any] | None = None,
    request_id: str | None = None,
    start_message: str | None = None,
    start_display_name: str | None = None,
    skip_deflection_bot: bool = True,
) -> dict[str, Any]:
    """The body of `POST /api/v1.0/consumer/conversation/create`.

    `customer_id` is the documented idempotency ("If an active conversation already exists with the
    same ID, the existing conversation ID is returned"): never clipped, so refused when too long.
    Email and phone are dropped rather than clipped past 200 characters (a clipped address would
    match the wrong record). `conversationrequestid` is in the page's example without a description:
    sent, never relied on. `startmessage` is a string in the field table and an object
    `{message, displayname}` in the example: the object form is sent.
    """
    customer_id = customer_id.strip()
    if not customer_id or len(customer_id) > MAX_CUSTOMER_FIELD_CHARS:
        raise ValueError("customer_id must be 1 to 200 characters")
    customer: dict[str, str] = {"customerid": customer_id}
    names = {"firstname": first_name, "lastname": last_name, "preferredname": preferred_name}
    for key, value in names.items():
        clipped = _clip(value, MAX_CUSTOMER_FIELD_CHARS)
        if clipped:
            customer[key] = clipped
    for key, value in {"email": email, "phonenumber": phone}.items():
        cleaned = (value or "").strip()
        if cleaned and len(cleaned) <= MAX_CUSTOMER_FIELD_CHARS:
            customer[key] = cleaned
    body: dict[str, Any] = {"customercontext": customer}
    conversation_context = build_conversation_context(context or {})
    if conversation_context:
        body["conversationcontext"] = conversation_context
    if request_id:
        body["conversationrequestid"] = request_id
    message = _fit_utf8((start_message or "").strip(), MAX_START_MESSAGE_BYTES)
    if message:
        start: dict[str, str] = {"message": message}
        display = _clip(start_display_name, MAX_CUSTOMER_FIELD_CHARS)
        if display:
            start["displayname"] = display
        body["startmessage"] = start
    body["skipdeflectionbot"] = bool(skip_deflection_bot)
    return body


def build_message_activity(
    conversation_id: str,
    channel_id: str,
    *,
    text: str | None = None,
    sender_id: str | None = None,
    sender_name: str | None = None,
    attachments: Sequence[Mapping[str, str]] = (),
    activity_id: str | None = None,
) -> dict[str, Any]:
    """A customer message for `POST /api/v1.0/consumer/conversation/{id}` (endpoint page, message payload).

    Text over 6,000 characters is refused here (30011 would refuse it there); so is a message with
    neither text nor attachments (30016). `id` is "an optional identifier": sent when given; whether
    the service deduplicates on it is not documented.
    """
    if text is not None and len(text) > MAX_TEXT_CHARS:
        raise ValueError("message text over 6,000 characters")
    if not (text or "").strip() and not attachments:
        raise ValueError("a message needs text or attachments")
    activity: dict[str, Any] = {"type": "message", "channelId": channel_id}
    if activity_id:
        activity["id"] = activity_id
    sender = {key: value for key, value in (("id", sender_id), ("name", sender_name)) if value}
    if sender:
        activity["from"] = sender
    activity["conversation"] = {"id": conversation_id}
    if (text or "").strip():
        activity["text"] = text
    if attachments:
        activity["attachments"] = [dict(item) for item in attachments]
    return activity


def build_end_activity(conversation_id: str, channel_id: str) -> dict[str, Any]:
    """The end-of-conversation payload (endpoint page)."""
    return {"type": "endOfConversation", "channelId": channel_id, "conversation": {"id": conversation_id}}


def build_typing_activity(
    conversation_id: str, channel_id: str, sender_name: str | None = None
) -> dict[str, Any]:
    activity: dict[str, Any] = {"type": "typing", "channelId": channel_id}
    if sender_name:
        activity["from"] = {"name": sender_name}
    activity["conversation"] = {"id": conversation_id}
    return activity
