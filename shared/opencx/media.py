"""The files a customer sent, as OpenCX's history shows them: the one place that reading lives.

Chosen reading (docs/messaging.md, "Pictures and files"): the newer rendering of `list_history`
(openchat.mintlify.app, api-reference/chat-sessions/list_history) shows
`event.attachments[{id, name, size, type, url}]` beside `content`; the main page and the 2024
OpenAPI spec show text only, and `conversation.contact_response` documents no attachments. Read
leniently beyond that page: the list may also sit in `event.content.attachments`, a file's type may
be named `mime_type`/`content_type`/`mimeType`, its address `file_url`/`src`, its name
`filename`/`file_name`. An entry without a URL is not a file the bridge can pass on and is skipped.
"""

from __future__ import annotations

from typing import Any

from shared.media.refs import NAME_MAX, MediaRef

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
    for item in listed if isinstance(listed, list) else []:
        if not isinstance(item, dict) or len(refs) >= MAX_MEDIA_PER_LINE:
            continue
        url = _first(item, "url", "file_url", "src")
        if not isinstance(url, str) or not url.strip() or len(url) > _URL_MAX:
            continue
        kind = _first(item, "type", "mime_type", "content_type", "mimeType", "contentType")
        size = item.get("size")
        name = _first(item, "name", "filename", "file_name")
        refs.append(
            MediaRef(
                name=(str(name).strip() if name else url.rsplit("/", 1)[-1].split("?")[0] or "file")[
                    :NAME_MAX
                ],
                content_type=str(kind).strip().lower()[:256]
                if isinstance(kind, str) and "/" in kind
                else None,
                url=url.strip(),
                size=size if isinstance(size, int) and not isinstance(size, bool) and size >= 0 else None,
                ref_id=str(item["id"])[:128] if isinstance(item.get("id"), str | int) else None,
            )
        )
    return refs
