"""The deep-insert body of a live work item (DESIGN section 4.2) and its deterministic id.

The `activityid` is derived from the handoffId, so every retry, replay or duplicate delivery
of one handoff addresses the same row and Dataverse answers 412 instead of creating a second.
"""

from __future__ import annotations

import uuid
from typing import Any

from shared.dynamics.contact import ContactMatch
from shared.opencx.webhook import Channel, Handoff

# Fixed namespace for uuid5(handoffId). Changing it would break idempotency across deploys.
WORK_ITEM_NAMESPACE = uuid.UUID("3c8f9a52-6b1e-4d0f-9a7e-2f4d1c0b7e11")
SUBJECT_MAX = 200
DESCRIPTION_MAX = 2_000
CONTEXT_NAME_MAX = 100
CONTEXT_VALUE_MAX = 4_000
CHANNEL_OPTION = {Channel.SMS: "192340000", Channel.WHATSAPP: "192300000", Channel.WEB: "192360000"}
CONTEXT_ITEMS_NAV = "msdyn_msdyn_ocliveworkitem_msdyn_ocliveworkitemcontextitem_ocliveworkitemid"
WORKSTREAM_BIND = "msdyn_liveworkstreamid_msdyn_ocliveworkitem@odata.bind"
CONTACT_BIND = "msdyn_customer_msdyn_ocliveworkitem_contact@odata.bind"


def work_item_id(handoff_id: str) -> str:
    """The live work item's activityid, which is also the handoff's dynamics365_chat_id."""
    return str(uuid.uuid5(WORK_ITEM_NAMESPACE, handoff_id))


def utf16_length(text: str) -> int:
    """Dataverse (.NET) measures string lengths in UTF-16 code units: an emoji counts twice."""
    return len(text.encode("utf-16-le")) // 2


def _cut(text: str, limit: int) -> str:
    """Cut to at most `limit` UTF-16 units, marking the cut, never splitting a surrogate pair."""
    if utf16_length(text) <= limit:
        return text
    units = text.encode("utf-16-le")[: (limit - 1) * 2]
    return units.decode("utf-16-le", errors="ignore") + "…"


def subject(handoff: Handoff) -> str:
    return _cut(" ".join(handoff.summary.split()), SUBJECT_MAX)


def description(handoff: Handoff) -> str:
    """Summary first, then who the customer is, then as much of the transcript's tail as fits."""
    customer = handoff.customer
    head = [handoff.summary, ""]
    head += [f"{label}: {value}" for label, value in (
        ("Customer", customer.name), ("Phone", customer.phone), ("Email", customer.email),
        ("Channel", handoff.channel.value), ("Session", handoff.sessionId),
    ) if value]  # fmt: skip
    text = "\n".join(head)
    if utf16_length(text) >= DESCRIPTION_MAX or not handoff.transcript:
        return _cut(text, DESCRIPTION_MAX)
    tail: list[str] = []
    room = DESCRIPTION_MAX - utf16_length(text) - utf16_length("\n\nTranscript (latest):")
    for line in reversed(handoff.transcript):
        rendered = f"\n{line.role}: {line.text}"
        if utf16_length(rendered) > room:
            break
        tail.insert(0, rendered)
        room -= utf16_length(rendered)
    if not tail:
        return _cut(text, DESCRIPTION_MAX)
    return text + "\n\nTranscript (latest):" + "".join(tail)


def context_items(handoff: Handoff) -> list[dict[str, Any]]:
    """The context variables a rep sees: sessionId and channel, then every customer detail known."""
    customer = handoff.customer
    pairs = [
        ("sessionId", handoff.sessionId),
        ("channel", handoff.channel.value),
        ("customerPhone", customer.phone),
        ("customerEmail", customer.email),
        ("customerName", customer.name),
        ("language", handoff.language),
    ]
    return [
        {
            "msdyn_name": _cut(name, CONTEXT_NAME_MAX),
            "msdyn_value": _cut(value, CONTEXT_VALUE_MAX),
            "msdyn_isdisplayable": True,
        }
        for name, value in pairs
        if value
    ]


def work_item_payload(
    handoff_id: str, handoff: Handoff, workstream_id: str, contact: ContactMatch
) -> dict[str, Any]:
    activity_id = work_item_id(handoff_id)
    payload: dict[str, Any] = {
        "activityid": activity_id,
        "msdyn_ocliveworkitemid": activity_id,
        "subject": subject(handoff),
        "description": description(handoff),
        "msdyn_channel": CHANNEL_OPTION[handoff.channel],
        WORKSTREAM_BIND: f"/msdyn_liveworkstreams({workstream_id})",
        CONTEXT_ITEMS_NAV: context_items(handoff),
    }
    if contact.contact_id:
        payload[CONTACT_BIND] = f"/contacts({contact.contact_id})"
    return payload
