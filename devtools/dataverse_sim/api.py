"""The Dataverse operations: an admitted, authenticated request in, a Reply out.

The HTTP plumbing (admission, faults, latency, bearer) lives in server.py; this module only knows the
Web API's shapes. It depends on the simulator through the small `ApiSettings` protocol, never on the
simulator module itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from devtools.dataverse_sim import schema
from devtools.dataverse_sim.availability import BEFORE, FOR_CONVERSATION, AvailabilityDesk
from devtools.dataverse_sim.odata import (
    API_PREFIX,
    CODE_BAD_QUERY,
    CODE_INVALID_ARGUMENT,
    CODE_NO_SEGMENT,
    CODE_PAYLOAD,
    CODE_UNRESOLVED,
    DUPLICATE_MESSAGE,
    ODataError,
    not_found,
    parse_guid,
)
from devtools.dataverse_sim.privileges import APP_USER_ID, BUSINESS_UNIT_ID, ORGANIZATION_ID, role_privileges
from devtools.dataverse_sim.query import check_query_options, parse_contact_filter, parse_select, parse_top
from devtools.dataverse_sim.replies import Reply, json_reply, no_content
from devtools.dataverse_sim.routes import Route
from devtools.dataverse_sim.routing import AGENT_LOOKUP, QUEUE_LOOKUP, STREAMSOURCE, subject_prefix
from devtools.dataverse_sim.store import DuplicateKey, Store
from devtools.dataverse_sim.validate import (
    parse_json_body,
    validate_contact,
    validate_incident,
    validate_work_item,
)

ETAG = 'W/"1000"'
_PRIVILEGE_ARG = re.compile(
    r"^PrivilegeName=(?:'(?P<literal>(?:[^']|'')*)'|@(?P<alias>[A-Za-z_][A-Za-z0-9_]*))$"
)
_KNOWN_SETS = (
    schema.CONTACT_SET,
    schema.WORK_ITEM_SET,
    schema.INCIDENT_SET,
    schema.QUEUE_SET,
    schema.SYSTEMUSER_SET,
    schema.TEAM_SET,
    schema.WORKSTREAM_SET,
)
_AddToQueueParams = frozenset({"Target", "SourceQueue", "QueueItemProperties"})


class ApiSettings(Protocol):
    """What the operations need from the simulator that runs them."""

    @property
    def url(self) -> str: ...

    @property
    def duplicate_code(self) -> str: ...

    @property
    def incident_columns(self) -> frozenset[str]: ...

    def privileges_of(self, user_id: str) -> dict[str, str]: ...


@dataclass(frozen=True)
class ApiRequest:
    method: str
    rest: str  # the path below /api/data/v9.2/
    route: Route
    query: dict[str, str]
    content_type: str
    prefer: str
    body: bytes


class DataverseApi:
    """Answers each operation named in routes.API_OPERATIONS."""

    def __init__(self, store: Store, settings: ApiSettings) -> None:
        self.store = store
        self.settings = settings
        self.availability = AvailabilityDesk(
            lambda w: store.workstream_name(w) is not None,
            lambda c: store.get(schema.WORK_ITEM, c) is not None,
        )
        self._handlers: dict[str, Callable[[ApiRequest], Reply]] = {
            "contact_lookup": self.lookup_contacts,
            "workstream_get": self.get_workstream,
            "create_work_item": self.create_work_item,
            "create_incident": self.create_incident,
            "create_contact": self.create_contact,
            "get_work_item": lambda r: self.get_row(schema.WORK_ITEM, r),
            "get_incident": lambda r: self.get_row(schema.INCIDENT, r),
            "get_contact": lambda r: self.get_row(schema.CONTACT, r),
            "add_to_queue": self.add_to_queue,
            "list_work_items": self.list_work_items,
            "update_work_item": self.update_work_item,
            "delete_work_item": self.delete_work_item,
            "whoami": self.whoami,
            "privileges": self.retrieve_privileges,
            "availability_before": lambda r: self.availability.answer(BEFORE, r.body),
            "availability_for": lambda r: self.availability.answer(FOR_CONVERSATION, r.body),
        }

    @property
    def base(self) -> str:
        return f"{self.settings.url}{API_PREFIX}"

    def handle(self, request: ApiRequest) -> Reply:
        handler = self._handlers.get(request.route.operation)
        if handler is None:
            return self.unknown(request)
        return handler(request)

    def unknown(self, request: ApiRequest) -> Reply:
        segment, _, tail = request.rest.partition("/")
        if tail:  # an operation bound to a row that the simulator does not implement
            raise ODataError(404, CODE_NO_SEGMENT, f"Resource not found for the segment '{tail}'.")
        if any(segment == name or segment.startswith(f"{name}(") for name in _KNOWN_SETS):
            raise ODataError(
                405, CODE_BAD_QUERY, f"The HTTP method '{request.method}' is not supported here."
            )
        raise ODataError(
            404, CODE_NO_SEGMENT, f"Resource not found for the segment '{segment or request.rest}'."
        )

    # ------------------------------------------------------------ reads

    def lookup_contacts(self, request: ApiRequest) -> Reply:
        """`GET contacts?$select&$top&$filter` ("Query data using the Web API")."""
        query = request.query
        check_query_options(query, {"$select", "$top", "$filter"})
        columns = parse_select(query, schema.CONTACT_COLUMNS, schema.CONTACT)
        top = parse_top(query)
        where = parse_contact_filter(query["$filter"]) if "$filter" in query else None
        rows = self.store.find_contacts(where, top)
        value = [self._entity(row, columns, "contactid") for row in rows]
        context = f"{self.base}$metadata#{schema.CONTACT_SET}({','.join(columns)})"
        return json_reply(200, {"@odata.context": context, "value": value})

    def get_workstream(self, request: ApiRequest) -> Reply:
        check_query_options(request.query, {"$select"})
        columns = parse_select(
            request.query, ("msdyn_liveworkstreamid", "msdyn_name", STREAMSOURCE), schema.WORKSTREAM
        )
        guid = _key(request.route.key)
        name = self.store.workstream_name(guid)
        if name is None:
            raise not_found(schema.WORKSTREAM, guid)
        with self.store.lock:
            source = self.store.routing.sources.get(guid)
        row = {"msdyn_liveworkstreamid": guid, "msdyn_name": name, STREAMSOURCE: source}
        context = f"{self.base}$metadata#{schema.WORKSTREAM_SET}({','.join(columns)})/$entity"
        return json_reply(
            200, {"@odata.context": context, **self._entity(row, columns, "msdyn_liveworkstreamid")}
        )

    def get_row(self, entity: str, request: ApiRequest) -> Reply:
        """`GET <set>(<id>)?$select=...` ("Retrieve a table row using the Web API"); a missing row is the
        404 `<entity> With Id = <id> Does Not Exist`."""
        check_query_options(request.query, {"$select"})
        guid = _key(request.route.key)
        row = (
            self.store.routed_work_item(guid) if entity == schema.WORK_ITEM else self.store.get(entity, guid)
        )
        if row is None:
            raise not_found(entity, guid)
        return json_reply(200, self._representation(entity, row, request.query))

    # ------------------------------------------------------------ creates

    def create_work_item(self, request: ApiRequest) -> Reply:
        """Deep insert of the work item with its context items ("Create related table rows in one
        operation", create-entity-web-api.md)."""
        new = validate_work_item(self._json(request, schema.WORK_ITEM), self.settings.url)
        reply = self._created(schema.WORK_ITEM, lambda: self.store.commit_work_item(new), request)
        self.store.note_work_item_created(new.activityid)
        return reply

    # ------------------------------------------------------------ work items: list, close, delete (routing.py)

    def list_work_items(self, request: ApiRequest) -> Reply:
        """`GET msdyn_ocliveworkitems?$filter=startswith(subject,'...')&$select&$top`: how the go-live
        check finds the probe items an earlier run left behind."""
        query = request.query
        check_query_options(query, {"$select", "$top", "$filter"})
        if "$filter" not in query:
            raise ODataError(400, CODE_BAD_QUERY, "The simulator lists work items only with a $filter.")
        rows = self.store.work_items_with_subject_prefix(subject_prefix(query["$filter"]), parse_top(query))
        shaped = [{**row, **_render_work_item(row)} for row in rows]
        allowed = tuple(_render_work_item({}))
        columns = parse_select(query, allowed, schema.WORK_ITEM) if "$select" in query else list(allowed)
        value = [self._entity(row, columns, "activityid") for row in shaped]
        context = f"{self.base}$metadata#{schema.WORK_ITEM_SET}({','.join(columns)})"
        return json_reply(200, {"@odata.context": context, "value": value})

    def update_work_item(self, request: ApiRequest) -> Reply:
        """PATCH of `statecode`/`statuscode` only (SetState through Update); 204 like Dataverse."""
        _require_json(request.content_type)
        data = parse_json_body(request.body, schema.WORK_ITEM)
        if not isinstance(data, dict) or not data or set(data) - {"statecode", "statuscode"}:
            raise ODataError(
                400,
                CODE_INVALID_ARGUMENT,
                "The simulator updates only statecode and statuscode of a work item.",
            )
        statecode, statuscode = data.get("statecode"), data.get("statuscode")
        if not isinstance(statecode, int) or not (statuscode is None or isinstance(statuscode, int)):
            raise ODataError(400, CODE_INVALID_ARGUMENT, "statecode and statuscode must be integers.")
        try:
            self.store.update_work_item_state(_key(request.route.key), statecode, statuscode)
        except ValueError as exc:
            raise ODataError(400, CODE_INVALID_ARGUMENT, str(exc)) from None
        return no_content({})

    def delete_work_item(self, request: ApiRequest) -> Reply:
        self.store.delete_work_item(_key(request.route.key))
        return no_content({})

    def create_incident(self, request: ApiRequest) -> Reply:
        new = validate_incident(
            self._json(request, schema.INCIDENT), self.settings.url, self.settings.incident_columns
        )
        return self._created(schema.INCIDENT, lambda: self.store.commit_incident(new), request)

    def create_contact(self, request: ApiRequest) -> Reply:
        new = validate_contact(self._json(request, schema.CONTACT))
        return self._created(schema.CONTACT, lambda: self.store.commit_contact(new), request)

    def _json(self, request: ApiRequest, entity: str) -> Any:
        check_query_options(request.query, {"$select"})
        _require_json(request.content_type)
        return parse_json_body(request.body, entity)

    def _created(self, entity: str, commit: Callable[[], dict[str, Any]], request: ApiRequest) -> Reply:
        """204 with OData-EntityId, or 201 with the row for `Prefer: return=representation` ("Create with
        data returned", create-entity-web-api.md). An existing key is 412 with the configured code."""
        try:
            row = commit()
        except DuplicateKey:
            raise ODataError(412, self.settings.duplicate_code, DUPLICATE_MESSAGE) from None
        entity_set, key = _SETS[entity]
        headers = {"OData-EntityId": f"{self.base}{entity_set}({row[key]})"}
        if "return=representation" not in request.prefer.replace(" ", "").lower():
            return no_content(headers)
        headers["Preference-Applied"] = "return=representation"
        return json_reply(201, self._representation(entity, row, request.query), headers)

    # ------------------------------------------------------------ actions and functions

    def add_to_queue(self, request: ApiRequest) -> Reply:
        """`POST queues(<id>)/Microsoft.Dynamics.CRM.AddToQueue` with `{"Target": {<key>, "@odata.type"}}`
        answering `{"QueueItemId"}` ("Use Web API actions", use-web-api-actions.md)."""
        _require_namespace(request.route)
        data = self._json(request, "AddToQueue")
        if not isinstance(data, dict):
            raise ODataError(400, CODE_PAYLOAD, "The AddToQueue parameters must be a JSON object.")
        unknown = sorted(set(data) - _AddToQueueParams)
        if unknown:
            raise ODataError(400, CODE_BAD_QUERY, f"AddToQueue has no parameter named '{unknown[0]}'.")
        target = data.get("Target")
        if not isinstance(target, dict):
            raise ODataError(400, CODE_INVALID_ARGUMENT, "The Target parameter is required by AddToQueue.")
        odata_type = target.get("@odata.type")
        if odata_type is None:
            # Target is a crmbaseentity: without @odata.type the service cannot tell the key (the doc's error).
            raise ODataError(
                400, CODE_INVALID_ARGUMENT, "EdmEntityObject passed should have the key property value set."
            )
        if odata_type != "Microsoft.Dynamics.CRM.incident":
            raise ODataError(400, CODE_BAD_QUERY, f"The simulator queues incidents only, got '{odata_type}'.")
        target_id = (
            parse_guid(target.get("incidentid")) if isinstance(target.get("incidentid"), str) else None
        )
        if target_id is None:
            raise ODataError(400, CODE_INVALID_ARGUMENT, "Target.incidentid must be the incident's GUID.")
        item_id, _ = self.store.add_to_queue(_key(request.route.key), schema.INCIDENT, target_id)
        context = f"{self.base}$metadata#Microsoft.Dynamics.CRM.AddToQueueResponse"
        return json_reply(200, {"@odata.context": context, "QueueItemId": item_id})

    def whoami(self, request: ApiRequest) -> Reply:
        check_query_options(request.query, set())
        return json_reply(
            200,
            {
                "@odata.context": f"{self.base}$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse",
                "BusinessUnitId": BUSINESS_UNIT_ID,
                "UserId": APP_USER_ID,
                "OrganizationId": ORGANIZATION_ID,
            },
        )

    def retrieve_privileges(self, request: ApiRequest) -> Reply:
        """`systemusers(<id>)/Microsoft.Dynamics.CRM.RetrieveUserPrivileges` and
        `.../RetrieveUserPrivilegeByPrivilegeName(PrivilegeName='prv...')` (or `=@p1` with `?@p1='prv...'`)."""
        route = request.route
        _require_namespace(route)
        check_query_options(request.query, set())
        user_id = _key(route.key)
        if not self.store.has_systemuser(user_id):
            raise not_found(schema.SYSTEMUSER, user_id)
        held = self.settings.privileges_of(user_id)
        if route.call == "RetrieveUserPrivileges":
            if route.args:
                raise ODataError(400, CODE_BAD_QUERY, "RetrieveUserPrivileges takes no parameters.")
            privileges = role_privileges(held)
        else:
            privileges = role_privileges(held, only=_privilege_name(route.args, request.query))
        context = f"{self.base}$metadata#Microsoft.Dynamics.CRM.{route.call}Response"
        return json_reply(200, {"@odata.context": context, "RolePrivileges": privileges})

    # ------------------------------------------------------------ rendering

    def _representation(self, entity: str, row: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
        entity_set, key = _SETS[entity]
        shaped = _RENDER[entity](row)
        allowed = tuple(shaped) + tuple(sorted(self._selectable_extras(entity) - set(shaped)))
        columns = parse_select(query, allowed, entity) if "$select" in query else list(shaped)
        context = f"{self.base}$metadata#{entity_set}({','.join(columns)})/$entity"
        return {"@odata.context": context, **self._entity({**row, **shaped}, columns, key)}

    def _selectable_extras(self, entity: str) -> set[str]:
        if entity != schema.INCIDENT:
            return set()
        return set(schema.INCIDENT_SCALAR_COLUMNS) | {
            c for c in self.settings.incident_columns if "@" not in c
        }

    @staticmethod
    def _entity(row: dict[str, Any], columns: list[str], key: str) -> dict[str, Any]:
        """One entity: its etag, the selected columns, and the primary key, which Dataverse always returns."""
        entity = {"@odata.etag": ETAG, **{column: row.get(column) for column in columns}}
        entity.setdefault(key, row.get(key))
        return entity


def _render_work_item(row: dict[str, Any]) -> dict[str, Any]:
    shaped = {column: row.get(column) for column in schema.WORK_ITEM_COLUMNS}
    shaped["_msdyn_liveworkstreamid_value"] = row.get("workstream_id")
    shaped["_msdyn_customer_value"] = row.get("contact_id")
    shaped[QUEUE_LOOKUP] = row.get("queue_id")
    shaped[AGENT_LOOKUP] = row.get("agent_id")
    return shaped


def _render_incident(row: dict[str, Any]) -> dict[str, Any]:
    shaped = {column: row.get(column) for column in schema.INCIDENT_COLUMNS}
    shaped["_customerid_value"] = row.get("contact_id")
    shaped["_ownerid_value"] = row.get("owner_id")
    shaped["_primarycontactid_value"] = row.get("primary_contact_id")
    extras = {k: v for k, v in row.items() if k not in shaped and k not in _SIM_ONLY and "@" not in k}
    return {**shaped, **extras}


def _render_contact(row: dict[str, Any]) -> dict[str, Any]:
    return {column: row.get(column) for column in schema.CONTACT_COLUMNS}


_RENDER: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    schema.WORK_ITEM: _render_work_item,
    schema.INCIDENT: _render_incident,
    schema.CONTACT: _render_contact,
}
_SETS = {
    schema.WORK_ITEM: (schema.WORK_ITEM_SET, "activityid"),
    schema.INCIDENT: (schema.INCIDENT_SET, "incidentid"),
    schema.CONTACT: (schema.CONTACT_SET, "contactid"),
}
_SIM_ONLY = frozenset(
    {
        "context_items", "workstream_id", "contact_id", "primary_contact_id", "owner_id", "owner_type",
        "routed", "queue_id", "agent_id",
    }
)  # fmt: skip


def _key(text: str) -> str:
    guid = parse_guid(text)
    if guid is None:
        raise ODataError(400, CODE_BAD_QUERY, f"Unrecognized 'Edm.Guid' literal '{text}'.")
    return guid


def _require_json(content_type: str) -> None:
    if content_type.split(";")[0].strip().lower() != "application/json":
        raise ODataError(415, CODE_BAD_QUERY, f"Content-Type '{content_type}' is not supported.")


def _require_namespace(route: Route) -> None:
    """Bound operations need their full name: "If you do not include the full name, you will get the
    following error: Status Code:400 Request message has unresolved parameters" (use-web-api-actions.md)."""
    if not route.namespaced:
        raise ODataError(400, CODE_UNRESOLVED, "Request message has unresolved parameters.")


def _privilege_name(args: str | None, query: dict[str, str]) -> str:
    match = _PRIVILEGE_ARG.match((args or "").strip())
    if match is None:
        raise ODataError(
            400,
            CODE_BAD_QUERY,
            "RetrieveUserPrivilegeByPrivilegeName needs PrivilegeName='<name>' or =@alias.",
        )
    if match.group("alias") is None:
        return match.group("literal").replace("''", "'")
    alias = query.get(f"@{match.group('alias')}")
    if alias is None or len(alias) < 2 or not (alias.startswith("'") and alias.endswith("'")):
        raise ODataError(400, CODE_BAD_QUERY, f"Parameter alias @{match.group('alias')} has no string value.")
    return alias[1:-1].replace("''", "'")
