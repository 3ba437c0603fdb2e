"""The body of OpenCX's `POST /chat/sessions/{session_id}/send`, built in one place.

From docs/messaging.md, after OpenCX's send page (`api-reference/chat-sessions/send`): fields
`sender`, `message` (`type`, `text`, `attachments[{name, url, base64, mime_type}]`), `contact`,
`agent` (`id`, `name`, `avatar_url`), `custom_data`, `should_take_over_session_from_ai`. The page says a message may be sent as the
contact or as an agent but every example sends `"sender": "contact"`: the agent's value is not
shown. It is a setting here (default `"agent"`), to be confirmed by the first real-tenant test.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

DEFAULT_AGENT_SENDER = "agent"
ATTACHMENT_NAME_MAX = 256


def opencx_attachment(item: Mapping[str, Any]) -> dict[str, str] | None:
    """A Bot Framework attachment (`contentType`, `contentUrl`, `name`, any case) as OpenCX's
    `{name, url | base64, mime_type}`. `contentUrl` is "URL or embedded base64 content"
    (api-conversation-endpoint.md): a `data:` URL becomes `base64`. None when there is no content."""
    folded = {str(key).lower(): value for key, value in item.items()}
    url = folded.get("contenturl") or folded.get("content_url") or folded.get("url")
    if not isinstance(url, str) or not url.strip():
        return None
    mime = folded.get("contenttype") or folded.get("content_type") or folded.get("mime_type")
    name = folded.get("name")
    found: dict[str, str] = {}
    if isinstance(name, str) and name.strip():
        found["name"] = name.strip()[:ATTACHMENT_NAME_MAX]
    if url.startswith("data:") and "," in url:
        header, _, data = url.partition(",")
        found["base64"] = data
        mime = mime or header[5:].split(";")[0] or None
    else:
        found["url"] = url.strip()
    if isinstance(mime, str) and mime.strip():
        found["mime_type"] = mime.strip()
    return found


def build_agent_message(
    text: str | None,
    rep_name: str | None,
    sender: str = DEFAULT_AGENT_SENDER,
    *,
    rep_id: str | None = None,
    attachments: Sequence[Mapping[str, Any]] = (),
    take_over_from_ai: bool = True,
) -> dict[str, Any]:
    """A rep's message as the agent, with the rep's display name.

    `should_take_over_session_from_ai` is true so the AI stays quiet while a human is talking.
    Attachments are `{name, url | base64, mime_type}` entries (`opencx_attachment`), the fields
    OpenCX's send page documents.
    """
    if not (text or "").strip() and not attachments:
        raise ValueError("a message needs text or attachments")
    message: dict[str, Any] = {"type": "text", "text": text or ""}
    if attachments:
        message["attachments"] = [dict(item) for item in attachments]
    body: dict[str, Any] = {"sender": sender or DEFAULT_AGENT_SENDER, "message": message}
    agent = {key: value for key, value in (("id", rep_id), ("name", (rep_name or "").strip())) if value}
    if agent:
        body["agent"] = agent
    body["should_take_over_session_from_ai"] = bool(take_over_from_ai)
    return body
