"""Conversations the simulator holds, the documented limits of create and send, and the messages page.

Limits and codes from Microsoft's `error-handling.md`, `api/api-conversation-create.md` and
`api/api-conversation-endpoint.md`: 30010 (context past 100 entries), 30011 (text past 6,000), 30012
(malformed body), 30013 (unknown or closed conversation, 404), 30016 (no text, no attachments), 30003
(unsupported operation, e.g. an unknown event name). Time comes from an injected `clock` (epoch
seconds), so tests move it instead of sleeping: message ids (13-digit epoch ms, strictly increasing),
timestamps and end times all read it.

`GET .../conversation/{id}/messages` as `api-conversation-messages.md` shows it; readings chosen:
- `StartTimeStamp` and `ContinuationToken` are DatetimeOffsets: messages strictly after them are
  listed (both given: after the later). Without an offset they are refused (30006 / 30009): the
  type is DatetimeOffset, and a `+` sent unencoded arrives as a space, also refused.
- `PageSize`: default 50, 1..100, anything else 400 / 30008.
- `continuationToken`: the last listed message's timestamp while more remain; `null` on the last page.
- Each message is `{type, attachments, text, messageId, timestamp, from, channelData}` with `from`
  empty (`{}`) whoever wrote it, as in the sample; ascending by timestamp; events are not messages.
- Query names are matched case-insensitively, as ASP.NET binds them.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

MAX_CUSTOMER_FIELD = 200
MAX_CONTEXT_ENTRIES = 100
MAX_START_MESSAGE_BYTES = 27 * 1024
MAX_TEXT = 6000
MAX_PAGE_SIZE = 100
CUSTOMER_FIELDS = ("customerid", "firstname", "lastname", "preferredname", "email", "phonenumber")
SILENT_END_REASONS = frozenset({"timeout", "waiting"})
MALFORMED = "The request body was either not provided or is malformed."
UNSUPPORTED = "The requested operation is invalid or not supported."
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_BAD_INSTANT = {
    30006: "The provided timestamp isn't valid.",
    30009: "The provided continuation token is invalid. Use the same token as before.",
}


@dataclass
class ApiError(Exception):
    """An answer the API gives instead of success: status, 300xx code, detail (RFC 7807 body)."""

    status: int
    code: int | None
    detail: str


def camel(fields: dict[str, Any]) -> dict[str, Any]:
    """snake_case keys as the admin API's camelCase (`conversation_id` -> `conversationId`)."""
    return {k.split("_")[0] + "".join(w.title() for w in k.split("_")[1:]): v for k, v in fields.items()}


def iso_from_ms(epoch_ms: int) -> str:
    """A DatetimeOffset as the messages page shows it (`2025-04-15T12:37:00+00:00`), to the millisecond."""
    return datetime.fromtimestamp(epoch_ms / 1000, UTC).isoformat(timespec="milliseconds")


@dataclass
class Message:
    direction: str  # "start" (create's startmessage), "customer" (sent to the API) or "rep" (the rep's)
    message_id: str  # 13-digit epoch ms
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
        fields = {k: v for k, v in asdict(self).items() if k != "created"}
        fields["messages"] = [
            {"direction": m.direction, "messageId": m.message_id, **m.activity} for m in self.messages
        ]
        return camel(fields)


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
            raise ApiError(400, 30012, MALFORMED)
        customer = body.get("customercontext") or {}
        context = body.get("conversationcontext") or {}
        if not isinstance(customer, dict) or not isinstance(context, dict):
            raise ApiError(400, 30012, "customercontext and conversationcontext must be objects.")
        for name in CUSTOMER_FIELDS:
            value = customer.get(name)
            if value is not None and (not isinstance(value, str) or len(value) > MAX_CUSTOMER_FIELD):
                raise ApiError(400, 30012, f"customercontext.{name} must be a string of at most 200 chars.")
        if len(context) > MAX_CONTEXT_ENTRIES:
            detail = "The conversation context size is too large. Maximum allowed is 100 entries."
            raise ApiError(400, 30010, detail)
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

    def active(self, conversation_id: str, closed_grace: float = 0.0) -> Conversation:
        """An active conversation, or (messages to read) one ended less than `closed_grace` s ago."""
        found = self.get(conversation_id)
        if found is None or not (
            found.active or (closed_grace > 0 and self.clock() - (found.closed_at or 0.0) < closed_grace)
        ):
            raise ApiError(404, 30013, "The specified conversation doesn't exist.")
        return found

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
        self, conversation: Conversation, direction: str, activity: dict[str, Any], message_id: str = ""
    ) -> str:
        message_id = message_id or self.next_message_id()
        with self._lock:
            conversation.messages.append(Message(direction, message_id, dict(activity)))
        return message_id

    def all(self) -> list[Conversation]:
        with self._lock:
            return list(self._conversations.values())

    def count(self) -> int:
        with self._lock:
            return len(self._conversations)

    def messages_page(self, conversation: Conversation, query: dict[str, str], with_author: bool) -> Any:
        """One page of GET .../messages for `query` (see the module's readings)."""
        with self._lock:
            listed = sorted((m for m in conversation.messages if m.listed), key=lambda m: int(m.message_id))
        after = max((t for t in (_instant(query, n, c) for n, c in _INSTANTS) if t is not None), default=-1)
        size = _query(query, "PageSize")
        if size and (not size.isdigit() or not 1 <= int(size) <= MAX_PAGE_SIZE):
            raise ApiError(400, 30008, "The page size for messages must either be null or between 1 and 100.")
        listed = [m for m in listed if int(m.message_id) > after]
        page = listed[: int(size or 50)]
        return {
            "messages": [_wire_message(m, with_author) for m in page],
            "continuationToken": page[-1].timestamp if len(listed) > len(page) and page else None,
        }


_INSTANTS = (("StartTimeStamp", 30006), ("ContinuationToken", 30009))


def _query(query: dict[str, str], name: str) -> str | None:
    return next((v for k, v in query.items() if k.lower() == name.lower()), None)


def _instant(query: dict[str, str], name: str, code: int) -> int | None:
    """Epoch milliseconds (floored, exact) of a DatetimeOffset parameter, or ApiError naming it."""
    text = _query(query, name)
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text)
        if parsed.tzinfo is None:
            raise ValueError(text)
    except ValueError:
        detail = f"{_BAD_INSTANT[code]} ({name} must be an ISO 8601 DatetimeOffset, URL-encoded.)"
        raise ApiError(400, code, detail) from None
    return (parsed - _EPOCH) // timedelta(milliseconds=1)


def _wire_message(message: Message, with_author: bool) -> dict[str, Any]:
    activity = message.activity
    author = activity.get("from") if with_author and isinstance(activity.get("from"), dict) else {}
    return {
        "type": "message",
        "attachments": list(activity.get("attachments") or []),
        "text": activity.get("text"),
        "messageId": message.message_id,
        "timestamp": message.timestamp,
        "from": dict(author or {}),
        "channelData": dict(activity.get("channelData") or {}),
    }


def check_activity(activity: Any, channel_id: str) -> str:
    """Validate a send body; return its type. Raises ApiError like the service."""
    if not isinstance(activity, dict):
        raise ApiError(400, 30012, MALFORMED)
    kind, text, extra = activity.get("type"), activity.get("text"), activity.get("channelData")
    body_channel = activity.get("channelId")
    if body_channel is not None and str(body_channel).lower() != channel_id.lower():
        raise ApiError(400, 30002, "The provided channel ID isn't valid.")
    if kind == "message":
        if text is not None and not isinstance(text, str):
            raise ApiError(400, 30012, "text must be a string.")
        if len(text or "") > MAX_TEXT:
            raise ApiError(400, 30011, "The message text length is too large. Max 6,000 characters allowed.")
        attachments = activity.get("attachments")
        if not (text or "").strip() and not (isinstance(attachments, list) and attachments):
            raise ApiError(400, 30016, "The message activity has no text or attachments.")
    elif kind == "event":
        if activity.get("name") != "MessageRead" and not (
            isinstance(extra, dict) and extra.get("customEvent")
        ):
            raise ApiError(400, 30003, UNSUPPORTED)
    elif kind not in ("typing", "endOfConversation"):
        raise ApiError(400, 30003, UNSUPPORTED)
    return str(kind)
