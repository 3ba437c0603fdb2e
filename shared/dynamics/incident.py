"""The incident (case) path for every channel that is not a live chat (contract section 5.3).

An incident needs a customer: the matched contact, or one created with an id derived from the
customer's email, phone or conversation, so a retry meets a 412 and never creates a twin.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared.dynamics.columns import cut, derived_id, newest_lines_within
from shared.dynamics.contact import ContactMatch, Linkage
from shared.dynamics.dataverse import DataverseClient, DataverseResponse
from shared.dynamics.rows import Created, create_row, get_row
from shared.opencx.handoff import Handoff
from shared.platform.failure import Failure, FailureKind, Upstream
from shared.platform.settings import OwnerType, Settings

ENTITY_SET = "incidents"
TITLE_MAX = 200
DESCRIPTION_MAX = 2_000
CUSTOMER_BIND = "customerid_contact@odata.bind"
OWNER_BIND = "ownerid@odata.bind"
NAME_PART_MAX = 50  # contact.firstname / lastname
EMAIL_MAX = 100  # contact.emailaddress1
PHONE_MAX = 50  # contact.mobilephone


def incident_id(handoff: Handoff) -> str:
    return derived_id(handoff.session_id, handoff.handoff_id, legacy=handoff.legacy_ids)


def contact_id_for(handoff: Handoff) -> str:
    """The created contact's id: from the normalised email, else phone, else the conversation."""
    customer = handoff.customer
    key = customer.email.lower() if customer.email else customer.phone or f"opencx:{handoff.session_id}"
    return derived_id("contact", key)


def contact_payload(handoff: Handoff) -> dict[str, Any]:
    customer = handoff.customer
    parts = (customer.name or "").split()
    payload: dict[str, Any] = {
        "contactid": contact_id_for(handoff),
        "lastname": cut(parts[-1] if parts else "Anonymous", NAME_PART_MAX),
        "description": f"Created by the OpenCX handoff bridge for OpenCX conversation {handoff.session_id}.",
    }
    if len(parts) > 1:
        payload["firstname"] = cut(" ".join(parts[:-1]), NAME_PART_MAX)
    # Values past the stock columns' lengths would make every retry a 400: such a value stays in
    # the incident's description instead.
    if customer.email and len(customer.email) <= EMAIL_MAX:
        payload["emailaddress1"] = customer.email
    if customer.phone and len(customer.phone) <= PHONE_MAX:
        payload["mobilephone"] = customer.phone
    return payload


def title(handoff: Handoff) -> str:
    who = handoff.customer.name or handoff.customer.email or "Anonymous"
    return cut(f"{handoff.contact_reason or 'Support'} - {who}", TITLE_MAX)


def description(handoff: Handoff) -> str:
    """A header, then the timestamped transcript, newest lines kept when it must be cut."""
    customer = handoff.customer
    pairs = (
        ("Channel", handoff.channel), ("Summary", handoff.summary), ("Reason", handoff.contact_reason or handoff.reason),
        ("Sentiment", handoff.sentiment), ("Customer", customer.name), ("Email", customer.email),
        ("Phone", customer.phone), ("OpenCX conversation", handoff.session_id),
    )  # fmt: skip
    head = "\n".join(f"{label}: {value}" for label, value in pairs if value)
    lines = [f"[{line.at or '?'}] {line.role}: {line.shown}" for line in handoff.transcript]
    return newest_lines_within(head, lines, DESCRIPTION_MAX, "\n\nTranscript:")


def incident_payload(handoff: Handoff, contact_id: str, settings: Settings) -> dict[str, Any]:
    ours: dict[str, Any] = {
        "incidentid": incident_id(handoff),
        "title": title(handoff),
        "description": description(handoff),
        "prioritycode": settings.incident_priority,
        CUSTOMER_BIND: f"/contacts({contact_id})",
    }
    if settings.incident_owner_id:
        owners = "teams" if settings.incident_owner_type is OwnerType.TEAM else "systemusers"
        ours[OWNER_BIND] = f"/{owners}({settings.incident_owner_id})"
    return {**settings.incident_extra_fields, **ours}


# Settings forbid creating the customer an incident needs: no request was made, nothing to repeat.
NO_CUSTOMER = Failure(
    Upstream.DATAVERSE, FailureKind.REFUSED, code="no_customer",
    message="no contact matches and CREATE_MISSING_CONTACTS is off",
)  # fmt: skip


@dataclass(frozen=True)
class IncidentOutcome:
    response: DataverseResponse | None  # the last real answer; None when no request was made
    contact: ContactMatch
    incident_id: str | None = None
    ticket_number: str | None = None
    contact_created: bool = False
    existed: bool = False  # an earlier attempt had created it (412 confirmed by GET)
    operation: str = "create_incident"
    failure: Failure | None = None  # None: contact, incident and queue are all in place

    @property
    def ok(self) -> bool:
        return self.failure is None


def ensure_contact(
    client: DataverseClient, handoff: Handoff, match: ContactMatch
) -> tuple[ContactMatch, Created | None]:
    """The matched contact, or a created one. Returns the creation's answer when one was made."""
    if match.contact_id:
        return match, None
    created = create_row(client, "contacts", "contactid", contact_payload(handoff), "create_contact")
    if not created.ok:
        return match, created
    return ContactMatch(created.row_id, Linkage.CREATED, "created_contact"), created


def add_to_queue(client: DataverseClient, queue_id: str, row_id: str) -> DataverseResponse:
    """The documented AddToQueue action; adding an item already in that queue adds no second one."""
    target = {"incidentid": row_id, "@odata.type": "Microsoft.Dynamics.CRM.incident"}
    return client.post(
        f"queues({queue_id})/Microsoft.Dynamics.CRM.AddToQueue", "add_to_queue", {"Target": target}
    )


def create_incident(
    client: DataverseClient, handoff: Handoff, match: ContactMatch, settings: Settings
) -> IncidentOutcome:
    """Contact, incident, queue: each step safely repeatable, so a retry redoes only what is missing."""
    contact = match
    if not match.contact_id:
        if not settings.create_missing_contacts:
            return IncidentOutcome(None, match, operation="create_contact", failure=NO_CUSTOMER)
        contact, created = ensure_contact(client, handoff, match)
        if created is not None and not created.ok:
            return IncidentOutcome(
                created.response, match, operation="create_contact", failure=created.failure
            )
    assert contact.contact_id is not None
    created_incident = create_row(
        client, ENTITY_SET, "incidentid", incident_payload(handoff, contact.contact_id, settings),
        "create_incident", select="incidentid,ticketnumber",
    )  # fmt: skip
    if not created_incident.ok:
        return IncidentOutcome(
            created_incident.response, contact, created_incident.row_id, failure=created_incident.failure
        )
    ticket = created_incident.response.body.get("ticketnumber")
    if not ticket:  # a server that ignored Prefer: return=representation: one read, never a failure
        ticket = get_row(
            client, ENTITY_SET, created_incident.row_id, "ticketnumber", "get_incident"
        ).body.get("ticketnumber")
    if settings.incident_queue_id:
        queued = add_to_queue(client, settings.incident_queue_id, created_incident.row_id)
        if not queued.ok:
            return IncidentOutcome(
                queued, contact, created_incident.row_id, ticket, operation="add_to_queue",
                failure=Failure.of(Upstream.DATAVERSE, queued),
            )  # fmt: skip
    return IncidentOutcome(
        created_incident.response, contact, created_incident.row_id, str(ticket) if ticket else None,
        contact_created=contact.linkage is Linkage.CREATED, existed=created_incident.existed,
    )  # fmt: skip
