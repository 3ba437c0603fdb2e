"""Conversations the simulator holds, and what create, send and the messages page accept.

Limits and codes (Microsoft's `error-handling.md`, `api/api-conversation-create.md`,
`api/api-conversation-endpoint.md`): 30010 (context past 100 entries), 30011 (text past 6,000), 30012
(malformed body), 30013 (unknown or closed conversation, 404), 30016 (no text, no attachments), 30003
(unsupported operation, e.g. an unknown event name). Time comes from an injected `clock` (epoch
seconds), so tests move it instead of sleeping: message ids (13-digit epoch ms, strictly increasing),
timestamps and end times all read it.

`GET .../conversation/{id}/messages` (`api-conversation-messages.md`), readings chosen:
- `StartTimeStamp` and `ContinuationToken` are DatetimeOffsets: messages strictly after them are
  listed (both given: after the later). Without an offset they are refused (30006 / 30009): the
  type is DatetimeOffset, and a `+` sent unencoded arrives as a space, also refused.
- `PageSize`: default 50, 1..100, anything else 400 / 30008.
- `continuationToken`: the last listed message's timestamp while more remain; `null` on the last page.
- Each message is `{type, attachments, text, messageId, timestamp, from, channelData}` with `from`
  empty (`{}`) whoever wrote it, as in the sample; ascending by timestamp; events are not messages.
- Query names are matched case-insensitively, as ASP.NET binds them.

Attachments (`api-conversation-endpoint.md`): `attachments[{contentType (<= 256), contentUrl, name
(<= 256)}]`, "Required if no text is provided", `contentUrl` is "URL or embedded base64 content".
Readings chosen: all three fields are required; "embedded base64" is a `data:<type>;base64,<data>` URL
(the Bot Framework's inline-attachment convention), decoded strictly; any other URL must be https, or
http to a loopback host, and is not fetched (its size is unknown). The org's file settings ("Enable
file attachments", learn.microsoft.com/dynamics365/customer-service/administer/enable-file-attachments,
2025-03-24): "By default, the application has a file size limit of 5 megabytes (MB) (5,120
kilobytes)", and blocked extensions whose default list is in Power Platform's "Manage privacy and
security settings" (learn.microsoft.com/power-platform/admin/settings-privacy-security). Breaking
either is a 400 with 30012 naming the attachment (the docs show no dedicated code).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

CUSTOMER_FIELDS = ("customerid", "firstname", "lastname", "preferredname", "email", "phonenumber")
SILENT_END_REASONS = frozenset({"timeout", "waiting"})
MALFORMED = "The request body was either not provided or is malformed."
UNSUPPORTED = "The requested operation is invalid or not supported."
_BLOCKED = """ade adp app asa ashx asmx asp bas bat cdx cer chm class cmd com config cpl crt csh dll exe fxp
hlp hta htr htw ida idc idq inf ins isp its jar js jse ksh lnk mad maf mag mam maq mar mas mat mau mav maw mda
mdb mde mdt mdw mdz msc msh msh1 msh1xml msh2 msh2xml mshxml msi msp mst ops pcd pif prf prg printer pst reg
rem scf scr sct shb shs shtm shtml soap stm tmp url vb vbe vbs vsmacros vss vst vsw ws wsc wsf wsh"""
DEFAULT_BLOCKED_EXTENSIONS = frozenset(_BLOCKED.split())
_LOOPBACK = ("127.0.0.1", "localhost", "::1")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_BAD_INSTANT = {
    30006: "The provided timestamp isn't valid.",
    30009: "The provided continuation token is invalid. Use the same token as before.",
}


@dataclass(eq=False)
class ApiError(Exception):
    """An answer the API gives instead of success: status, 300xx code, detail (RFC 7807 body)."""

    status: int
    code: int | None
    detail: str


@dataclass(frozen=True)
class ReceivedAttachment:
    """What arrived: `inline` for a data URL (then `size` and `sha256` of the decoded bytes), else `url`."""

    conversation_id: str
    message_id: str
    name: str
    content_type: str
    inline: bool
    size: int | None = None
    sha256: str | None = None
    url: str | None = None


def bad(detail: str, code: int = 30012) -> ApiError:
    return ApiError(400, code, detail)


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
            raise bad(MALFORMED)
        customer = body.get("customercontext") or {}
        context = body.get("conversationcontext") or {}
        if not isinstance(customer, dict) or not isinstance(context, dict):
            raise bad("customercontext and conversationcontext must be objects.")
        for name in CUSTOMER_FIELDS:
            value = customer.get(name)
            if value is not None and (not isinstance(value, str) or len(value) > 200):
                raise bad(f"customercontext.{name} must be a string of at most 200 chars.")
        if len(context) > 100:
            raise bad("The conversation context size is too large. Maximum allowed is 100 entries.", 30010)
        for name, entry in context.items():
            if not isinstance(entry, dict) or "value" not in entry:
                raise bad(f"conversationcontext.{name} must be {{isDisplayable, value}}.")
        start = body.get("startmessage")
        start_text = start.get("message") if isinstance(start, dict) else start
        if start is not None and not isinstance(start_text, str):
            raise bad("startmessage must be a string or {message, displayname}.")
        if isinstance(start_text, str) and len(start_text.encode()) > 27 * 1024:
            raise bad("startmessage is over 27 KB.")
        customer_id = customer.get("customerid") or None
        with self._lock:
            existing = self._active_by_customer.get(customer_id) if customer_id else None
            if existing is not None:
                return self._conversations[existing], False
            request_id = body.get("conversationrequestid")
            conversation = Conversation(
                str(uuid.uuid4()), customer_id, dict(customer), dict(context), request_id, start, self.clock()
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
        if size and (not size.isdigit() or not 1 <= int(size) <= 100):
            raise bad("The page size for messages must either be null or between 1 and 100.", 30008)
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
        raise bad(detail, code) from None
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


def check_activity(
    activity: Any, channel_id: str, allowed: bool, max_kb: int, blocked: frozenset[str]
) -> tuple[str, list[dict[str, Any]]]:
    """Validate a send body as the service would; return its type and its attachments (each as the
    fields of a ReceivedAttachment but the ids). `allowed`, `max_kb`, `blocked`: the org's file settings."""
    if not isinstance(activity, dict):
        raise bad(MALFORMED)
    kind, text, extra = activity.get("type"), activity.get("text"), activity.get("channelData")
    body_channel = activity.get("channelId")
    if body_channel is not None and str(body_channel).lower() != channel_id.lower():
        raise bad("The provided channel ID isn't valid.", 30002)
    if kind == "message":
        attachments = activity.get("attachments")
        if text is not None and not isinstance(text, str):
            raise bad("text must be a string.")
        if len(text or "") > 6000:
            raise bad("The message text length is too large. Max 6,000 characters allowed.", 30011)
        if not (text or "").strip() and not (isinstance(attachments, list) and attachments):
            raise bad("The message activity has no text or attachments.", 30016)
        if attachments is not None and not isinstance(attachments, list):
            raise bad("attachments must be an array.")
        if attachments and not allowed:
            raise bad("File attachments are not enabled for customers on this channel.")
        return kind, [
            _check_one(a, f"attachments[{i}]", max_kb, blocked) for i, a in enumerate(attachments or [])
        ]
    if kind == "event":
        if activity.get("name") != "MessageRead" and not (
            isinstance(extra, dict) and extra.get("customEvent")
        ):
            raise bad(UNSUPPORTED, 30003)
    elif kind not in ("typing", "endOfConversation"):
        raise bad(UNSUPPORTED, 30003)
    return str(kind), []


def _check_one(item: Any, where: str, max_kb: int, blocked: frozenset[str]) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise bad(f"{where} must be an object.")
    for key, limit in (("contentType", 256), ("contentUrl", None), ("name", 256)):
        value = item.get(key)
        if not isinstance(value, str) or not value.strip():
            raise bad(f"{where}.{key} is required and must be a string.")
        if limit is not None and len(value) > limit:
            raise bad(f"{where}.{key} is over {limit} characters.")
    name, url = item["name"], item["contentUrl"]
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if extension in blocked:
        raise bad(f"{where}.name: files of type .{extension} are blocked by the organization.")
    common = {"name": name, "content_type": item["contentType"]}
    if url.startswith("data:"):
        header, comma, payload = url.partition(",")
        if not comma or not header.endswith(";base64"):
            raise bad(f"{where}.contentUrl must be data:<type>;base64,<data>.")
        try:
            data = base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError):
            raise bad(f"{where}.contentUrl is not valid base64.") from None
        if len(data) > max_kb * 1024:
            raise bad(f"{where}: {len(data)} bytes is over the organization's limit of {max_kb} KB.")
        return {**common, "inline": True, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    parts = urlsplit(url)
    allowed = parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in _LOOPBACK)
    if not parts.hostname or not allowed:
        raise bad(f"{where}.contentUrl must be an https URL or base64 content.")
    return {**common, "inline": False, "url": url}
