"""`GET /api/v1.0/consumer/conversation/{conversationId}/messages`, as `api-conversation-messages.md` shows it.

Readings chosen (the page is short):
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

from datetime import UTC, datetime, timedelta
from typing import Any

from devtools.messaging_sim.store import ApiError, Message

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 100


def _query(query: dict[str, str], name: str) -> str | None:
    for key, value in query.items():
        if key.lower() == name.lower():
            return value
    return None


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _instant(text: str | None, code: int, name: str) -> int | None:
    """Epoch milliseconds (floored, exact) of a DatetimeOffset parameter, or ApiError naming it."""
    if text is None or text == "":
        return None
    try:
        parsed: datetime | None = datetime.fromisoformat(text)
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        detail = {
            30006: "The provided timestamp isn't valid.",
            30009: "The provided continuation token is invalid. Use the same token as before.",
        }[code]
        raise ApiError(400, code, f"{detail} ({name} must be an ISO 8601 DatetimeOffset, URL-encoded.)")
    return (parsed - _EPOCH) // timedelta(milliseconds=1)


def _page_size(text: str | None) -> int:
    if text is None or text == "":
        return DEFAULT_PAGE_SIZE
    if not text.isdigit() or not 1 <= int(text) <= MAX_PAGE_SIZE:
        raise ApiError(400, 30008, "The page size for messages must either be null or between 1 and 100.")
    return int(text)


def wire_message(message: Message, with_author: bool) -> dict[str, Any]:
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


def messages_page(
    messages: list[Message], query: dict[str, str], with_author: bool = False
) -> dict[str, Any]:
    """One page of a conversation's messages for `query`."""
    after = _instant(_query(query, "StartTimeStamp"), 30006, "StartTimeStamp")
    token = _instant(_query(query, "ContinuationToken"), 30009, "ContinuationToken")
    size = _page_size(_query(query, "PageSize"))
    floor_ms = max((t for t in (after, token) if t is not None), default=None)
    listed = sorted((m for m in messages if m.listed), key=lambda m: int(m.message_id))
    if floor_ms is not None:
        listed = [m for m in listed if int(m.message_id) > floor_ms]
    page = listed[:size]
    more = len(listed) > size
    return {
        "messages": [wire_message(m, with_author) for m in page],
        "continuationToken": page[-1].timestamp if more and page else None,
    }
