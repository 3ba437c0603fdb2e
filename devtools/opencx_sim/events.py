"""Webhook envelopes OpenCX would send for a session, built from the simulator's own state.

HOOKS (https://docs.open.cx/api-reference/webhooks/types): every event is `{"event", "organization_id",
"data"}`; `data` is an object on some revisions and a one-element array on others (`as_array=True`).
- `conversation.handoff_to_human`: `data.{conversation_id, timestamp, customer_id, reason, summary,
  contact_reason, user_sentiment, was_handedoff_to_third_party, third_party_name, language,
  message_count}`, as in the real sample handoff-sms.json (docs/contract.md section 2).
- `conversation.contact_response`: "when a contact sends a message to your inbox"; its fields are NOT
  documented. Chosen: the handoff event's identity fields plus `message` (the text), as the sample
  contact-response.json carries it. A bridge must also cope without `message` (`include_text=False`).
- `conversation.closed`: `data.{conversation_id, timestamp, contact_id, contact, human_resolution_status,
  ai_resolution_status, closed_by, is_from_third_party, third_party_name, summary, contact_reason,
  user_sentiment, language, message_count}` (current revision).
"""

from __future__ import annotations

from typing import Any

DEFAULT_ORGANIZATION_ID = "org_8f1c2a"  # the real samples' organisation
HANDOFF_REASONS = (
    "ai_decided_to_handoff_the_conversation",
    "ai_is_forbidden_from_handling_this_topic",
    "human_agent_decided_to_take_over",
)


def envelope(event: str, organization_id: str | None, data: dict[str, Any], as_array: bool) -> dict[str, Any]:
    body: dict[str, Any] = {"event": event}
    if organization_id is not None:
        body["organization_id"] = organization_id
    body["data"] = [data] if as_array else data
    return body


def handoff_event(
    session: dict[str, Any],
    meta: dict[str, Any],
    message_count: int,
    *,
    timestamp: str | None = None,
    organization_id: str | None = DEFAULT_ORGANIZATION_ID,
    as_array: bool = False,
    **overrides: Any,
) -> dict[str, Any]:
    """`conversation.handoff_to_human` for a session. The default timestamp is the session's
    `updated_at` when it was handed off (the sample's handoff timestamp equals its session's), so the
    same session always gives the same event identity; pass another `timestamp` for a new handoff."""
    handoff = session.get("handoff") or {}
    contact = session.get("contact") or {}
    data: dict[str, Any] = {
        "conversation_id": session["id"],
        "timestamp": timestamp or session.get("updated_at"),
        "customer_id": contact.get("id"),
        "reason": meta.get("reason", HANDOFF_REASONS[0]),
        "summary": handoff.get("summary"),
        "contact_reason": meta.get("contact_reason"),
        "user_sentiment": handoff.get("sentiment") or session.get("sentiment"),
        "was_handedoff_to_third_party": True,
        "third_party_name": None,
        "language": session.get("language"),
        "message_count": message_count,
    }
    data.update(overrides)
    return envelope("conversation.handoff_to_human", organization_id, data, as_array)


def contact_response_event(
    session: dict[str, Any],
    text: str,
    timestamp: str,
    *,
    organization_id: str | None = DEFAULT_ORGANIZATION_ID,
    include_text: bool = True,
    as_array: bool = False,
) -> dict[str, Any]:
    """`conversation.contact_response` for a message the customer just sent (fields undocumented)."""
    data: dict[str, Any] = {
        "conversation_id": session["id"],
        "timestamp": timestamp,
        "customer_id": (session.get("contact") or {}).get("id"),
    }
    if include_text:
        data["message"] = text
    return envelope("conversation.contact_response", organization_id, data, as_array)


def closed_event(
    session: dict[str, Any],
    meta: dict[str, Any],
    message_count: int,
    timestamp: str,
    *,
    closed_by: dict[str, Any] | None = None,
    organization_id: str | None = DEFAULT_ORGANIZATION_ID,
    as_array: bool = False,
) -> dict[str, Any]:
    """`conversation.closed` for a session whose status just changed to closed_*."""
    contact = session.get("contact") or {}
    handoff = session.get("handoff") or {}
    resolved = session.get("status") == "closed_resolved"
    data: dict[str, Any] = {
        "conversation_id": session["id"],
        "timestamp": timestamp,
        "contact_id": contact.get("id"),
        "contact": {key: contact.get(key) for key in ("id", "name", "email", "phone_number", "custom_data")},
        "human_resolution_status": "resolved" if resolved else "not_resolved",
        "ai_resolution_status": None,
        "ai_billing_tier": None,
        "closed_by": closed_by or {"type": "contact", "id": contact.get("id")},
        "is_from_third_party": False,
        "third_party_name": None,
        "summary": handoff.get("summary"),
        "contact_reason": meta.get("contact_reason"),
        "user_sentiment": handoff.get("sentiment") or session.get("sentiment"),
        "language": session.get("language"),
        "message_count": message_count,
    }
    return envelope("conversation.closed", organization_id, data, as_array)
