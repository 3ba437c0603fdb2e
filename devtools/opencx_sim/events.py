"""Webhook envelopes OpenCX would send for a session, and the demo sessions whose handoffs they announce.

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

Demo sessions have stable ids, one per linkage story the Dataverse simulator's demo contacts tell (the
table in docs/opencx-simulator.md, "Demo sessions"). The sms session and history and the email session
are the real samples in samples/opencx/; everything else is in demo_sessions.json.
"""

from __future__ import annotations

import copy
import functools
import json
from pathlib import Path
from typing import Any

DEFAULT_ORGANIZATION_ID = "org_8f1c2a"  # the real samples' organisation
# HOOKS' reasons: this one, ai_is_forbidden_from_handling_this_topic, human_agent_decided_to_take_over
DEFAULT_REASON = "ai_decided_to_handoff_the_conversation"
SMS_SESSION_ID = "6f1d0c2e-2b8a-4a53-9a51-0c6f3f0e7b21"  # = the real sample's
WHATSAPP_SESSION_ID = "3c1e7f2a-5b9d-4e61-a8c4-7d2f0b9e6a13"
WEB_SESSION_ID = "9a4b2c7d-1e3f-4a5b-8c6d-2e7f9a0b1c3d"
EMAIL_SESSION_ID = "0b7e5d1a-93c4-4f0e-8d1b-5a2c7e9f4410"  # = the real sample's
PHONE_SESSION_ID = "5d8e1f4a-7b2c-4d9e-b3a6-1c0f8e2d7a95"
DEMO_SESSIONS = {
    "sms": SMS_SESSION_ID,
    "whatsapp": WHATSAPP_SESSION_ID,
    "web": WEB_SESSION_ID,
    "email": EMAIL_SESSION_ID,
    "phone_voice": PHONE_SESSION_ID,
}
_SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "opencx"


def envelope(event: str, organization_id: str | None, data: dict[str, Any], as_array: bool) -> dict[str, Any]:
    org = {} if organization_id is None else {"organization_id": organization_id}
    return {"event": event, **org, "data": [data] if as_array else data}


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
    data: dict[str, Any] = {
        "conversation_id": session["id"],
        "timestamp": timestamp or session.get("updated_at"),
        "customer_id": (session.get("contact") or {}).get("id"),
        "reason": meta.get("reason", DEFAULT_REASON),
        "summary": handoff.get("summary"),
        "contact_reason": meta.get("contact_reason"),
        "user_sentiment": handoff.get("sentiment") or session.get("sentiment"),
        "was_handedoff_to_third_party": True,
        "third_party_name": None,
        "language": session.get("language"),
        "message_count": message_count,
        **overrides,
    }
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
        **({"message": text} if include_text else {}),
    }
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
    data: dict[str, Any] = {
        "conversation_id": session["id"],
        "timestamp": timestamp,
        "contact_id": contact.get("id"),
        "contact": {key: contact.get(key) for key in ("id", "name", "email", "phone_number", "custom_data")},
        "human_resolution_status": "resolved"
        if session.get("status") == "closed_resolved"
        else "not_resolved",
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


@functools.cache
def _read(path: Path) -> Any:
    return json.loads(path.read_text("utf-8"))


def demo_data() -> list[tuple[dict[str, Any], list[dict[str, Any]], dict[str, str]]]:
    """(session, history, meta) for each demo session; copied fresh each call, so callers may mutate."""
    data = copy.deepcopy(_read(Path(__file__).with_name("demo_sessions.json")))
    data["sms"]["session"] = copy.deepcopy(_read(_SAMPLES / "session-sms.json"))
    data["sms"]["history"] = copy.deepcopy(_read(_SAMPLES / "history-sms.json"))["items"]
    data["email"]["session"] = copy.deepcopy(_read(_SAMPLES / "session-email.json"))
    return [(data[name]["session"], data[name]["history"], data[name]["meta"]) for name in DEMO_SESSIONS]


def seed_demo(sim: Any) -> dict[str, str]:
    """Add the five demo sessions to an OpenCXSimulator (idempotent); their ids by channel."""
    for session, history, meta in demo_data():
        sim.put_session(
            session, history, reason=meta.get("reason"), contact_reason=meta.get("contact_reason")
        )
    return dict(DEMO_SESSIONS)


def demo_handoff_event(session: str, **options: Any) -> dict[str, Any]:
    """The `conversation.handoff_to_human` envelope for a demo session (by channel name or id), built
    from the static demo data, so a process without the simulator object (bench, a CLI) can send it."""
    session_id = DEMO_SESSIONS.get(session, session)
    for data, history, meta in demo_data():
        if data["id"] == session_id:
            return handoff_event(data, meta, len(history), **options)
    raise KeyError(session)
