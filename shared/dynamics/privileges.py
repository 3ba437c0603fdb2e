"""Whether the application user may do what the bridge does, read through the Web API (WhoAmI and
RetrieveUserPrivileges), never proved by a test write. Each missing privilege names its fix."""

from __future__ import annotations

from dataclasses import dataclass

from shared.dynamics.dataverse import DataverseClient

# (privilege, why the bridge needs it). Dataverse names privileges prv<Action><SchemaName>; the
# Omnichannel tables keep their lower-case schema names.
LIVE_CHAT_PRIVILEGES = (
    ("prvCreatemsdyn_ocliveworkitem", "create live work items"),
    ("prvReadmsdyn_ocliveworkitem", "read a live work item's state (412 confirmation, dedup window)"),
    ("prvAppendmsdyn_ocliveworkitem", "bind a live work item to its workstream and contact"),
    ("prvCreatemsdyn_ocliveworkitemcontextitem", "create the context variables a rep sees"),
    ("prvAppendTomsdyn_liveworkstream", "route live work items to the workstream"),
    ("prvReadmsdyn_liveworkstream", "check the workstreams exist"),
)
CONTACT_PRIVILEGES = (
    ("prvReadContact", "link the customer's contact"),
    ("prvAppendToContact", "link rows to the contact"),
    ("prvCreateContact", "create a contact for an incident when none matches"),
)
INCIDENT_PRIVILEGES = (
    ("prvCreateIncident", "create incidents for the channels that are not live chats"),
    ("prvReadIncident", "read an incident's state (412 confirmation, dedup window)"),
    ("prvAppendIncident", "bind an incident to its customer and owner"),
)
QUEUE_PRIVILEGES = (("prvAppendToQueue", "add incidents to INCIDENT_QUEUE_ID (AddToQueue)"),)


@dataclass(frozen=True)
class PrivilegeReport:
    missing: list[tuple[str, str]]
    status: int | None = None  # set when the privileges could not be read
    error_code: str | None = None


def required_privileges(*, incident_queue: bool, create_contacts: bool) -> list[tuple[str, str]]:
    contact = [p for p in CONTACT_PRIVILEGES if create_contacts or p[0] != "prvCreateContact"]
    queue = list(QUEUE_PRIVILEGES) if incident_queue else []
    return [*LIVE_CHAT_PRIVILEGES, *contact, *INCIDENT_PRIVILEGES, *queue]


def check_privileges(client: DataverseClient, required: list[tuple[str, str]]) -> PrivilegeReport:
    """Two GETs: who the application user is, then every privilege its roles give it."""
    who = client.get("WhoAmI", "whoami")
    user_id = who.body.get("UserId") if who.ok else None
    if not user_id:
        return PrivilegeReport([], who.status, who.error_code)
    held = client.get(f"systemusers({user_id})/Microsoft.Dynamics.CRM.RetrieveUserPrivileges", "privileges")
    if not held.ok:
        return PrivilegeReport([], held.status, held.error_code)
    rows = held.body.get("RolePrivileges")
    names = (
        {str(row.get("PrivilegeName", "")).lower() for row in rows if isinstance(row, dict)}
        if isinstance(rows, list)
        else set()
    )
    return PrivilegeReport([(name, why) for name, why in required if name.lower() not in names])
