"""Conversations the simulator holds, with the documented limits of create and send.

Limits and codes from Microsoft's `error-handling.md` and `api/api-conversation-create.md`,
`api/api-conversation-endpoint.md`: 30010 (context past 100 entries), 30011 (text past 6,000),
30012 (malformed body), 30013 (unknown or closed conversation, 404), 30016 (no text, no
attachments), 30003 (unsupported operation, e.g. an unknown event name).

Time comes from an injected `clock` (epoch seconds), so tests move it instead of sleeping: message ids
(13-digit epoch milliseconds, strictly increasing), timestamps and end times all read it.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


class ApiError(Exception):
    """An answer the API gives instead of success: status, 300xx code, detail (RFC 7807 body)."""

    def __init__(self, status: int, code: int | None, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail


MAX_CUSTOMER_FIELD = 200
MAX_CONTEXT_ENTRIES = 100
MAX_START_MESSAGE_BYTES = 27 * 1024
MAX_TEXT = 6000
CUSTOMER_FIELDS = ("customerid", "firstname", "lastname", "preferredname", "email", "phonenumber")
SILENT_END_REASONS = frozenset({"timeout", "waiting"})


def iso_from_ms(epoch_ms: int) -> str:
    """A DatetimeOffset as the messages page shows it (`2025-04-15T12:37:00+00:00`), to the millisecond."""
    return datetime.fromtimestamp(epoch_ms / 1000, UTC).isoformat(timespec="milliseconds")


@dataclass
class Message:
    """One message in a conversation, either side. `message_id` is a 13-digit epoch-ms string."""

    direction: str  # "start" (create's startmessage), "customer" (sent to the API) or "rep" (the rep's)
    message_id: str
    activity: dict[str, Any]

    @property
    def timestamp(self) -> str:
        return iso_from_ms(int(self.message_id))

    @property
    def listed(self) -> bool:
        """Whether GET .../messages shows it: messages only, never events (AgentAccepted, MessageRead)."""
        return self.activity.get("type") == "message" and not self.activity.get("name")


@dataclass
class Conversation:
    conversation_id: str
    customer_id: str | None
    customer: dict[str, Any]
    context: dict[str, Any]
    request_id: str | None
    start_message: Any
    created: float
    active: bool = True
    closed_by: str | None = None
    closed_at: float | None = None  # clock time of the end (by anyone, silent or not)
    messages: list[Message] = field(default_factory=list)

    def customer_messages(self) -> list[dict[str, Any]]:
        return [m.activity for m in self.messages if m.direction == "customer"]

    def summary(self) -> dict[str, Any]:
        return {
            "conversationId": self.conversation_id,
            "customerId": self.customer_id,
            "active": self.active,
            "closedBy": self.closed_by,
            "closedAt": self.closed_at,
            "customer": dict(self.customer),
            "context": dict(self.context),
            "requestId": self.request_id,
            "startMessage": self.start_message,
            "messages": [
                {"direction": m.direction, "messageId": m.message_id, **m.activity} for m in self.messages
            ],
        }


class Store:
    """Thread-safe conversations, indexed by id and by active customerid."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._conversations: dict[str, Conversation] = {}
        self._active_by_customer: dict[str, str] = {}
        self._last_message_ms = 0

    def clear(self) -> None:
        with self._lock:
            self._conversations.clear()
            self._active_by_customer.clear()

    def next_message_id(self) -> str:
        """Strictly increasing epoch milliseconds, 13 digits, as the docs describe messageId."""
        with self._lock:
            self._last_message_ms = max(self._last_message_ms + 1, int(self.clock() * 1000))
            return str(self._last_message_ms)

    def create(self, body: Any) -> tuple[Conversation, bool]:
        """Validate a create body; return the conversation and whether it is new."""
        if not isinstance(body, dict):
            raise ApiError(400, 30012, "The request body was either not provided or is malformed.")
        customer = body.get("customercontext") or {}
        context = body.get("conversationcontext") or {}
        if not isinstance(customer, dict) or not isinstance(context, dict):
            raise ApiError(400, 30012, "customercontext and conversationcontext must be objects.")
        for name in CUSTOMER_FIELDS:
            value = customer.get(name)
            if value is not None and (not isinstance(value, str) or len(value) > MAX_CUSTOMER_FIELD):
                raise ApiError(400, 30012, f"customercontext.{name} must be a string of at most 200 chars.")
        if len(context) > MAX_CONTEXT_ENTRIES:
            raise ApiError(
                400, 30010, "The conversation context size is too large. Maximum allowed is 100 entries."
            )
        for name, entry in context.items():
            if not isinstance(entry, dict) or "value" not in entry:
                raise ApiError(400, 30012, f"conversationcontext.{name} must be {{isDisplayable, value}}.")
        start = body.get("startmessage")
        start_text = start.get("message") if isinstance(start, dict) else start
        if start is not None and not isinstance(start_text, str):
            raise ApiError(400, 30012, "startmessage must be a string or {message, displayname}.")
        if isinstance(start_text, str) and len(start_text.encode()) > MAX_START_MESSAGE_BYTES:
            raise ApiError(400, 30012, "startmessage is over 27 KB.")
        customer_id = customer.get("customerid") or None
        with self._lock:
            existing = self._active_by_customer.get(customer_id) if customer_id else None
            if existing is not None:
                return self._conversations[existing], False
            conversation = Conversation(
                conversation_id=str(uuid.uuid4()),
                customer_id=customer_id,
                customer=dict(customer),
                context=dict(context),
                request_id=body.get("conversationrequestid"),
                start_message=start,
                created=self.clock(),
            )
            self._conversations[conversation.conversation_id] = conversation
            if customer_id:
                self._active_by_customer[customer_id] = conversation.conversation_id
            return conversation, True

    def active(self, conversation_id: str) -> Conversation:
        with self._lock:
            conversation = self._conversations.get(conversation_id.lower())
        if conversation is None or not conversation.active:
            raise ApiError(404, 30013, "The specified conversation doesn't exist.")
        return conversation

    def readable(self, conversation_id: str, closed_grace: float) -> Conversation:
        """A conversation whose messages may be read: active, or ended less than `closed_grace` s ago."""
        with self._lock:
            conversation = self._conversations.get(conversation_id.lower())
        if conversation is not None and not conversation.active:
            ended = conversation.closed_at if conversation.closed_at is not None else 0.0
            if self.clock() - ended >= closed_grace:
                conversation = None
        if conversation is None:
            raise ApiError(404, 30013, "The specified conversation doesn't exist.")
        return conversation

    def get(self, conversation_id: str) -> Conversation | None:
        with self._lock:
            return self._conversations.get(conversation_id.lower())

    def close(self, conversation_id: str, by: str) -> bool:
        """Close an active conversation; False when it was not active."""
        with self._lock:
            conversation = self._conversations.get(conversation_id.lower())
            if conversation is None or not conversation.active:
                return False
            conversation.active = False
            conversation.closed_by = by
            conversation.closed_at = self.clock()
            if conversation.customer_id:
                self._active_by_customer.pop(conversation.customer_id, None)
            return True

    def add_message(
        self,
        conversation: Conversation,
        direction: str,
        activity: dict[str, Any],
        message_id: str | None = None,
    ) -> str:
        message_id = message_id or self.next_message_id()
        with self._lock:
            conversation.messages.append(Message(direction, message_id, dict(activity)))
        return message_id

    def messages(self, conversation: Conversation) -> list[Message]:
        with self._lock:
            return list(conversation.messages)

    def all(self) -> list[Conversation]:
        with self._lock:
            return list(self._conversations.values())

    def count(self) -> int:
        with self._lock:
            return len(self._conversations)


def check_activity(activity: Any, channel_id: str) -> str:
    """Validate a send body; return its type (lower case). Raises ApiError like the service."""
    if not isinstance(activity, dict):
        raise ApiError(400, 30012, "The request body was either not provided or is malformed.")
    kind = str(activity.get("type") or "")
    body_channel = activity.get("channelId")
    if body_channel is not None and str(body_channel).lower() != channel_id.lower():
        raise ApiError(400, 30002, "The provided channel ID isn't valid.")
    if kind == "message":
        text = activity.get("text")
        attachments = activity.get("attachments")
        if text is not None and not isinstance(text, str):
            raise ApiError(400, 30012, "text must be a string.")
        if isinstance(text, str) and len(text) > MAX_TEXT:
            raise ApiError(400, 30011, "The message text length is too large. Max 6,000 characters allowed.")
        if not (text or "").strip() and not (isinstance(attachments, list) and attachments):
            raise ApiError(400, 30016, "The message activity has no text or attachments.")
        return kind
    if kind in ("typing", "endOfConversation"):
        return kind
    if kind == "event":
        channel_data = activity.get("channelData") or {}
        if activity.get("name") == "MessageRead" or (
            isinstance(channel_data, dict) and channel_data.get("customEvent")
        ):
            return kind
        raise ApiError(400, 30003, "The requested operation is invalid or not supported.")
    raise ApiError(400, 30003, "The requested operation is invalid or not supported.")
