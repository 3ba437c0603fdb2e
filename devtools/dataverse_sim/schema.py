"""The tables the simulator serves, as data (each writable column's rule, each lookup's bind, the columns a
read returns, the states), and `check`, which validates a create or upsert body against them before any
row is touched ("Create a table row using the Web API", create-entity-web-api.md: lookups are set with
`<navigation property>@odata.bind`, a related collection is deep-inserted). The first problem is a 400
coded by what is wrong: unknown property 0x80060888, wrong type 0x80048d19, missing value 0x80040203,
out of range 0x80044331. The store then checks the `New` row against its state and commits atomically.

Sources (MicrosoftDocs/dynamics-365-customer-engagement, ce/customer-service/develop/reference/entities/,
and MicrosoftDocs/powerapps-docs, powerapps-docs/developer/data-platform/reference/entities/):
- msdyn_ocliveworkitem.md: subject MaxLength 200; statecode 0 Open, 1 Closed, 2 Resolved, 3 Scheduled,
  4 Wrap-up, with default statuscodes 1, 4, 6, 7, 5; statecode IsValidForCreate False.
- incident.md: title MaxLength 200 (ApplicationRequired), description Memo 2000, ticketnumber 100,
  prioritycode 1 High / 2 Normal / 3 Low, customerid SystemRequired (account, contact), ownerid
  systemuser or team; statecode 0 Active, 1 Resolved, 2 Cancelled, default statuscodes 1, 5, 6.
- contact.md: firstname/lastname 50, emailaddress1 100, mobilephone/telephone1 50, description 2000;
  statecode 0 Active, 1 Inactive with default statuscodes 1, 2.
- annotation.md: subject 500, filename 255, mimetype 256, notetext 100000, isdocument Boolean,
  documentbody the file as base64 text, filesize read only; `objectid_incident` binds it to a case.
- msdyn_ocliveworkitemcontextitem.msdyn_value is 512 (docs/contract.md section 5.2, issue 12).
"""

from __future__ import annotations

import binascii
import copy
import re
from dataclasses import dataclass, field
from typing import Any

from devtools.dataverse_sim.odata import (
    CODE_ARGUMENT,
    CODE_PAYLOAD,
    CODE_VALIDATION,
    bad,
    parse_bind_any,
    parse_guid,
)
from shared.dynamics.annotation import DEFAULT_BLOCKED_ATTACHMENTS, DEFAULT_MAX_UPLOAD_BYTES


@dataclass(frozen=True)
class Column:
    """A writable column: `kind` is text, int, bool, option (one of `choices`) or base64."""

    kind: str = "text"
    limit: int = 0  # text: UTF-16 units
    required: bool = False
    choices: frozenset[object] = frozenset()


@dataclass(frozen=True)
class Bind:
    """`<prop>@odata.bind`: the sets it may point at, and the row key the id is kept under."""

    sets: tuple[str, ...]
    row_key: str
    required: str | None = None  # the error message when the bind is missing


@dataclass(frozen=True)
class Table:
    logical: str
    entity_set: str
    key: str
    columns: dict[str, Column]
    binds: dict[str, Bind] = field(default_factory=dict)
    read: tuple[str, ...] = ()  # the columns a read returns without $select
    lookups: dict[str, str] = field(default_factory=dict)  # `_x_value` -> the row key holding the id
    states: dict[int, int] = field(default_factory=dict)  # statecode -> default statuscode
    status_state: dict[int, int] = field(default_factory=dict)  # statuscode -> its statecode
    filters: dict[str, str] = field(default_factory=dict)  # the columns `$filter` may compare: Edm type


def text(limit: int, required: bool = False) -> Column:
    return Column("text", limit, required)


WORKSTREAM_SET, CONTACT_SET, QUEUE_SET = "msdyn_liveworkstreams", "contacts", "queues"
SYSTEMUSER_SET, TEAM_SET, INCIDENT_SET = "systemusers", "teams", "incidents"
CONTEXT_ITEMS = "msdyn_msdyn_ocliveworkitem_msdyn_ocliveworkitemcontextitem_ocliveworkitemid"
STREAMSOURCE = "msdyn_streamsource"  # a workstream's channel (see store.py)
CHANNELS = frozenset({"192340000", "192300000", "192360000"})  # sms, whatsapp, web

WORK_ITEM = Table(
    "msdyn_ocliveworkitem", "msdyn_ocliveworkitems", "activityid",
    columns={
        "msdyn_ocliveworkitemid": text(100), "subject": text(200, True), "description": text(2000),
        "msdyn_channel": Column("option", required=True, choices=frozenset(CHANNELS)),
    },
    binds={
        "msdyn_liveworkstreamid_msdyn_ocliveworkitem": Bind(
            (WORKSTREAM_SET,), "workstream_id", "msdyn_liveworkstreamid_msdyn_ocliveworkitem@odata.bind "
            "is required (the workstream)."),
        "msdyn_customer_msdyn_ocliveworkitem_contact": Bind((CONTACT_SET,), "contact_id"),
    },
    read=("activityid", "msdyn_ocliveworkitemid", "subject", "description", "msdyn_channel", "statecode",
          "statuscode", "createdon"),
    lookups={"_msdyn_liveworkstreamid_value": "workstream_id", "_msdyn_customer_value": "contact_id",
             "_msdyn_cdsqueueid_value": "queue_id", "_msdyn_activeagentid_value": "agent_id"},
    states={0: 1, 1: 4, 2: 6, 3: 7, 4: 5},
    status_state={1: 0, 2: 0, 3: 0, 5: 0, 4: 1, 6: 2, 7: 3},
)  # fmt: skip
CONTEXT_ITEM = Table(
    "msdyn_ocliveworkitemcontextitem", CONTEXT_ITEMS, "",
    columns={"msdyn_name": text(100, True), "msdyn_value": text(512), "msdyn_isdisplayable": Column("bool")},
)  # fmt: skip
# The stock incident's writable scalar columns (the reference's "Writable columns" minus lookups, set
# only through binds); an environment's custom columns are registered with add_incident_columns().
INCIDENT_SCALARS = """activitiescomplete actualserviceunits billedserviceunits blockedprofile caseorigincode
    casetypecode checkemail contractservicelevelcode customercontacted customersatisfactioncode
    decremententitlementterm emailaddress firstresponsesent firstresponseslastatus followupby
    followuptaskcreated incidentstagecode influencescore isdecrementing isescalated messagetypecode
    productserialnumber resolveby resolvebyslastatus responseby routecase servicestage severitycode""".split()  # noqa: SIM905 - a table, read as one
INCIDENT = Table(
    "incident", INCIDENT_SET, "incidentid",
    columns={
        **dict.fromkeys(INCIDENT_SCALARS, Column("any")),
        "title": text(200, True), "description": text(2000), "ticketnumber": text(100),
        "prioritycode": Column("option", choices=frozenset({1, 2, 3})), "statuscode": Column("status"),
    },
    binds={
        "customerid_contact": Bind((CONTACT_SET,), "contact_id", "You should specify a parent contact or account."),
        "primarycontactid": Bind((CONTACT_SET,), "primary_contact_id"),
        "ownerid": Bind((SYSTEMUSER_SET, TEAM_SET), "owner_id"),
    },
    read=("incidentid", "title", "description", "prioritycode", "ticketnumber", "statecode", "statuscode",
          "createdon"),
    lookups={"_customerid_value": "contact_id", "_ownerid_value": "owner_id",
             "_primarycontactid_value": "primary_contact_id"},
    states={0: 1, 1: 5, 2: 6},
    status_state={1: 0, 2: 0, 3: 0, 4: 0, 5: 1, 1000: 1, 6: 2, 2000: 2},
)  # fmt: skip
CONTACT = Table(
    "contact", CONTACT_SET, "contactid",
    columns={"firstname": text(50), "lastname": text(50), "emailaddress1": text(100), "mobilephone": text(50),
             "telephone1": text(50), "description": text(2000)},
    read=("contactid", "firstname", "lastname", "fullname", "emailaddress1", "mobilephone", "telephone1",
          "description", "statecode", "statuscode", "createdon"),
    states={0: 1, 1: 2},
    status_state={1: 0, 2: 1},
    # the lookup's three columns, and statecode (0 Active, 1 Inactive)
    filters={"emailaddress1": "Edm.String", "mobilephone": "Edm.String", "telephone1": "Edm.String",
             "statecode": "Edm.Int32"},
)  # fmt: skip
ANNOTATION = Table(
    "annotation", "annotations", "annotationid",
    columns={"subject": text(500), "notetext": text(100_000), "filename": text(255), "mimetype": text(256),
             "isdocument": Column("bool"), "documentbody": Column("base64")},
    binds={"objectid_incident": Bind((INCIDENT_SET,), "object_id")},
    read=("annotationid", "subject", "notetext", "filename", "mimetype", "isdocument", "filesize",
          "objecttypecode", "createdon"),
    lookups={"_objectid_value": "object_id"},
    filters={"_objectid_value": "Edm.Guid"},
)  # fmt: skip
TABLES = {table.logical: table for table in (WORK_ITEM, INCIDENT, CONTACT, ANNOTATION)}
BY_SET = {table.entity_set: table for table in TABLES.values()}
# Tables seeded by name only (the simulator keeps id -> name): logical name, set, key, name column.
NAMED = {
    "msdyn_liveworkstream": (WORKSTREAM_SET, "msdyn_liveworkstreamid", "msdyn_name"),
    "queue": (QUEUE_SET, "queueid", "name"),
    "systemuser": (SYSTEMUSER_SET, "systemuserid", "fullname"),
    "team": (TEAM_SET, "teamid", "name"),
}
SET_ENTITY = {
    **{t.entity_set: t.logical for t in TABLES.values()},
    **{s: n for n, (s, _, _) in NAMED.items()},
}

# Auto-numbering ("Change auto-numbering prefixes ...", MicrosoftDocs/power-platform admin): a three-letter
# prefix (CAS for cases), a number from 1000 and a random suffix, six characters by default: CAS-01000-K3Y8T2.
TICKET_PREFIX, TICKET_FIRST_NUMBER, TICKET_SUFFIX_LENGTH = "CAS", 1000, 6

# The organization row's attachment settings as a new environment has them ("Use file data with Attachment
# and Note records" and "Files and images overview", powerapps-docs): maxuploadfilesize 5,242,880, measured
# on the base64 text, and the documented blockedattachments list.
DEFAULT_ORGANIZATION: dict[str, Any] = {
    "maxuploadfilesize": DEFAULT_MAX_UPLOAD_BYTES,
    "blockedattachments": DEFAULT_BLOCKED_ATTACHMENTS,
}

_LOGICAL_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
BIND = "@odata.bind"


@dataclass(frozen=True)
class New:
    key: str
    columns: dict[str, Any]  # the accepted columns (and a custom lookup's bind text, kept as given)
    binds: dict[str, tuple[str, str]]  # row key -> (entity set, id)
    children: list[dict[str, Any]]  # the deep-inserted context items


def dataverse_length(text: str) -> int:
    """Length as Dataverse counts it: UTF-16 code units (.NET string.Length), so an emoji counts twice."""
    return len(text.encode("utf-16-le")) // 2


def decoded_size(text: str) -> int:
    """The byte count of a base64 `documentbody`; invalid base64 is a 400 (the column holds a file)."""
    try:
        return len(binascii.a2b_base64(text.encode("ascii"), strict_mode=True))
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise bad("documentbody is not valid base64.", CODE_PAYLOAD) from None


def check(table: Table, body: object, base_url: str, custom: frozenset[str] = frozenset()) -> New:
    """Check a `POST <set>` (or upsert) body against the table's rules; `custom` names the environment's
    custom columns (scalar names or `<nav>@odata.bind`), accepted as given."""
    where, data = table.logical, body
    if not isinstance(data, dict):
        raise bad(f"Error identified in Payload for Entity '{where}': not an object.", CODE_PAYLOAD)
    columns: dict[str, Any] = {}
    binds: dict[str, tuple[str, str]] = {}
    for prop, value in data.items():
        if prop.startswith("@odata.") or prop == table.key or (table is WORK_ITEM and prop == CONTEXT_ITEMS):
            continue
        if prop in custom:
            if isinstance(value, dict | list):
                raise bad(f"'{prop}' must be a single value on '{where}'.", CODE_PAYLOAD)
            columns[prop] = value
        elif prop.endswith(BIND) and prop.removesuffix(BIND) in table.binds:
            bind = table.binds[prop.removesuffix(BIND)]
            binds[bind.row_key] = parse_bind_any(value, prop, bind.sets, base_url)
        elif prop in table.columns and _LOGICAL_NAME.match(prop):
            columns[prop] = check_value(table, prop, value)
        else:
            raise bad(f"Invalid property '{prop}' was found in entity 'Microsoft.Dynamics.CRM.{where}'.")
    for prop, column in table.columns.items():
        if column.required and data.get(prop) is None:
            raise bad(f"{prop} is required on '{where}'.", CODE_ARGUMENT)
    for name, bind in table.binds.items():
        if bind.required and data.get(f"{name}{BIND}") is None:
            raise bad(bind.required, CODE_ARGUMENT)
    if (raw := data.get(table.key) if table.key else "") is None:
        raise bad(f"{table.key} is required by the simulator (idempotent create).", CODE_ARGUMENT)
    if (key := parse_guid(raw) if table.key else "") is None:
        raise bad(f"Cannot convert the literal '{raw}' to 'Edm.Guid' for {table.key}.", CODE_PAYLOAD)
    children = data.get(CONTEXT_ITEMS) if table is WORK_ITEM else None  # the deep-inserted context items
    if table is WORK_ITEM:
        live = data.get("msdyn_ocliveworkitemid")
        if live is not None and parse_guid(live) != key:
            raise bad("msdyn_ocliveworkitemid must be the activityid as a string.", CODE_ARGUMENT)
        if not isinstance(children, list | None):
            raise bad(f"{CONTEXT_ITEMS} must be an array of objects.", CODE_PAYLOAD)
        for item in children or ():
            check(CONTEXT_ITEM, item, base_url)
    return New(key, columns, binds, copy.deepcopy(children or []))


def check_value(table: Table, prop: str, value: Any) -> Any:
    """One column's value by its rule (None clears a column and is always accepted here)."""
    rule, where = table.columns[prop], table.logical
    if value is None or (rule.kind == "any" and not isinstance(value, dict | list)):
        return value
    is_int = isinstance(value, int) and not isinstance(value, bool)
    if rule.kind in ("text", "base64") and isinstance(value, str):
        if rule.required and not value.strip():
            raise bad(f"{prop} must not be empty on '{where}'.", CODE_ARGUMENT)
        if rule.kind == "base64":
            decoded_size(value)
        elif (length := dataverse_length(value)) > rule.limit:
            limit = f"the maximum allowed length of '{rule.limit}' (got {length})"
            raise _invalid(f"The length of the '{prop}' attribute of the '{where}' entity exceeded {limit}.")
        return value
    if rule.kind == "bool" and isinstance(value, bool):
        return value
    if rule.kind == "status":  # a create's statuscode must belong to the first (active) state
        if is_int and table.status_state.get(value) == 0:
            return value
        raise bad(f"statuscode {value!r} is not a status of the active state of '{where}'.", CODE_VALIDATION)
    if rule.kind == "option" and (is_int or not isinstance(next(iter(rule.choices)), int)):
        if value in rule.choices and type(value) is type(next(iter(rule.choices))):
            return value
        choices = sorted(map(str, rule.choices))
        raise _invalid(f"The value {value!r} of '{prop}' is outside the valid range: one of {choices}.")
    raise bad(f"Cannot convert {value!r} to the type of '{prop}' on '{where}'.", CODE_PAYLOAD)


def _invalid(detail: str) -> Exception:
    return bad(f"A validation error occurred. {detail}", CODE_VALIDATION)
