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
    Attachments are `{name, url | base64, mime_type}` entries (shared/messaging/files.py), the
    fields OpenCX's send page documents.
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
