"""Which Dataverse operation a request is: one name per operation, used by faults, records and dispatch;
and the fault rules, which name those operations and answer in Dataverse's error shape.

URL forms: entity sets and `set(<key>)` ("Retrieve a table row", retrieve-entity-using-web-api.md),
bound actions and functions as `set(<key>)/Microsoft.Dynamics.CRM.<Name>` and unbound functions as
`<Name>()` ("Use Web API actions" / "Use Web API functions", powerapps-docs .../webapi/).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import ClassVar

from devtools.dataverse_sim.availability import ACTIONS as AVAILABILITY_ACTIONS
from devtools.dataverse_sim.odata import (
    API_PREFIX,
    CODE_ARGUMENT,
    CODE_BAD_QUERY,
    CODE_NOT_FOUND,
    CODE_THROTTLE_REQUESTS,
    CODE_UNEXPECTED,
    parse_key_segment,
)
from devtools.simkit import faults as simkit_faults

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
# Every operation name faults and records use.
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


OPERATIONS = frozenset({simkit_faults.TOKEN_OPERATION, *API_OPERATIONS})  # what a fault rule may name

# status -> (code, message). Service protection limits (powerapps-docs .../data-platform/api-limits.md): 429.
_DEFAULTS = {
    400: (CODE_ARGUMENT, "Invalid argument (simulated fault)."),
    403: ("0x80040220", "Principal user is missing a privilege (simulated fault)."),
    404: (CODE_NOT_FOUND, "The record does not exist (simulated fault)."),
    405: (CODE_BAD_QUERY, "The method is not allowed (simulated fault)."),
    408: (CODE_UNEXPECTED, "The request timed out (simulated fault)."),
    429: (
        CODE_THROTTLE_REQUESTS,
        "Number of requests exceeded the limit of 6000 over time window of 300 seconds.",
    ),
    500: (CODE_UNEXPECTED, "An unexpected error occurred (simulated fault)."),
    502: (CODE_UNEXPECTED, "Bad gateway (simulated fault)."),
    503: (CODE_UNEXPECTED, "The service is temporarily unavailable (simulated fault)."),
    504: (CODE_UNEXPECTED, "The gateway timed out (simulated fault)."),
}


@dataclass
class FaultRule(simkit_faults.FaultRule):
    """simkit's fault rule, answered in Dataverse's error shape (`code`, `message`)."""

    OPERATIONS: ClassVar[frozenset[str] | None] = OPERATIONS

    code: str | None = field(default=None, kw_only=True)
    message: str | None = field(default=None, kw_only=True)

    @property
    def error_code(self) -> str:
        return self.code or _DEFAULTS.get(self.status, (CODE_UNEXPECTED, ""))[0]

    @property
    def error_message(self) -> str:
        return self.message or _DEFAULTS.get(self.status, ("", f"Simulated HTTP {self.status}."))[1]
