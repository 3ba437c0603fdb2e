"""The Dataverse privileges the bridge's application user needs, and the check health runs.

`PRIVILEGES` is the one list: health and the go-live check read what they require from it, the
Dataverse simulator grants it by default, and tests/infra/test_deploy_doc.py checks that
docs/deploy.md's least-privilege role lists exactly these. Read through the Web API (WhoAmI and
RetrieveUserPrivileges), never proved by a test write. Each missing privilege names its fix.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from shared.dynamics.dataverse import DataverseClient


class Needed(StrEnum):
    """When the bridge needs a privilege: always, or only with a setting."""

    ALWAYS = "always"
    INCIDENT_QUEUE = "INCIDENT_QUEUE_ID"  # AddToQueue
    INCIDENT_OWNER = "INCIDENT_OWNER_ID"  # create a case owned by someone else
    CREATE_CONTACTS = "CREATE_MISSING_CONTACTS"


class Depth(StrEnum):
    """The security role editor's depths (docs/deploy.md's words); Dataverse answers Basic/Global."""

    USER = "User"
    ORGANIZATION = "Organization"


@dataclass(frozen=True)
class Privilege:
    """One privilege on one table. Dataverse names it prv<Action><SchemaName>; the Omnichannel
    tables keep their lower-case logical names as schema names."""

    table: str  # logical name
    schema_name: str
    action: str  # Create, Read, Write, Delete, Append, AppendTo, Assign
    depth: Depth
    why: str
    needed: Needed = Needed.ALWAYS

    @property
    def name(self) -> str:
        return f"prv{self.action}{self.schema_name}"


_U, _O = Depth.USER, Depth.ORGANIZATION
_WORK_ITEM, _CONTEXT, _STREAM = (
    "msdyn_ocliveworkitem",
    "msdyn_ocliveworkitemcontextitem",
    "msdyn_liveworkstream",
)
PRIVILEGES: tuple[Privilege, ...] = (
    Privilege(_WORK_ITEM, _WORK_ITEM, "Create", _U, "create live work items"),
    Privilege(
        _WORK_ITEM, _WORK_ITEM, "Read", _O, "read a live work item's state (412 confirmation, dedup window)"
    ),
    Privilege(_WORK_ITEM, _WORK_ITEM, "Append", _U, "bind a live work item to its workstream and contact"),
    Privilege(_WORK_ITEM, _WORK_ITEM, "AppendTo", _U, "point the context items at their live work item"),
    Privilege(_CONTEXT, _CONTEXT, "Create", _U, "create the context variables a rep sees"),
    Privilege(_CONTEXT, _CONTEXT, "Read", _U, "read the context items back in the deep insert"),
    Privilege(_CONTEXT, _CONTEXT, "Append", _U, "point a context item at its live work item"),
    Privilege(_STREAM, _STREAM, "Read", _O, "check the workstreams exist"),
    Privilege(_STREAM, _STREAM, "AppendTo", _O, "route live work items to the workstream"),
    Privilege(
        "contact",
        "Contact",
        "Create",
        _U,
        "create a contact for an incident when none matches",
        Needed.CREATE_CONTACTS,
    ),
    Privilege("contact", "Contact", "Read", _O, "link the customer's contact"),
    Privilege("contact", "Contact", "AppendTo", _O, "link rows to the contact"),
    Privilege(
        "incident", "Incident", "Create", _U, "create incidents for the channels that are not live chats"
    ),
    Privilege(
        "incident", "Incident", "Read", _O, "read an incident's state (412 confirmation, dedup window)"
    ),
    Privilege("incident", "Incident", "Append", _U, "bind an incident to its customer and owner"),
    Privilege(
        "incident",
        "Incident",
        "AppendTo",
        _O,
        "add incidents to a queue and bind notes to them (the queue item and the note point at it)",
    ),
    # The annotation table's privileges keep its display name, Note (prvCreateNote, prvReadNote, ...).
    Privilege("annotation", "Note", "Create", _U, "write a file from the conversation as a note on its case"),
    Privilege("annotation", "Note", "Read", _U, "meet its own note again on redelivery (upsert, 412)"),
    Privilege("annotation", "Note", "Append", _U, "bind the note to its case (objectid_incident)"),
    Privilege(
        "incident",
        "Incident",
        "Assign",
        _U,
        "create incidents owned by INCIDENT_OWNER_ID",
        Needed.INCIDENT_OWNER,
    ),
    Privilege("queue", "Queue", "Read", _O, "read INCIDENT_QUEUE_ID", Needed.INCIDENT_QUEUE),
    Privilege(
        "queue",
        "Queue",
        "AppendTo",
        _O,
        "add incidents to INCIDENT_QUEUE_ID (AddToQueue)",
        Needed.INCIDENT_QUEUE,
    ),
    Privilege(
        "queueitem",
        "QueueItem",
        "Create",
        _U,
        "create the queue item AddToQueue makes",
        Needed.INCIDENT_QUEUE,
    ),
    Privilege(
        "queueitem", "QueueItem", "Read", _O, "add a case to the queue only once", Needed.INCIDENT_QUEUE
    ),
    Privilege(
        "queueitem", "QueueItem", "Append", _U, "point the queue item at its case", Needed.INCIDENT_QUEUE
    ),
)
PRIVILEGE_NAMES: tuple[str, ...] = tuple(privilege.name for privilege in PRIVILEGES)


@dataclass(frozen=True)
class PrivilegeReport:
    missing: list[tuple[str, str]]
    status: int | None = None  # set when the privileges could not be read
    error_code: str | None = None


def required_privileges(
    *, incident_queue: bool, create_contacts: bool, incident_owner: bool = False
) -> list[tuple[str, str]]:
    """(name, why) of every privilege these settings need."""
    wanted = {
        Needed.ALWAYS: True,
        Needed.INCIDENT_QUEUE: incident_queue,
        Needed.CREATE_CONTACTS: create_contacts,
        Needed.INCIDENT_OWNER: incident_owner,
    }
    return [(privilege.name, privilege.why) for privilege in PRIVILEGES if wanted[privilege.needed]]


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
