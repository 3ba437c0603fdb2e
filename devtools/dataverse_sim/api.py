"""The Dataverse operations: an admitted, authenticated request in, a Reply out. It knows the Web API's
shapes, and the tables only through schema.py; the simulator hands itself in as `settings`."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from werkzeug.datastructures import Headers

from devtools.dataverse_sim import schema
from devtools.dataverse_sim.availability import BEFORE, FOR_CONVERSATION, AvailabilityDesk
from devtools.dataverse_sim.odata import (
    API_PREFIX,
    CODE_ARGUMENT,
    CODE_NO_SEGMENT,
    CODE_PAYLOAD,
    CODE_UNRESOLVED,
    DUPLICATE_MESSAGE,
    ODataError,
    Reply,
    bad,
    check_query_options,
    json_reply,
    no_content,
    not_found,
    parse_filter,
    parse_guid,
    parse_select,
    parse_top,
    subject_prefix,
)
from devtools.dataverse_sim.privileges import APP_USER_ID, BUSINESS_UNIT_ID, ORGANIZATION_ID, role_privileges
from devtools.dataverse_sim.schema import New, check
from devtools.dataverse_sim.server import KNOWN_SETS, Route
from devtools.dataverse_sim.store import DuplicateKey, Store

ETAG = 'W/"1000"'
_PRIVILEGE_ARG = re.compile(
    r"^PrivilegeName=(?:'(?P<literal>(?:[^']|'')*)'|@(?P<alias>[A-Za-z_][A-Za-z0-9_]*))$"
)
_ADD_TO_QUEUE_PARAMS = frozenset({"Target", "SourceQueue", "QueueItemProperties"})
ORGANIZATION_COLUMNS = ("organizationid", "maxuploadfilesize", "blockedattachments")
_WORKSTREAM_COLUMNS = ("msdyn_liveworkstreamid", "msdyn_name", schema.STREAMSOURCE)
# "Use file data with Attachment and Note records" and "Files and images overview" (powerapps-docs).
TOO_BIG = bad("Attachment file size is too big.", "0x80044a02")
BLOCKED = bad(
    "The attachment is either not a valid type or is too large. It cannot be uploaded or downloaded.",
    "0x80043e09",
)


@dataclass(frozen=True)
class ApiRequest:
    method: str
    rest: str  # the path below /api/data/v9.2/
    route: Route
    query: dict[str, str]
    headers: Headers
    body: bytes

    @property
    def table(self) -> schema.Table:
        return schema.BY_SET[self.route.entity_set]


class DataverseApi:
    """Answers each operation named in routes.API_OPERATIONS."""

    def __init__(self, store: Store, settings: Any) -> None:
        self.store = store
        self.settings = settings  # the simulator: url, duplicate_code, incident_columns, privileges_of
        self.availability = AvailabilityDesk(
            lambda w: store.name_of("msdyn_liveworkstream", w) is not None,
            lambda c: store.get("msdyn_ocliveworkitem", c) is not None,
        )
        create, read = self.create, self.get_row
        self._handlers: dict[str, Callable[[ApiRequest], Reply]] = {
            "contact_lookup": self.list_rows, "list_notes": self.list_rows, "list_work_items": self.list_rows,
            "create_work_item": create, "create_incident": create, "create_contact": create,
            "create_note": lambda r: self.upsert(r) if r.method == "PATCH" else create(r),
            "get_work_item": read, "get_incident": read, "get_contact": read, "get_note": read,
            "workstream_get": self.get_workstream, "organization_get": self.get_organization,
            "update_work_item": self.update_work_item,
            "delete_work_item": self.delete_work_item,
            "add_to_queue": self.add_to_queue, "whoami": self.whoami, "privileges": self.retrieve_privileges,
            "availability_before": lambda r: self.availability.answer(BEFORE, r.body),
            "availability_for": lambda r: self.availability.answer(FOR_CONVERSATION, r.body),
        }  # fmt: skip

    base = property(lambda self: f"{self.settings.url}{API_PREFIX}")

    def handle(self, request: ApiRequest) -> Reply:
        return self._handlers.get(request.route.operation, self.unknown)(request)

    def unknown(self, request: ApiRequest) -> Reply:
        segment, _, tail = request.rest.partition("/")
        if tail:  # an operation bound to a row that the simulator does not implement
            raise bad(f"Resource not found for the segment '{tail}'.", CODE_NO_SEGMENT, 404)
        if segment.split("(")[0] in KNOWN_SETS:
            raise bad(f"The HTTP method '{request.method}' is not supported here.", status=405)
        raise bad(f"Resource not found for the segment '{segment or request.rest}'.", CODE_NO_SEGMENT, 404)

    def delete_work_item(self, request: ApiRequest) -> Reply:
        self.store.delete("msdyn_ocliveworkitem", _key(request.route.key))
        return no_content({})

    def list_rows(self, request: ApiRequest) -> Reply:
        """`GET contacts|annotations?$select&$top&$filter` ("Query data using the Web API"), and
        `GET msdyn_ocliveworkitems?$filter=startswith(subject,'...')`: how the go-live check finds the
        probe items an earlier run left behind (work items are listed only so)."""
        query, table = request.query, request.table
        check_query_options(query, {"$select", "$top", "$filter"})
        rows = [self.render(table, row) for row in self.store.rows(table.logical)]
        columns = parse_select(query, self.selectable(table, rows[0] if rows else None), table.logical)
        top = parse_top(query)
        if table is schema.WORK_ITEM:
            if "$filter" not in query:
                raise bad("The simulator lists work items only with a $filter.")
            prefix = subject_prefix(query["$filter"]).casefold()
            rows = [row for row in rows if str(row.get("subject") or "").casefold().startswith(prefix)]
        elif "$filter" in query:
            where = parse_filter(query["$filter"], table.filters, table.logical)
            rows = [row for row in rows if where.matches(row)]
        return self._collection(table.entity_set, columns, rows[:top] if top is not None else rows, table.key)

    def _collection(self, entity_set: str, columns: list[str], rows: list[dict[str, Any]], key: str) -> Reply:
        context = f"{self.base}$metadata#{entity_set}({','.join(columns)})"
        return json_reply(200, {"@odata.context": context, "value": [_entity(r, columns, key) for r in rows]})

    def get_workstream(self, request: ApiRequest) -> Reply:
        check_query_options(request.query, {"$select"})
        columns = parse_select(request.query, _WORKSTREAM_COLUMNS, "msdyn_liveworkstream")
        guid = _key(request.route.key)
        if (name := self.store.name_of("msdyn_liveworkstream", guid)) is None:
            raise not_found("msdyn_liveworkstream", guid)
        with self.store.lock:
            source = self.store.routing.sources.get(guid)
        row = dict(zip(_WORKSTREAM_COLUMNS, (guid, name, source), strict=True))
        context = f"{self.base}$metadata#{schema.WORKSTREAM_SET}({','.join(columns)})/$entity"
        return json_reply(200, {"@odata.context": context, **_entity(row, columns, "msdyn_liveworkstreamid")})

    def get_organization(self, request: ApiRequest) -> Reply:
        """`GET organizations?$select=maxuploadfilesize,blockedattachments`: the one organization row."""
        check_query_options(request.query, {"$select"})
        columns = parse_select(request.query, ORGANIZATION_COLUMNS, "organization")
        with self.store.lock:
            row = dict(self.store.organization)
        return self._collection("organizations", columns, [row], "organizationid")

    def get_row(self, request: ApiRequest) -> Reply:
        """`GET <set>(<id>)?$select=...` ("Retrieve a table row using the Web API"); a missing row is the
        404 `<entity> With Id = <id> Does Not Exist`."""
        check_query_options(request.query, {"$select"})
        table, guid = request.table, _key(request.route.key)
        if (row := self.store.get(table.logical, guid)) is None:
            raise not_found(table.logical, guid)
        return json_reply(200, self._as_entity(table, row, request.query))

    def create(self, request: ApiRequest) -> Reply:
        """`POST <set>`; a work item is a deep insert with its context items ("Create related table rows
        in one operation", create-entity-web-api.md)."""
        table = request.table
        new = check(table, self._json(request, table.logical), self.settings.url, self._custom(table))
        if table is schema.ANNOTATION:
            self._check_attachment(new.columns)
        return self._write(table, new, request, "create")

    def upsert(self, request: ApiRequest) -> Reply:
        """`PATCH annotations(<id>)` ("Upsert a table row", update-delete-entities-using-web-api.md):
        creates or updates; `If-None-Match: *` only creates (412 when the row exists, "Prevent update in
        upsert"), `If-Match: *` only updates (404 when it does not, "Prevent create in upsert")."""
        table, key = request.table, _key(request.route.key)
        data = self._json(request, table.logical)
        if isinstance(data, dict) and parse_guid(data.setdefault(table.key, key)) != key:
            raise bad(f"{table.key} in the body is not the row's key.", CODE_ARGUMENT)
        new = check(table, data, self.settings.url)
        self._check_attachment(new.columns)
        star = {name: request.headers.get(name, "").strip() == "*" for name in ("If-None-Match", "If-Match")}
        mode = "create" if star["If-None-Match"] else "update" if star["If-Match"] else "upsert"
        return self._write(table, new, request, mode)

    def _write(self, table: schema.Table, new: New, request: ApiRequest, mode: str) -> Reply:
        """The store's write, then 204 with OData-EntityId, or 201 with the row for `Prefer:
        return=representation` ("Create with data returned", create-entity-web-api.md). An existing key
        on create is 412 with the environment's duplicate code."""
        try:
            row = self.store.insert(table, new, mode)
        except DuplicateKey:
            raise ODataError(412, self.settings.duplicate_code, DUPLICATE_MESSAGE) from None
        headers = {"OData-EntityId": f"{self.base}{table.entity_set}({row[table.key]})"}
        if "return=representation" not in (request.headers.get("Prefer") or "").replace(" ", "").lower():
            return no_content(headers)
        headers["Preference-Applied"] = "return=representation"
        return json_reply(201, self._as_entity(table, row, request.query), headers)

    def _check_attachment(self, columns: dict[str, Any]) -> None:
        """The organization's blockedattachments and maxuploadfilesize (of the base64 text)."""
        name, body = columns.get("filename"), columns.get("documentbody")
        with self.store.lock:
            org = dict(self.store.organization)
        blocked = {part.strip().lower() for part in str(org["blockedattachments"] or "").split(";")}
        if isinstance(name, str) and "." in name and name.rsplit(".", 1)[1].lower() in blocked - {""}:
            raise BLOCKED
        if isinstance(body, str) and len(body) > org["maxuploadfilesize"]:
            raise TOO_BIG

    def update_work_item(self, request: ApiRequest) -> Reply:
        """PATCH of `statecode`/`statuscode` only (SetState through Update); 204 like Dataverse."""
        data = self._json(request, "msdyn_ocliveworkitem")
        if not isinstance(data, dict) or not data or set(data) - {"statecode", "statuscode"}:
            raise bad("The simulator updates only statecode and statuscode of a work item.", CODE_ARGUMENT)
        statecode, statuscode = data.get("statecode"), data.get("statuscode")
        if not isinstance(statecode, int) or not (statuscode is None or isinstance(statuscode, int)):
            raise bad("statecode and statuscode must be integers.", CODE_ARGUMENT)
        key = _key(request.route.key)
        if self.store.get("msdyn_ocliveworkitem", key) is None:
            raise not_found("msdyn_ocliveworkitem", key)
        try:
            self.store.set_state("msdyn_ocliveworkitem", key, statecode, statuscode)
        except ValueError as exc:
            raise bad(str(exc), CODE_ARGUMENT) from None
        return no_content({})

    def _json(self, request: ApiRequest, entity: str) -> Any:
        check_query_options(request.query, {"$select"})
        content_type = request.headers.get("Content-Type") or ""
        if content_type.split(";")[0].strip().lower() != "application/json":
            raise bad(f"Content-Type '{content_type}' is not supported.", status=415)
        try:
            return json.loads(request.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as error:
            detail = f"Error identified in Payload provided by the user for Entity '{entity}': {error}"
            raise bad(detail, CODE_PAYLOAD) from None

    def _custom(self, table: schema.Table) -> frozenset[str]:
        return self.settings.incident_columns if table is schema.INCIDENT else frozenset()

    def add_to_queue(self, request: ApiRequest) -> Reply:
        """`POST queues(<id>)/Microsoft.Dynamics.CRM.AddToQueue` with `{"Target": {<key>, "@odata.type"}}`
        answering `{"QueueItemId"}` ("Use Web API actions", use-web-api-actions.md)."""
        _require_namespace(request.route)
        data = self._json(request, "AddToQueue")
        if not isinstance(data, dict):
            raise bad("The AddToQueue parameters must be a JSON object.", CODE_PAYLOAD)
        if unknown := sorted(set(data) - _ADD_TO_QUEUE_PARAMS):
            raise bad(f"AddToQueue has no parameter named '{unknown[0]}'.")
        target = data.get("Target")
        if not isinstance(target, dict):
            raise bad("The Target parameter is required by AddToQueue.", CODE_ARGUMENT)
        odata_type = target.get("@odata.type")
        if odata_type is None:
            # Target is a crmbaseentity: without @odata.type the service cannot tell the key (the doc's error).
            raise bad("EdmEntityObject passed should have the key property value set.", CODE_ARGUMENT)
        if odata_type != "Microsoft.Dynamics.CRM.incident":
            raise bad(f"The simulator queues incidents only, got '{odata_type}'.")
        if (target_id := parse_guid(target.get("incidentid"))) is None:
            raise bad("Target.incidentid must be the incident's GUID.", CODE_ARGUMENT)
        item_id = self.store.add_to_queue(_key(request.route.key), target_id)
        context = f"{self.base}$metadata#Microsoft.Dynamics.CRM.AddToQueueResponse"
        return json_reply(200, {"@odata.context": context, "QueueItemId": item_id})

    def whoami(self, request: ApiRequest) -> Reply:
        check_query_options(request.query, set())
        context = f"{self.base}$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse"
        ids = {"BusinessUnitId": BUSINESS_UNIT_ID, "UserId": APP_USER_ID, "OrganizationId": ORGANIZATION_ID}
        return json_reply(200, {"@odata.context": context, **ids})

    def retrieve_privileges(self, request: ApiRequest) -> Reply:
        """`systemusers(<id>)/Microsoft.Dynamics.CRM.RetrieveUserPrivileges` and
        `.../RetrieveUserPrivilegeByPrivilegeName(PrivilegeName='prv...')` (or `=@p1` with `?@p1='prv...'`)."""
        route = request.route
        _require_namespace(route)
        check_query_options(request.query, set())
        user_id = _key(route.key)
        if self.store.name_of("systemuser", user_id) is None:
            raise not_found("systemuser", user_id)
        held = self.settings.privileges_of(user_id)
        if route.call == "RetrieveUserPrivileges":
            if route.args:
                raise bad("RetrieveUserPrivileges takes no parameters.")
            privileges = role_privileges(held)
        else:
            match = _PRIVILEGE_ARG.match((route.args or "").strip())
            if match is None:
                raise bad("RetrieveUserPrivilegeByPrivilegeName needs PrivilegeName='<name>' or =@alias.")
            name = match["literal"]
            if match["alias"] is not None:
                name = request.query.get(f"@{match['alias']}") or ""
                if len(name) < 2 or not (name.startswith("'") and name.endswith("'")):
                    raise bad(f"Parameter alias @{match['alias']} has no string value.")
                name = name[1:-1]
            privileges = role_privileges(held, only=name.replace("''", "'"))
        context = f"{self.base}$metadata#Microsoft.Dynamics.CRM.{route.call}Response"
        return json_reply(200, {"@odata.context": context, "RolePrivileges": privileges})

    def render(self, table: schema.Table, row: dict[str, Any]) -> dict[str, Any]:
        """A row as Dataverse shows it: the read columns, lookups as `_x_value`, and the written columns."""
        shaped = {column: row.get(column) for column in table.read}
        shaped.update({lookup: row.get(row_key) for lookup, row_key in table.lookups.items()})
        writable = set(table.columns) | self._custom(table)
        shaped.update({k: v for k, v in row.items() if k in writable and k not in shaped and "@" not in k})
        return shaped

    def selectable(self, table: schema.Table, shaped: dict[str, Any] | None) -> tuple[str, ...]:
        names = dict.fromkeys([*table.read, *table.lookups, *(shaped or ())])
        extra = {c for c in set(table.columns) | self._custom(table) if "@" not in c} - set(names)
        return (*names, *sorted(extra))

    def _as_entity(self, table: schema.Table, row: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
        shaped = self.render(table, row)
        selectable = self.selectable(table, shaped)
        columns = parse_select(query, selectable, table.logical) if "$select" in query else list(shaped)
        context = f"{self.base}$metadata#{table.entity_set}({','.join(columns)})/$entity"
        return {"@odata.context": context, **_entity(shaped, columns, table.key)}


def _entity(row: dict[str, Any], columns: list[str], key: str) -> dict[str, Any]:
    """One entity: its etag, the selected columns, and the primary key, which Dataverse always returns."""
    entity = {"@odata.etag": ETAG, **{column: row.get(column) for column in columns}}
    entity.setdefault(key, row.get(key))
    return entity


def _key(text: str) -> str:
    if (guid := parse_guid(text)) is None:
        raise bad(f"Unrecognized 'Edm.Guid' literal '{text}'.")
    return guid


def _require_namespace(route: Route) -> None:
    """Bound operations need their full name: "If you do not include the full name, you will get the
    following error: Status Code:400 Request message has unresolved parameters" (use-web-api-actions.md)."""
    if not route.namespaced:
        raise bad("Request message has unresolved parameters.", CODE_UNRESOLVED)
