"""OpenCX's documented API shapes, in one place: what each answer looks like and what each body must hold.

Every shape cites the page it follows. Where the docs are silent, the comment says "undocumented" and
which reading was chosen, so a correction later is a change here and nowhere else.

Pages (read 2026, docs.open.cx):
- AUTH:    https://docs.open.cx/api-reference/authentication
- GET:     https://docs.open.cx/api-reference/chat-sessions/get
- HISTORY: https://docs.open.cx/api-reference/chat-sessions/list_history
- SEND:    https://docs.open.cx/api-reference/chat-sessions/send
- UPDATE:  https://docs.open.cx/api-reference/chat-sessions/update
- HOOKS:   https://docs.open.cx/api-reference/webhooks/types
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

DOCS = {
    "auth": "https://docs.open.cx/api-reference/authentication",
    "get_session": "https://docs.open.cx/api-reference/chat-sessions/get",
    "list_history": "https://docs.open.cx/api-reference/chat-sessions/list_history",
    "send": "https://docs.open.cx/api-reference/chat-sessions/send",
    "update_session": "https://docs.open.cx/api-reference/chat-sessions/update",
    "webhooks": "https://docs.open.cx/api-reference/webhooks/types",
}

# AUTH: "Each scope follows the pattern resource:action, where action is read (GET / list) or write
# (create / update / delete)". Send creates a message and PATCH updates: both are write.
SCOPE_READ = "chat-sessions:read"
SCOPE_WRITE = "chat-sessions:write"
OPERATION_SCOPES = {
    "get_session": SCOPE_READ,
    "list_history": SCOPE_READ,
    "send": SCOPE_WRITE,
    "update_session": SCOPE_WRITE,
}

# GET: enums of the session object.
SESSION_STATUSES = ("open", "closed_resolved", "closed_unresolved")
CHANNEL_TYPES = (
    "web",
    "email",
    "phone_voice",
    "slack",
    "sms",
    "whatsapp",
    "instagram",
    "messenger",
    "api",
    "web_voice",
)
SENTIMENTS = ("angry", "happy", "neutral")
# HISTORY: sender types seen in history items (docs/contract.md section 4 and the real sample).
HISTORY_SENDER_TYPES = ("contact", "ai", "human_agent")

# SEND: "The message can be sent as either a contact or an agent", yet every example says
# "sender": "contact" and the agent's value is never shown (an older revision listed only "contact").
# Undocumented, so configurable: these are accepted unless a test narrows the set.
DEFAULT_SENDERS = frozenset({"contact", "agent", "human_agent"})


class ApiError(Exception):
    """An answer in OpenCX's documented error shape (AUTH: {"statusCode","message","error"})."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        return error_body(self.status, self.message)


def error_body(status: int, message: str) -> dict[str, Any]:
    """AUTH documents `{"statusCode": 401, "message": "Unauthorized", "error": "Unauthorized"}`; UPDATE's
    default response shows the same three fields. Used for every error the simulator answers."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    return {"statusCode": status, "message": message, "error": phrase}


def now_iso() -> str:
    """ISO 8601 in UTC with milliseconds and a Z, as the sample sessions carry their timestamps."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_session(
    session_id: str,
    *,
    channel: str,
    contact: dict[str, Any],
    status: str = "open",
    summary: str | None = None,
    sentiment: str | None = None,
    language: str | None = "en",
    ticket_number: int = 1,
    created_at: str | None = None,
    updated_at: str | None = None,
    custom_data: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A session object with every field GET documents (required ones always present), as in the
    real samples (session-sms.json, session-email.json)."""
    if channel not in CHANNEL_TYPES:
        raise ValueError(f"channel must be one of {CHANNEL_TYPES}, got {channel!r}")
    if status not in SESSION_STATUSES:
        raise ValueError(f"status must be one of {SESSION_STATUSES}, got {status!r}")
    created = created_at or now_iso()
    handed_off = summary is not None
    return {
        "id": session_id,
        "status": status,
        "ai_closure_type": "handed_off" if handed_off else None,
        "sentiment": sentiment,
        "channel": {"type": channel},
        "ticket_number": ticket_number,
        "assist_mode": False,
        "contact": {
            "id": contact.get("id"),
            "email": contact.get("email"),
            "phone_number": contact.get("phone_number"),
            "name": contact.get("name"),
            "custom_data": dict(contact.get("custom_data") or {}),
        },
        "language": language,
        "assignee_id": None,
        "custom_data": dict(custom_data or {}),
        "team": None,
        "handoff": {"summary": summary, "sentiment": sentiment} if handed_off else None,
        "ticketing_system": None,
        "created_at": created,
        "updated_at": updated_at or created,
    }


def history_item(
    text: str,
    *,
    sender_type: str = "contact",
    name: str | None = None,
    event_type: str = "message",
    created_at: str | None = None,
    item_id: str | None = None,
    attachments: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """HISTORY: `items[].{id, created_at, event.{type, sender.{type,name}, content.{type,text},
    attachments[], context}}`, the order of keys as in history-sms.json."""
    return {
        "id": item_id or f"msg_{secrets.token_hex(8)}",
        "created_at": created_at or now_iso(),
        "event": {
            "type": event_type,
            "sender": {"type": sender_type, "name": name},
            "content": {"type": "text", "text": text},
            "attachments": list(attachments or []),
            "context": None,
        },
    }


# ---------------------------------------------------------------------------------------- paging


HISTORY_ORDERS = ("oldest_first", "newest_first")


def encode_cursor(session_id: str, offset: int, order: str = "oldest_first") -> str:
    """HISTORY: `next` is "the cursor for the request to get the next set of items", opaque to clients.
    Undocumented format: base64url of the session, the order and the absolute index of the next item
    (history is append-only, so an index stays put while new items arrive)."""
    raw = json.dumps({"s": session_id, "o": offset, "d": order}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(session_id: str, cursor: str, order: str = "oldest_first") -> int:
    """The index a cursor stands for; a cursor that is not ours, for another session or made under
    another page order is a 400."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        offset = data["o"]
        if data["s"] != session_id or not isinstance(offset, int) or offset < 0:
            raise ValueError
        if data.get("d", "oldest_first") != order:
            raise ValueError
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError):
        raise ApiError(400, "Invalid cursor") from None
    return offset


# ---------------------------------------------------------------------------------------- bodies


def parse_json_object(body: bytes) -> dict[str, Any]:
    """A JSON object, or the 400 a Fastify/Nest API gives for a body it cannot read (undocumented text)."""
    try:
        data = json.loads(body.decode("utf-8")) if body else None
    except (UnicodeDecodeError, ValueError):
        raise ApiError(400, "Body is not valid JSON") from None
    if not isinstance(data, dict):
        raise ApiError(400, "body must be object")
    return data


def validate_send(data: dict[str, Any], accepted_senders: frozenset[str]) -> dict[str, Any]:
    """SEND's documented body: `sender`, `message` {type, text, attachments[]}, `contact`, `agent`
    {id, name, avatar_url}, `custom_data`, `should_take_over_session_from_ai`.

    Readings chosen where the page is silent: `sender` is required (the older revision marked it so);
    `message.text` is required unless attachments are given; `agent.id` must be a number (its documented
    type), so a bridge that sends a Dynamics GUID there is caught here, not in production; unknown
    top-level fields are refused (400), so a typo never passes silently."""
    known = {"sender", "message", "contact", "agent", "custom_data", "should_take_over_session_from_ai"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ApiError(400, f"body must NOT have additional properties: {', '.join(unknown)}")
    sender = data.get("sender")
    if not isinstance(sender, str) or not sender:
        raise ApiError(400, "body must have required property 'sender'")
    if sender not in accepted_senders:
        raise ApiError(
            400, f"body/sender must be equal to one of the allowed values: {sorted(accepted_senders)}"
        )
    message = data.get("message")
    if not isinstance(message, dict):
        raise ApiError(400, "body must have required property 'message'")
    _check_message(message)
    _check_agent(data.get("agent"))
    _check_contact(data.get("contact"))
    _check_flat(data.get("custom_data"), "body/custom_data", (str, int, float, bool))
    take_over = data.get("should_take_over_session_from_ai", False)
    if not isinstance(take_over, bool):
        raise ApiError(400, "body/should_take_over_session_from_ai must be boolean")
    return data


def _check_message(message: dict[str, Any]) -> None:
    text = message.get("text")
    attachments = message.get("attachments", [])
    if "type" in message and not isinstance(message["type"], str):
        raise ApiError(400, "body/message/type must be string")
    if text is not None and not isinstance(text, str):
        raise ApiError(400, "body/message/text must be string")
    if not isinstance(attachments, list):
        raise ApiError(400, "body/message/attachments must be array")
    for index, attachment in enumerate(attachments):
        _check_attachment(attachment, f"body/message/attachments/{index}")
    if not (text and text.strip()) and not attachments:
        raise ApiError(400, "body/message must have a non-empty 'text' or 'attachments'")


SEND_ATTACHMENT_FIELDS = ("name", "url", "base64", "mime_type")
# Carriers' limits OpenCX passes on (issue 19; its SMS page: "MMS (images, longer text) is supported on
# US long codes and toll-free"): MMS about 5 MB in all and 10 media a message, WhatsApp 16 MB a medium.
MMS_MAX_MEDIA = 10
MMS_MAX_BYTES = 5 * 1024 * 1024
WHATSAPP_MAX_BYTES = 16 * 1024 * 1024


def _check_attachment(attachment: Any, where: str) -> None:
    """SEND documents an attachment as `{name, url, base64, mime_type}`, all strings. Readings chosen:
    no other key (ajv's `additionalProperties: false`, as for the body); `name` and `mime_type` are
    required and `url` or `base64` must be given (an attachment with neither carries nothing)."""
    if not isinstance(attachment, dict):
        raise ApiError(400, f"{where} must be object")
    extra = sorted(set(attachment) - set(SEND_ATTACHMENT_FIELDS))
    if extra:
        raise ApiError(400, f"{where} must NOT have additional properties: {', '.join(extra)}")
    for key in SEND_ATTACHMENT_FIELDS:
        if key in attachment and not isinstance(attachment[key], str):
            raise ApiError(400, f"{where}/{key} must be string")
    if not attachment.get("url") and not attachment.get("base64"):
        raise ApiError(400, f"{where} must have required property 'url' or 'base64'")
    for key in ("name", "mime_type"):
        if not attachment.get(key):
            raise ApiError(400, f"{where} must have required property '{key}'")


def check_channel_media(attachments: list[dict[str, Any]], session: dict[str, Any]) -> list[dict[str, Any]]:
    """Decode each attachment's base64 (strictly: 400 naming it when it is not base64) and hold them to
    the session channel's carrier limits; returns `{name, mime_type, url, size, data}` per attachment
    (`size`/`data` only for base64: a URL is not fetched, so it counts towards MMS's 10 but not its bytes)."""
    checked = []
    for index, attachment in enumerate(attachments):
        where = f"body/message/attachments/{index}"
        item = {
            "name": attachment["name"],
            "mime_type": attachment["mime_type"],
            "url": attachment.get("url"),
        }
        if attachment.get("base64"):
            try:
                data = base64.b64decode(attachment["base64"], validate=True)
            except (binascii.Error, ValueError):
                raise ApiError(400, f"{where}/base64 must be base64-encoded content") from None
            item.update(size=len(data), data=data)
        checked.append(item)
    channel = (session.get("channel") or {}).get("type")
    if channel == "sms":
        total = sum(item.get("size") or 0 for item in checked)
        if len(checked) > MMS_MAX_MEDIA:
            raise ApiError(
                400, f"body/message/attachments must NOT have more than {MMS_MAX_MEDIA} items (MMS)"
            )
        if total > MMS_MAX_BYTES:
            raise ApiError(
                400, f"body/message/attachments: {total} bytes in all is over MMS's {MMS_MAX_BYTES}"
            )
    if channel == "whatsapp":
        for index, item in enumerate(checked):
            if (item.get("size") or 0) > WHATSAPP_MAX_BYTES:
                raise ApiError(
                    400,
                    f"body/message/attachments/{index}: {item['size']} bytes is over WhatsApp's {WHATSAPP_MAX_BYTES}",
                )
    return checked


def history_attachment(
    name: str | None, url: str | None, mime_type: str | None, size: int | None = None
) -> dict[str, Any]:
    """HISTORY (openchat.mintlify.app's rendering of list_history): `event.attachments[]` items are
    `{id, name, size, type, url}`, where `type` is the MIME type."""
    return {"id": f"att_{secrets.token_hex(6)}", "name": name, "size": size, "type": mime_type, "url": url}


def _check_agent(agent: Any) -> None:
    if agent is None:
        return
    if not isinstance(agent, dict):
        raise ApiError(400, "body/agent must be object")
    agent_id = agent.get("id")
    if agent_id is not None and (isinstance(agent_id, bool) or not isinstance(agent_id, int | float)):
        raise ApiError(400, "body/agent/id must be number")
    for key in ("name", "avatar_url"):
        if agent.get(key) is not None and not isinstance(agent[key], str):
            raise ApiError(400, f"body/agent/{key} must be string")


def _check_contact(contact: Any) -> None:
    if contact is None:
        return
    if not isinstance(contact, dict):
        raise ApiError(400, "body/contact must be object")
    # SEND: "contact.custom_data ... Values are strings."
    _check_flat(contact.get("custom_data"), "body/contact/custom_data", (str,))


def _check_flat(value: Any, where: str, allowed: tuple[type, ...]) -> None:
    """SEND: custom_data merges into the record; "Nested objects are rejected with a 400"."""
    if value is None:
        return
    if not isinstance(value, dict):
        raise ApiError(400, f"{where} must be object")
    for key, item in value.items():
        if not isinstance(item, allowed):
            raise ApiError(400, f"{where}/{key}: nested or unsupported values are not allowed")


def validate_update(data: dict[str, Any]) -> dict[str, Any]:
    """UPDATE's documented body: `status` (open | closed_resolved | closed_unresolved),
    `generate_summary_and_sentiment_on_resolve`, `reflect_status_change_for_integration` (booleans),
    `session_closed_payload` (an object on one revision). Unknown fields: 400 (chosen, as for send)."""
    known = {
        "status",
        "generate_summary_and_sentiment_on_resolve",
        "reflect_status_change_for_integration",
        "session_closed_payload",
    }
    unknown = sorted(set(data) - known)
    if unknown:
        raise ApiError(400, f"body must NOT have additional properties: {', '.join(unknown)}")
    if "status" in data and data["status"] not in SESSION_STATUSES:
        raise ApiError(
            400, f"body/status must be equal to one of the allowed values: {list(SESSION_STATUSES)}"
        )
    for flag in ("generate_summary_and_sentiment_on_resolve", "reflect_status_change_for_integration"):
        if flag in data and not isinstance(data[flag], bool):
            raise ApiError(400, f"body/{flag} must be boolean")
    if data.get("session_closed_payload") is not None and not isinstance(
        data["session_closed_payload"], dict
    ):
        raise ApiError(400, "body/session_closed_payload must be object")
    return data


def send_answer(message_id: str) -> dict[str, Any]:
    """SEND's current revision answers `{"success": true, "data": {"message": {"id": ...}}}` (201)."""
    return {"success": True, "data": {"message": {"id": message_id}}}
