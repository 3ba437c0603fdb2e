"""The deep-insert body of a live work item (contract section 5.2) and its deterministic id.

The `activityid` is derived from the conversation and the handoffId, so every retry, replay or
redelivery of one handoff addresses the same row and Dataverse answers 412 instead of creating a
second one.
"""

from __future__ import annotations

from typing import Any

from shared.dynamics.columns import cut, derived_id, newest_lines_within
from shared.dynamics.contact import ContactMatch, Linkage
from shared.dynamics.dataverse import DataverseClient
from shared.dynamics.rows import Created, create_row
from shared.opencx.handoff import Handoff

SUBJECT_MAX = 200
DESCRIPTION_MAX = 2_000
CONTEXT_NAME_MAX = 100
CONTEXT_VALUE_MAX = 512  # msdyn_ocliveworkitemcontextitem.msdyn_value's length
CHANNEL_OPTION = {"sms": "192340000", "whatsapp": "192300000", "web": "192360000"}
ENTITY_SET = "msdyn_ocliveworkitems"
CONTEXT_ITEMS_NAV = "msdyn_msdyn_ocliveworkitem_msdyn_ocliveworkitemcontextitem_ocliveworkitemid"
WORKSTREAM_BIND = "msdyn_liveworkstreamid_msdyn_ocliveworkitem@odata.bind"
CONTACT_BIND = "msdyn_customer_msdyn_ocliveworkitem_contact@odata.bind"


def work_item_id(handoff: Handoff) -> str:
    """The live work item's activityid, which is also the handoff's dynamics365_chat_id."""
    return derived_id(handoff.session_id, handoff.handoff_id, legacy=handoff.legacy_ids)


def subject(handoff: Handoff) -> str:
    return cut(" ".join(handoff.summary.split()), SUBJECT_MAX)


def customer_lines(handoff: Handoff) -> list[str]:
    """Who the customer is and why they asked, as `Label: value` lines, the known ones only."""
    customer = handoff.customer
    pairs = (
        ("Customer", customer.name), ("Phone", customer.phone), ("Email", customer.email),
        ("Channel", handoff.channel), ("Reason", handoff.contact_reason),
        ("Sentiment", handoff.sentiment), ("Session", handoff.session_id),
    )  # fmt: skip
    return [f"{label}: {value}" for label, value in pairs if value]


def description(handoff: Handoff) -> str:
    """Summary first, then who the customer is, then as much of the transcript's tail as fits."""
    head = "\n".join([handoff.summary, "", *customer_lines(handoff)])
    lines = [f"{line.role}: {line.shown}" for line in handoff.transcript]
    return newest_lines_within(head, lines, DESCRIPTION_MAX, "\n\nTranscript (latest):")


def context_items(handoff: Handoff) -> list[dict[str, Any]]:
    """The context variables a rep sees: sessionId and channel, then every detail known."""
    customer = handoff.customer
    pairs = [
        ("sessionId", handoff.session_id),
        ("channel", handoff.channel),
        ("customerPhone", customer.phone),
        ("customerEmail", customer.email),
        ("customerName", customer.name),
        ("language", handoff.language),
        ("reason", handoff.contact_reason or handoff.reason),
        ("sentiment", handoff.sentiment),
    ]
    return [
        {
            "msdyn_name": cut(name, CONTEXT_NAME_MAX),
            "msdyn_value": cut(value, CONTEXT_VALUE_MAX),
            "msdyn_isdisplayable": True,
        }
        for name, value in pairs
        if value
    ]


def work_item_payload(handoff: Handoff, workstream_id: str, contact: ContactMatch) -> dict[str, Any]:
    activity_id = work_item_id(handoff)
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


def _contact_gone(created: Created, contact_id: str) -> bool:
    """A 404 that names the linked contact ("contact With Id = ... Does Not Exist")."""
    failure = created.failure
    if failure is None or failure.status != 404:
        return False
    text = (created.response.error_message or "").lower()
    return contact_id.lower() in text or "contact with id" in text


def create_work_item(
    client: DataverseClient, handoff: Handoff, workstream_id: str, contact: ContactMatch
) -> tuple[Created, ContactMatch]:
    """One deep-insert POST. When the linked contact vanished between lookup and create, one more
    POST without it: an unlinked item beats no item. Any other 404 (a wrong workstream) is final."""
    payload = work_item_payload(handoff, workstream_id, contact)
    created = create_row(client, ENTITY_SET, "activityid", payload, "create_work_item")
    if contact.contact_id and _contact_gone(created, contact.contact_id):
        del payload[CONTACT_BIND]
        contact = ContactMatch(None, Linkage.NONE, "contact_gone")
        created = create_row(client, ENTITY_SET, "activityid", payload, "create_work_item")
    return created, contact
