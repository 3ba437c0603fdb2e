"""The files a customer sent, as OpenCX's history shows them: the one place that reading lives.

Chosen reading (docs/messaging.md, "Pictures and files"): the newer rendering of `list_history`
(openchat.mintlify.app, api-reference/chat-sessions/list_history) shows
`event.attachments[{id, name, size, type, url}]` beside `content`; the main page and the 2024
OpenAPI spec show text only, and `conversation.contact_response` documents no attachments. Read
leniently beyond that page: the list may also sit in `event.content.attachments`, a file's type may
be named `mime_type`/`content_type`/`mimeType`, its address `file_url`/`src`, its name
`filename`/`file_name`. An entry without a usable URL stays, without one, so the other side is told a
file did not come; past MAX_MEDIA_PER_LINE one stand-in says how many more there were.
"""

from __future__ import annotations

from typing import Any

from shared.media.refs import DROPPED_PREFIX, NAME_MAX, MediaRef

MAX_MEDIA_PER_LINE = 20
_URL_MAX = 4_096


def _first(item: dict[str, Any], *names: str) -> Any:
    for name in names:
        value = item.get(name)
        if value not in (None, ""):
            return value
    return None


def history_media(event: dict[str, Any]) -> list[MediaRef]:
    """The files of one history event, in the order OpenCX lists them."""
    content = event.get("content")
    listed = event.get("attachments")
    if not isinstance(listed, list) and isinstance(content, dict):
        listed = content.get("attachments")
    refs: list[MediaRef] = []
    items = [item for item in listed if isinstance(item, dict)] if isinstance(listed, list) else []
    for item in items[:MAX_MEDIA_PER_LINE]:
        url = _first(item, "url", "file_url", "src")
        kind = _first(item, "type", "mime_type", "content_type", "mimeType", "contentType")
        size = item.get("size")
        name = _first(item, "name", "filename", "file_name")
        usable = isinstance(url, str) and bool(url.strip()) and len(url) <= _URL_MAX
        fallback = url.rsplit("/", 1)[-1].split("?")[0] if usable and isinstance(url, str) else ""
        refs.append(
            MediaRef(
                name=(str(name).strip() if name else fallback or "file")[:NAME_MAX],
                content_type=str(kind).strip().lower()[:256]
                if isinstance(kind, str) and "/" in kind
                else None,
                url=url.strip() if usable and isinstance(url, str) else None,  # none: told as a notice
                size=size if isinstance(size, int) and not isinstance(size, bool) and size >= 0 else None,
                ref_id=str(item["id"])[:128] if isinstance(item.get("id"), str | int) else None,
            )
        )
    if len(items) > MAX_MEDIA_PER_LINE:  # one stand-in for the rest: the other side reads how many
        extra = len(items) - MAX_MEDIA_PER_LINE
        refs.append(MediaRef(name=f"{extra} more files", ref_id=f"{DROPPED_PREFIX}{extra}"))
    return refs
