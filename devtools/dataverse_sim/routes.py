"""Which Dataverse operation a request is: one name per operation, used by faults, records and dispatch.

URL forms: entity sets and `set(<key>)` ("Retrieve a table row", retrieve-entity-using-web-api.md),
bound actions and functions as `set(<key>)/Microsoft.Dynamics.CRM.<Name>` and unbound functions as
`<Name>()` ("Use Web API actions" / "Use Web API functions", powerapps-docs .../webapi/).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from devtools.dataverse_sim import schema
from devtools.dataverse_sim.availability import ACTIONS as AVAILABILITY_ACTIONS
from devtools.dataverse_sim.odata import API_PREFIX, parse_key_segment

NAMESPACE = "Microsoft.Dynamics.CRM."
_CALL = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_.]*?)(?:\((?P<args>.*)\))?$")

# Every operation name faults and records use, in one place (faults.OPERATIONS is built from it).
API_OPERATIONS = (
    "contact_lookup",
    "workstream_get",
    "create_work_item",
    "create_incident",
    "create_contact",
    "get_work_item",
    "get_incident",
    "get_contact",
    "add_to_queue",
    "list_work_items",
    "update_work_item",
    "delete_work_item",
    "whoami",
    "privileges",
    "availability_before",
    "availability_for",
    "other",
)
CREATE_OPERATIONS = frozenset({"create_work_item", "create_incident", "create_contact"})
_COLLECTION_OPS = {
    ("GET", schema.CONTACT_SET): "contact_lookup",
    ("POST", schema.CONTACT_SET): "create_contact",
    ("POST", schema.INCIDENT_SET): "create_incident",
    ("POST", schema.WORK_ITEM_SET): "create_work_item",
    ("GET", schema.WORK_ITEM_SET): "list_work_items",
}
_ROW_WRITES = {
    ("PATCH", schema.WORK_ITEM_SET): "update_work_item",
    ("DELETE", schema.WORK_ITEM_SET): "delete_work_item",
}
_ROW_OPS = {
    schema.WORKSTREAM_SET: "workstream_get",
    schema.WORK_ITEM_SET: "get_work_item",
    schema.INCIDENT_SET: "get_incident",
    schema.CONTACT_SET: "get_contact",
}
PRIVILEGE_FUNCTIONS = ("RetrieveUserPrivileges", "RetrieveUserPrivilegeByPrivilegeName")


@dataclass(frozen=True)
class Route:
    """A parsed API path (below /api/data/v9.2/)."""

    operation: str
    entity_set: str = ""
    key: str = ""
    call: str = ""  # the bound action/function name without namespace
    namespaced: bool = True
    args: str | None = None  # text inside the function's parentheses, None when called without them


def route(method: str, rest: str) -> Route:
    if (method, rest) in _COLLECTION_OPS:
        return Route(_COLLECTION_OPS[(method, rest)], rest)
    if method == "POST" and rest in AVAILABILITY_ACTIONS:  # unbound actions (availability.py)
        return Route(AVAILABILITY_ACTIONS[rest], call=rest, namespaced=False)
    if method == "GET" and rest in ("WhoAmI", "WhoAmI()"):
        return Route("whoami", call="WhoAmI")
    head, _, tail = rest.partition("/")
    parts = parse_key_segment(head)
    if parts is None:
        return Route("other")
    entity_set, key = parts
    if not tail:
        if (method, entity_set) in _ROW_WRITES:
            return Route(_ROW_WRITES[(method, entity_set)], entity_set, key)
        operation = _ROW_OPS.get(entity_set) if method == "GET" else None
        return Route(operation or "other", entity_set, key)
    call = _CALL.match(tail)
    if call is None:
        return Route("other", entity_set, key)
    full_name = call.group("name")
    name = full_name.removeprefix(NAMESPACE)
    namespaced = full_name.startswith(NAMESPACE)
    args = call.group("args")
    if method == "POST" and entity_set == schema.QUEUE_SET and name == "AddToQueue" and args is None:
        return Route("add_to_queue", entity_set, key, name, namespaced)
    if method == "GET" and entity_set == schema.SYSTEMUSER_SET and name in PRIVILEGE_FUNCTIONS:
        return Route("privileges", entity_set, key, name, namespaced, args)
    return Route("other", entity_set, key)


def classify(method: str, path: str) -> str:
    """The operation name of a request path (`other` outside the API prefix)."""
    if not path.startswith(API_PREFIX):
        return "other"
    return route(method, path[len(API_PREFIX) :]).operation
