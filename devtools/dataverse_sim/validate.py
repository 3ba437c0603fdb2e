"""Create-body validation, the way Dataverse checks a POST before it touches any row.

Each function returns a small immutable "new row" that the store then checks against its state
(binds exist, key free) and commits atomically. The first problem is raised as a 400 OData error.
Creates follow "Create a table row using the Web API" (powerapps-docs .../webapi/create-entity-web-api.md):
lookups are set with `<navigation property>@odata.bind`, a related collection is deep-inserted.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from typing import Any

from devtools.dataverse_sim import schema
from devtools.dataverse_sim.odata import (
    CODE_BAD_QUERY,
    CODE_INVALID_ARGUMENT,
    CODE_PAYLOAD,
    CODE_VALIDATION,
    ODataError,
    parse_bind,
    parse_bind_any,
    parse_guid,
)

_LOGICAL_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class NewWorkItem:
    activityid: str
    workstream_id: str
    contact_id: str | None
    body: dict[str, Any]
    context_items: list[dict[str, Any]]


@dataclass(frozen=True)
class NewIncident:
    incidentid: str
    contact_id: str
    owner: tuple[str, str] | None  # (entity set, id): ("systemusers", ...) or ("teams", ...)
    primary_contact_id: str | None
    columns: dict[str, Any]  # title, description, prioritycode and every accepted extra column


@dataclass(frozen=True)
class NewContact:
    contactid: str
    columns: dict[str, str]


def parse_json_body(body: bytes, entity: str) -> Any:
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise ODataError(
            400,
            CODE_PAYLOAD,
            f"Error identified in Payload provided by the user for Entity '{entity}': {error}",
        ) from None


def dataverse_length(text: str) -> int:
    """Length as Dataverse counts it: UTF-16 code units (.NET string.Length), so an emoji counts twice."""
    return len(text.encode("utf-16-le")) // 2


# ---------------------------------------------------------------- live work item


def validate_work_item(body: object, base_url: str) -> NewWorkItem:
    """Check a deep-insert `POST msdyn_ocliveworkitems` body."""
    entity = schema.WORK_ITEM
    data = _object(body, entity)
    _known_properties(data, schema.WORK_ITEM_PROPERTIES, entity)
    activityid = _require_guid(data, "activityid")
    live_id = data.get("msdyn_ocliveworkitemid")
    if live_id is not None and (not isinstance(live_id, str) or parse_guid(live_id) != activityid):
        raise ODataError(
            400, CODE_INVALID_ARGUMENT, "msdyn_ocliveworkitemid must be the activityid as a string."
        )
    check_text(data, "subject", schema.MAX_SUBJECT, required=True, where=entity)
    check_text(data, "description", schema.MAX_WORK_ITEM_DESCRIPTION, required=False, where=entity)
    channel = data.get("msdyn_channel")
    if channel is None:
        raise ODataError(400, CODE_INVALID_ARGUMENT, "msdyn_channel is required.")
    if not isinstance(channel, str) or channel not in schema.CHANNELS:
        raise ODataError(
            400,
            CODE_VALIDATION,
            f"A validation error occurred. The value {channel!r} of 'msdyn_channel' is outside the valid "
            f"range: send one of {sorted(schema.CHANNELS)} as a string.",
        )
    if schema.WORKSTREAM_BIND not in data:
        raise ODataError(
            400, CODE_INVALID_ARGUMENT, f"{schema.WORKSTREAM_BIND} is required (the workstream)."
        )
    workstream_id = parse_bind(
        data[schema.WORKSTREAM_BIND], schema.WORKSTREAM_BIND, schema.WORKSTREAM_SET, base_url
    )
    contact_id = None
    if data.get(schema.WORK_ITEM_CONTACT_BIND) is not None:
        contact_id = parse_bind(
            data[schema.WORK_ITEM_CONTACT_BIND], schema.WORK_ITEM_CONTACT_BIND, schema.CONTACT_SET, base_url
        )
    items = _context_items(data.get(schema.CONTEXT_ITEMS))
    return NewWorkItem(activityid, workstream_id, contact_id, copy.deepcopy(data), items)


def _context_items(value: object) -> list[dict[str, Any]]:
    """Validate the nested context-item collection of the deep insert."""
    if value is None:
        return []
    where = schema.CONTEXT_ITEM
    if not isinstance(value, list):
        raise ODataError(400, CODE_PAYLOAD, f"{schema.CONTEXT_ITEMS} must be an array of {where} objects.")
    items: list[dict[str, Any]] = []
    for position, item in enumerate(value):
        if not isinstance(item, dict):
            raise ODataError(400, CODE_PAYLOAD, f"{schema.CONTEXT_ITEMS}[{position}] must be an object.")
        _known_properties(item, schema.CONTEXT_ITEM_PROPERTIES, where)
        check_text(item, "msdyn_name", schema.MAX_CONTEXT_NAME, required=True, where=where)
        check_text(item, "msdyn_value", schema.MAX_CONTEXT_VALUE, required=False, where=where)
        displayable = item.get("msdyn_isdisplayable")
        if displayable is not None and not isinstance(displayable, bool):
            raise ODataError(400, CODE_PAYLOAD, f"msdyn_isdisplayable must be a boolean on '{where}'.")
        items.append(copy.deepcopy(item))
    return items


# ---------------------------------------------------------------- incident


def validate_incident(body: object, base_url: str, custom_columns: frozenset[str]) -> NewIncident:
    """Check a `POST incidents` body: stock writable columns, the customer and owner binds, and the
    environment's custom columns (`custom_columns`, scalar names or `<nav>@odata.bind`)."""
    entity = schema.INCIDENT
    data = _object(body, entity)
    for key in data:
        if key.startswith("@odata.") or key in schema.INCIDENT_BINDS or key in custom_columns:
            continue
        if key == "statecode":
            raise ODataError(
                400,
                CODE_BAD_QUERY,
                "statecode is not valid for create on 'incident' (IsValidForCreate False).",
            )
        if key not in schema.INCIDENT_SCALAR_COLUMNS or not _LOGICAL_NAME.match(key):
            raise ODataError(
                400,
                CODE_BAD_QUERY,
                f"Invalid property '{key}' was found in entity 'Microsoft.Dynamics.CRM.incident'.",
            )
    incidentid = _require_guid(data, "incidentid")
    check_text(data, "title", schema.MAX_TITLE, required=True, where=entity)
    check_text(data, "description", schema.MAX_INCIDENT_DESCRIPTION, required=False, where=entity)
    check_text(data, "ticketnumber", schema.MAX_TICKET_NUMBER, required=False, where=entity)
    priority = data.get("prioritycode")
    if priority is not None and (not isinstance(priority, int) or isinstance(priority, bool)):
        raise ODataError(
            400, CODE_PAYLOAD, f"Cannot convert the literal '{priority}' to the expected type 'Edm.Int32'."
        )
    if priority is not None and priority not in schema.PRIORITY_CODES:
        raise ODataError(
            400,
            CODE_VALIDATION,
            f"A validation error occurred. The value {priority!r} of 'prioritycode' is outside the valid "
            f"range: one of {sorted(schema.PRIORITY_CODES)} (1 High, 2 Normal, 3 Low).",
        )
    status = data.get("statuscode")
    if status is not None and schema.STATUS_STATE[entity].get(status) != 0:
        raise ODataError(
            400, CODE_VALIDATION, f"statuscode {status!r} is not a status of the Active state of 'incident'."
        )
    if data.get(schema.INCIDENT_ACCOUNT_BIND) is not None:
        raise ODataError(
            400,
            CODE_BAD_QUERY,
            "The simulator has no account table: bind the customer with customerid_contact.",
        )
    if data.get(schema.INCIDENT_CONTACT_BIND) is None:
        # customerid is SystemRequired on incident; this is the platform's wording for a missing customer.
        raise ODataError(400, CODE_INVALID_ARGUMENT, "You should specify a parent contact or account.")
    contact_id = parse_bind(
        data[schema.INCIDENT_CONTACT_BIND], schema.INCIDENT_CONTACT_BIND, schema.CONTACT_SET, base_url
    )
    owner = None
    if data.get(schema.INCIDENT_OWNER_BIND) is not None:
        owner = parse_bind_any(
            data[schema.INCIDENT_OWNER_BIND],
            schema.INCIDENT_OWNER_BIND,
            (schema.SYSTEMUSER_SET, schema.TEAM_SET),
            base_url,
        )
    primary = None
    if data.get(schema.INCIDENT_PRIMARY_CONTACT_BIND) is not None:
        primary = parse_bind(
            data[schema.INCIDENT_PRIMARY_CONTACT_BIND],
            schema.INCIDENT_PRIMARY_CONTACT_BIND,
            schema.CONTACT_SET,
            base_url,
        )
    columns: dict[str, Any] = {}
    for key, value in data.items():
        if key.startswith("@odata.") or key in schema.INCIDENT_BINDS or key == "incidentid":
            continue
        if isinstance(value, dict | list):
            raise ODataError(400, CODE_PAYLOAD, f"'{key}' must be a single value on 'incident'.")
        columns[key] = value
    return NewIncident(incidentid, contact_id, owner, primary, columns)


# ---------------------------------------------------------------- contact


def validate_contact(body: object) -> NewContact:
    """Check a `POST contacts` body: the client-supplied contactid and the bridge's columns."""
    entity = schema.CONTACT
    data = _object(body, entity)
    _known_properties(data, schema.CONTACT_PROPERTIES, entity)
    contactid = _require_guid(data, "contactid")
    columns: dict[str, str] = {}
    for name, limit in schema.CONTACT_LENGTHS.items():
        check_text(data, name, limit, required=False, where=entity)
        if data.get(name) is not None:
            columns[name] = data[name]
    return NewContact(contactid, columns)


# ---------------------------------------------------------------- shared checks


def _object(body: object, entity: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ODataError(
            400, CODE_PAYLOAD, f"Error identified in Payload for Entity '{entity}': not an object."
        )
    return body


def _known_properties(data: dict[str, Any], allowed: frozenset[str], entity: str) -> None:
    for key in data:
        if key not in allowed and not key.startswith("@odata."):
            raise ODataError(400, CODE_BAD_QUERY, f"Invalid property '{key}' was found in entity '{entity}'.")


def _require_guid(body: dict[str, Any], prop: str) -> str:
    value = body.get(prop)
    if value is None:
        raise ODataError(
            400, CODE_INVALID_ARGUMENT, f"{prop} is required by the simulator (idempotent create)."
        )
    guid = parse_guid(value) if isinstance(value, str) else None
    if guid is None:
        raise ODataError(400, CODE_PAYLOAD, f"Cannot convert the literal '{value}' to 'Edm.Guid' for {prop}.")
    return guid


def check_text(body: dict[str, Any], prop: str, limit: int, *, required: bool, where: str) -> None:
    value = body.get(prop)
    if value is None:
        if required:
            raise ODataError(400, CODE_INVALID_ARGUMENT, f"{prop} is required on '{where}'.")
        return
    if not isinstance(value, str):
        raise ODataError(
            400, CODE_PAYLOAD, f"Cannot convert {value!r} to 'Edm.String' for {prop} on '{where}'."
        )
    if required and not value.strip():
        raise ODataError(400, CODE_INVALID_ARGUMENT, f"{prop} must not be empty on '{where}'.")
    length = dataverse_length(value)
    if length > limit:
        raise ODataError(
            400,
            CODE_VALIDATION,
            f"A validation error occurred. The length of the '{prop}' attribute of the '{where}' entity "
            f"exceeded the maximum allowed length of '{limit}' (got {length}).",
        )
