"""The HTTP side: the identity endpoint, API calls forwarded to `server.sim` with faults and throttling
injected on the way, and the `/_sim/` admin API; it imports neither the simulator nor the API. Here too:
which Dataverse operation a request is (one name per operation, used by faults, records and dispatch),
and the fault rules that name them, answered in Dataverse's error shape.

URL forms: entity sets and `set(<key>)` ("Retrieve a table row", retrieve-entity-using-web-api.md),
bound actions and functions as `set(<key>)/Microsoft.Dynamics.CRM.<Name>` and unbound functions as
`<Name>()` ("Use Web API actions" / "Use Web API functions", powerapps-docs .../webapi/).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import ClassVar

from devtools.dataverse_sim.availability import ACTIONS as AVAILABILITY_ACTIONS
from devtools.dataverse_sim.odata import (
    API_PREFIX,
    CODE_ARGUMENT,
    CODE_BAD_QUERY,
    CODE_NO_SEGMENT,
    CODE_NOT_FOUND,
    CODE_PAYLOAD,
    CODE_THROTTLE_CONCURRENCY,
    CODE_THROTTLE_REQUESTS,
    CODE_UNAUTHORIZED,
    CODE_UNEXPECTED,
    ODataError,
    Reply,
    error_body,
    error_reply,
    json_reply,
    parse_key_segment,
)
from devtools.simkit import faults as simkit_faults
from devtools.simkit import server as simkit_server
from devtools.simkit.faults import seconds_header
from devtools.simkit.identity import TOKEN_PATH
from devtools.simkit.server import ADMIN_PREFIX, LoopbackServer

FAKE_TENANT = "00000000-0000-0000-0000-000000000000"
# A note's file travels as base64 inside the JSON body, up to the org's maxuploadfilesize (128 MB at most,
# "Use file data with Attachment and Note records"): the transport must not refuse it first.
MAX_API_BODY = 140 * 1024 * 1024


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
KNOWN_SETS = frozenset({name for _, name, _ in ENTITY_ROUTES} | {"queues", "systemusers", "teams"})


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
    if (parts := parse_key_segment(head)) is None:
        return Route("other")
    entity_set, key = parts
    if not tail:
        return Route(ENTITY_ROUTES.get((method, entity_set, True), "other"), entity_set, key)
    if (call := _CALL.match(tail)) is None:
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
    return route(method, path[len(API_PREFIX) :]).operation if path.startswith(API_PREFIX) else "other"


OPERATIONS = frozenset({simkit_faults.TOKEN_OPERATION, *API_OPERATIONS})  # what a fault rule may name

# status -> (code, message). Service protection limits (powerapps-docs .../data-platform/api-limits.md): 429.
_WINDOW = "time window of 300 seconds"
_DEFAULTS = {
    400: (CODE_ARGUMENT, "Invalid argument (simulated fault)."),
    403: ("0x80040220", "Principal user is missing a privilege (simulated fault)."),
    404: (CODE_NOT_FOUND, "The record does not exist (simulated fault)."),
    405: (CODE_BAD_QUERY, "The method is not allowed (simulated fault)."),
    408: (CODE_UNEXPECTED, "The request timed out (simulated fault)."),
    429: (CODE_THROTTLE_REQUESTS, f"Number of requests exceeded the limit of 6000 over {_WINDOW}."),
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

    def reply(self) -> Reply:
        return Reply(self.status, error_body(self.error_code, self.error_message), self.retry_after_headers())


class SimHandler(simkit_server.SimHandler):
    """Dataverse's routes and error shapes over simkit's transport (werkzeug, drops)."""

    server_version = "DataverseSimulator/1.0"
    too_large_message = f"Request body over {MAX_API_BODY} bytes."
    body: bytes = b""  # the current API request's body, read before any fault or check

    sim = property(lambda self: self.server.sim)  # the DataverseSimulator, which imports this module

    def route(self, path: str, query: dict[str, str]) -> None:
        if path == TOKEN_PATH:
            self.send(self.handle_token(query))
        elif path.startswith(ADMIN_PREFIX):
            name = path[len(ADMIN_PREFIX) :]
            self.send(self.admin_reply(lambda data: self.sim.admin(self.command, name, data)))
        else:
            self.handle_api(path, query)

    def read_raw_body(self) -> bytes:
        self.request.max_content_length = MAX_API_BODY
        return super().read_raw_body()

    def body_error_reply(self, status: int, message: str) -> Reply:
        return error_reply(ODataError(status, CODE_PAYLOAD, message))

    def crash_reply(self) -> Reply:
        return error_reply(ODataError(500, CODE_UNEXPECTED, "Simulator error; see sim.errors."))

    def admin_error(self, status: int, message: str) -> Reply:
        return json_reply(status, {"error": {"code": "sim", "message": message}})

    def entity_headers(self, reply: simkit_server.Reply) -> dict[str, str]:
        """No Content-Length on a 204; OData-Version on OData answers and on 204s, as Dataverse does."""
        headers: dict[str, str] = {}
        if reply.status != 204:
            if reply.content_type:
                headers["Content-Type"] = reply.content_type
            headers["Content-Length"] = str(len(reply.body))
        if (reply.content_type is not None and "odata" in reply.content_type) or reply.status == 204:
            headers["OData-Version"] = "4.0"
        return headers

    def handle_api(self, path: str, query: dict[str, str]) -> None:
        """Admission, fault, latency, auth, then the operation itself; every call is recorded."""
        sim, started = self.sim, time.perf_counter()
        operation = classify(self.command, path)
        if operation == "create_work_item":  # create_attempts counts work-item creates, as before
            sim.count_create_attempt()

        def record(status: int, fault: str | None) -> None:
            sim.add_call(self, started, status, fault, path=path, query=query, operation=operation)

        if (body := self.read_api_body(record)) is None:
            return
        self.body = body
        self.serve_api(
            choose_fault=lambda: sim.choose_fault(operation),
            handle=lambda: self.handle_admitted(path, query),
            fault_reply=FaultRule.reply,
            record=record,
            latency=sim.latency,
            limit=sim.max_concurrency,
            refused=self.throttled_reply,
        )

    def throttled_reply(self) -> Reply:
        retry_after = {"Retry-After": seconds_header(self.sim.concurrency_retry_after)}
        message = f"Number of concurrent requests exceeded the limit of {self.sim.max_concurrency}."
        return error_reply(ODataError(429, CODE_THROTTLE_CONCURRENCY, message, retry_after))

    def handle_admitted(self, path: str, query: dict[str, str]) -> Reply:
        try:
            if not path.startswith(API_PREFIX):
                raise ODataError(404, CODE_NO_SEGMENT, f"Resource not found for the segment '{path}'.")
            self.sim.check_bearer(self.headers.get("Authorization"))
            return self.sim.call_api(self.command, path[len(API_PREFIX) :], query, self.headers, self.body)
        except ODataError as error:
            return error_reply(error)

    def handle_token(self, query: dict[str, str]) -> simkit_server.Reply:
        """simkit's identity endpoint, for this environment's URL only."""
        url = self.sim.url

        def refusal(resource: str) -> str | None:
            return None if resource == url else f"Resource {resource!r} is not this environment ({url})."

        return self.sim.identity.answer(self, query, refusal, self.sim.choose_fault)


class SimServer(LoopbackServer):
    """simkit's loopback server (stop() cuts open connections), answering with the Dataverse handler."""

    handler_class = SimHandler


def unauthorized(base_url: str, message: str) -> ODataError:
    authorize = f"https://login.microsoftonline.com/{FAKE_TENANT}/oauth2/authorize"
    challenge = {"WWW-Authenticate": f"Bearer authorization_uri={authorize}, resource_id={base_url}/"}
    return ODataError(401, CODE_UNAUTHORIZED, message, challenge)
