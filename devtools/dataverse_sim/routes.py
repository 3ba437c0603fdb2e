"""Which Dataverse operation a request is: one name per operation, used by faults, records and dispatch.

URL forms: entity sets and `set(<key>)` ("Retrieve a table row", retrieve-entity-using-web-api.md),
bound actions and functions as `set(<key>)/Microsoft.Dynamics.CRM.<Name>` and unbound functions as
`<Name>()` ("Use Web API actions" / "Use Web API functions", powerapps-docs .../webapi/).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from devtools.dataverse_sim.availability import ACTIONS as AVAILABILITY_ACTIONS
from devtools.dataverse_sim.odata import API_PREFIX, parse_key_segment

NAMESPACE = "Microsoft.Dynamics.CRM."
_CALL = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_.]*?)(?:\((?P<args>.*)\))?$")

# The one routing table: (method, entity set, with a key?) -> operation name.
ENTITY_ROUTES = {
    ("GET", "contacts", False): "contact_lookup",
    ("POST", "contacts", False): "create_contact",
    ("GET", "contacts", True): "get_contact",
    ("POST", "incidents", False): "create_incident",
    ("GET", "incidents", True): "get_incident",
    ("GET", "msdyn_ocliveworkitems", False): "list_work_items",
    ("POST", "msdyn_ocliveworkitems", False): "create_work_item",
    ("GET", "msdyn_ocliveworkitems", True): "get_work_item",
    ("PATCH", "msdyn_ocliveworkitems", True): "update_work_item",
    ("DELETE", "msdyn_ocliveworkitems", True): "delete_work_item",
    ("GET", "msdyn_liveworkstreams", True): "workstream_get",
    ("GET", "annotations", False): "list_notes",
    ("POST", "annotations", False): "create_note",
    ("PATCH", "annotations", True): "create_note",  # the upsert: If-None-Match: * makes it create-only
    ("GET", "annotations", True): "get_note",
    ("GET", "organizations", False): "organization_get",
}
PRIVILEGE_FUNCTIONS = ("RetrieveUserPrivileges", "RetrieveUserPrivilegeByPrivilegeName")
# Every operation name faults and records use (faults.OPERATIONS is built from it).
API_OPERATIONS = (
    *dict.fromkeys(ENTITY_ROUTES.values()), "add_to_queue", "whoami", "privileges",
    *AVAILABILITY_ACTIONS.values(), "other",
)  # fmt: skip
KNOWN_SETS = frozenset(
    {entity_set for _, entity_set, _ in ENTITY_ROUTES} | {"queues", "systemusers", "teams"}
)


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
    if (method, rest, False) in ENTITY_ROUTES:
        return Route(ENTITY_ROUTES[(method, rest, False)], rest)
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
        return Route(ENTITY_ROUTES.get((method, entity_set, True), "other"), entity_set, key)
    call = _CALL.match(tail)
    if call is None:
        return Route("other", entity_set, key)
    full_name, args = call.group("name"), call.group("args")
    name, namespaced = full_name.removeprefix(NAMESPACE), full_name.startswith(NAMESPACE)
    if method == "POST" and entity_set == "queues" and name == "AddToQueue" and args is None:
        return Route("add_to_queue", entity_set, key, name, namespaced)
    if method == "GET" and entity_set == "systemusers" and name in PRIVILEGE_FUNCTIONS:
        return Route("privileges", entity_set, key, name, namespaced, args)
    return Route("other", entity_set, key)


def classify(method: str, path: str) -> str:
    """The operation name of a request path (`other` outside the API prefix)."""
    if not path.startswith(API_PREFIX):
        return "other"
    return route(method, path[len(API_PREFIX) :]).operation
