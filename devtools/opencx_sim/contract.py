"""OpenCX's documented API shapes, in one place: what each answer looks like and what each body must hold.

Every shape cites the page it follows. Where the docs are silent, the comment says "undocumented" and
which reading was chosen, so a correction later is a change here and nowhere else.

Pages (read 2026), under https://docs.open.cx/api-reference/: AUTH `authentication`, GET
`chat-sessions/get`, HISTORY `chat-sessions/list_history`, SEND `chat-sessions/send`, UPDATE
`chat-sessions/update`, HOOKS `webhooks/types`.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

from devtools.simkit.server import Reply, json_reply

# AUTH: "Each scope follows the pattern resource:action, where action is read (GET / list) or write
# (create / update / delete)". Send creates a message and PATCH updates: both are write.
SCOPE_READ = "chat-sessions:read"
SCOPE_WRITE = "chat-sessions:write"
# (path segments after the id, method) -> (operation, scope it needs)
OPERATIONS = {
    ((), "GET"): ("get_session", SCOPE_READ),
    (("history",), "GET"): ("list_history", SCOPE_READ),
    (("send",), "POST"): ("send", SCOPE_WRITE),
    ((), "PATCH"): ("update_session", SCOPE_WRITE),
}
OPERATION_SCOPES = dict(OPERATIONS.values())

# GET: enums of the session object.
SESSION_STATUSES = ("open", "closed_resolved", "closed_unresolved")
HISTORY_ORDERS = ("oldest_first", "newest_first")  # HISTORY: the order of pages is undocumented
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

# SEND: "The message can be sent as either a contact or an agent", yet every example says
# "sender": "contact" and the agent's value is never shown (an older revision listed only "contact").
# Undocumented, so configurable: these are accepted unless a test narrows the set.
DEFAULT_SENDERS = frozenset({"contact", "agent", "human_agent"})
SEND_ATTACHMENT_FIELDS = ("name", "url", "base64", "mime_type")
# Carriers' limits OpenCX passes on (issue 19; its SMS page: "MMS (images, longer text) is supported on
# US long codes and toll-free"): MMS about 5 MB in all and 10 media a message, WhatsApp 16 MB a medium.
MMS_MAX_MEDIA = 10
MMS_MAX_BYTES = 5 * 1024 * 1024
WHATSAPP_MAX_BYTES = 16 * 1024 * 1024
_ATTACHMENTS = "body/message/attachments"
_KIND_NAMES = {str: "string", bool: "boolean", dict: "object", list: "array"}


class ApiError(Exception):
    """An answer in OpenCX's documented error shape (see error_reply)."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.reply = error_reply(status, message, headers)


def error_reply(status: int, message: str, headers: dict[str, str] | None = None) -> Reply:
    """AUTH documents `{"statusCode": 401, "message": "Unauthorized", "error": "Unauthorized"}`; UPDATE's
    default response shows the same three fields. Used for every error the simulator answers."""
    phrase = next((known.phrase for known in HTTPStatus if known == status), "Error")
    return json_reply(status, {"statusCode": status, "message": message, "error": phrase}, headers)


def now_iso() -> str:
    """ISO 8601 in UTC with milliseconds and a Z, as the sample sessions carry their timestamps."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_session(
    session_id: str,
    *,
    channel: str = "sms",
    name: str | None = None,
    email: str | None = None,
    phone_number: str | None = None,
    contact_id: str | None = None,
    status: str = "open",
    summary: str | None = "Customer asked for a human agent.",
    sentiment: str | None = "neutral",
    language: str | None = "en",
    ticket_number: int = 1,
    created_at: str | None = None,
    updated_at: str | None = None,
) -> dict[str, Any]:
    """A session object with every field GET documents, as in the real samples (session-sms.json,
    session-email.json). `summary=None` is a session never handed off (`handoff` null)."""
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
            "id": contact_id or f"c_{secrets.token_hex(3)}",
            "email": email,
            "phone_number": phone_number,
            "name": name,
            "custom_data": {},
        },
        "language": language,
        "assignee_id": None,
        "custom_data": {},
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


def history_attachment(
    name: str | None, url: str | None, mime_type: str | None, size: int | None = None
) -> dict[str, Any]:
    """HISTORY (openchat.mintlify.app's rendering of list_history): `event.attachments[]` items are
    `{id, name, size, type, url}`, where `type` is the MIME type."""
    return {"id": f"att_{secrets.token_hex(6)}", "name": name, "size": size, "type": mime_type, "url": url}


def seeded_attachment(given: Any) -> dict[str, Any]:
    """A history attachment to seed: `{name, size, type, url}` (and `id`); nothing else (ValueError)."""
    if not isinstance(given, dict):
        raise ValueError("attachments must be objects")
    extra = sorted(set(given) - {"id", "name", "size", "type", "url"})
    if extra:
        raise ValueError(f"history attachments take id, name, size, type, url; not {', '.join(extra)}")
    made = history_attachment(given.get("name"), given.get("url"), given.get("type"), given.get("size"))
    return {**made, **({"id": given["id"]} if given.get("id") else {})}


def encode_cursor(session_id: str, offset: int, order: str) -> str:
    """HISTORY: `next` is "the cursor for the request to get the next set of items", opaque to clients.
    Undocumented format: base64url of the session, the order and the absolute index of the next item
    (history is append-only, so an index stays put while new items arrive)."""
    raw = json.dumps({"s": session_id, "o": offset, "d": order}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(session_id: str, cursor: str, order: str) -> int:
    """The index a cursor stands for; one not ours, for another session or another order is a 400."""
    try:
        data = json.loads(base64.urlsafe_b64decode((cursor + "=" * (-len(cursor) % 4)).encode()))
        offset = data["o"]
        if (data["s"], data.get("d", "oldest_first"), type(offset)) != (session_id, order, int) or offset < 0:
            raise ValueError
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError):
        raise ApiError(400, "Invalid cursor") from None
    return offset


def parse_json_object(body: bytes, content_type: str) -> dict[str, Any]:
    """A JSON object, or what a Fastify/Nest API answers for a body it cannot read (undocumented): 415
    for another content type, 400 for one that is not a JSON object."""
    if body and content_type.split(";")[0].strip().lower() != "application/json":
        raise ApiError(415, f"Unsupported Media Type: {content_type or '(none)'}")
    try:
        data = json.loads(body.decode("utf-8")) if body else None
    except (UnicodeDecodeError, ValueError):
        raise ApiError(400, "Body is not valid JSON") from None
    if not isinstance(data, dict):
        raise ApiError(400, "body must be object")
    return data


def _bad(message: str) -> ApiError:
    return ApiError(400, message)


def _only(data: dict[str, Any], known: tuple[str, ...], where: str = "body") -> None:
    """ajv's `additionalProperties: false`, in its words."""
    extra = sorted(set(data) - set(known))
    if extra:
        raise _bad(f"{where} must NOT have additional properties: {', '.join(extra)}")


def _typed(data: dict[str, Any], key: str, kind: type, where: str, nullable: bool = False) -> None:
    """`data[key]`, when present (and not null if `nullable`), is of `kind`, or a 400 in ajv's words."""
    value = data.get(key)
    if key in data and not isinstance(value, kind) and not (nullable and value is None):
        raise _bad(f"{where}/{key} must be {_KIND_NAMES[kind]}")


def _flat(data: dict[str, Any], key: str, where: str, allowed: tuple[type, ...]) -> None:
    """SEND: custom_data merges into the record; "Nested objects are rejected with a 400"."""
    _typed(data, key, dict, where, nullable=True)
    for name, item in (data.get(key) or {}).items():
        if not isinstance(item, allowed):
            raise _bad(f"{where}/{key}/{name}: nested or unsupported values are not allowed")


def validate_send(data: dict[str, Any], accepted_senders: frozenset[str]) -> None:
    """SEND's documented body: `sender`, `message` {type, text, attachments[]}, `contact`, `agent`
    {id, name, avatar_url}, `custom_data`, `should_take_over_session_from_ai`.

    Readings chosen where the page is silent: `sender` is required (the older revision marked it so);
    `message.text` is required unless attachments are given; `agent.id` must be a number (its documented
    type), so a bridge that sends a Dynamics GUID there is caught here, not in production; unknown
    top-level fields are refused (400), so a typo never passes silently."""
    _only(data, ("sender", "message", "contact", "agent", "custom_data", "should_take_over_session_from_ai"))
    sender = data.get("sender")
    if not isinstance(sender, str) or not sender:
        raise _bad("body must have required property 'sender'")
    if sender not in accepted_senders:
        raise _bad(f"body/sender must be equal to one of the allowed values: {sorted(accepted_senders)}")
    message = data.get("message")
    if not isinstance(message, dict):
        raise _bad("body must have required property 'message'")
    _typed(message, "type", str, "body/message")
    _typed(message, "text", str, "body/message", nullable=True)
    _typed(message, "attachments", list, "body/message")
    for index, attachment in enumerate(message.get("attachments", [])):
        _check_attachment(attachment, f"{_ATTACHMENTS}/{index}")
    if not (message.get("text") or "").strip() and not message.get("attachments"):
        raise _bad("body/message must have a non-empty 'text' or 'attachments'")
    _typed(data, "agent", dict, "body", nullable=True)
    agent = data.get("agent") or {}
    agent_id = agent.get("id")
    if agent_id is not None and (isinstance(agent_id, bool) or not isinstance(agent_id, int | float)):
        raise _bad("body/agent/id must be number")
    for key in ("name", "avatar_url"):
        _typed(agent, key, str, "body/agent", nullable=True)
    _typed(data, "contact", dict, "body", nullable=True)
    # SEND: "contact.custom_data ... Values are strings."
    _flat(data.get("contact") or {}, "custom_data", "body/contact", (str,))
    _flat(data, "custom_data", "body", (str, int, float, bool))
    _typed(data, "should_take_over_session_from_ai", bool, "body")


def _check_attachment(attachment: Any, where: str) -> None:
    """SEND documents an attachment as `{name, url, base64, mime_type}`, all strings. Readings chosen:
    no other key (ajv's `additionalProperties: false`, as for the body); `name` and `mime_type` are
    required and `url` or `base64` must be given (an attachment with neither carries nothing)."""
    if not isinstance(attachment, dict):
        raise _bad(f"{where} must be object")
    _only(attachment, SEND_ATTACHMENT_FIELDS, where)
    for key in SEND_ATTACHMENT_FIELDS:
        _typed(attachment, key, str, where)
    if not attachment.get("url") and not attachment.get("base64"):
        raise _bad(f"{where} must have required property 'url' or 'base64'")
    for key in ("name", "mime_type"):
        if not attachment.get(key):
            raise _bad(f"{where} must have required property '{key}'")


def check_channel_media(attachments: list[dict[str, Any]], session: dict[str, Any]) -> list[dict[str, Any]]:
    """Decode each attachment's base64 (strictly: 400 naming it when it is not base64) and hold them to
    the session channel's carrier limits; returns `{name, mime_type, url, size, data}` per attachment
    (`size`/`data` only for base64: a URL is not fetched, so it counts towards MMS's 10 but not its bytes)."""
    checked = []
    for index, attachment in enumerate(attachments):
        item = {key: attachment.get(key) for key in ("name", "mime_type", "url")}
        if attachment.get("base64"):
            try:
                data = base64.b64decode(attachment["base64"], validate=True)
            except (binascii.Error, ValueError):
                raise _bad(f"{_ATTACHMENTS}/{index}/base64 must be base64-encoded content") from None
            item.update(size=len(data), data=data)
        checked.append(item)
    channel = (session.get("channel") or {}).get("type")
    total = sum(item.get("size") or 0 for item in checked)
    if channel == "sms" and len(checked) > MMS_MAX_MEDIA:
        raise _bad(f"{_ATTACHMENTS} must NOT have more than {MMS_MAX_MEDIA} items (MMS)")
    if channel == "sms" and total > MMS_MAX_BYTES:
        raise _bad(f"{_ATTACHMENTS}: {total} bytes in all is over MMS's {MMS_MAX_BYTES}")
    for index, item in enumerate(checked):
        if channel == "whatsapp" and (item.get("size") or 0) > WHATSAPP_MAX_BYTES:
            raise _bad(
                f"{_ATTACHMENTS}/{index}: {item['size']} bytes is over WhatsApp's {WHATSAPP_MAX_BYTES}"
            )
    return checked


UPDATE_FLAGS = ("generate_summary_and_sentiment_on_resolve", "reflect_status_change_for_integration")


def validate_update(data: dict[str, Any]) -> None:
    """UPDATE's documented body: `status` (open | closed_resolved | closed_unresolved), two booleans,
    `session_closed_payload` (an object on one revision). Unknown fields: 400 (chosen, as for send)."""
    _only(data, ("status", *UPDATE_FLAGS, "session_closed_payload"))
    if "status" in data and data["status"] not in SESSION_STATUSES:
        raise _bad(f"body/status must be equal to one of the allowed values: {list(SESSION_STATUSES)}")
    for flag in UPDATE_FLAGS:
        _typed(data, flag, bool, "body")
    _typed(data, "session_closed_payload", dict, "body", nullable=True)


def send_answer(message_id: str) -> dict[str, Any]:
    """SEND's current revision answers `{"success": true, "data": {"message": {"id": ...}}}` (201)."""
    return {"success": True, "data": {"message": {"id": message_id}}}
