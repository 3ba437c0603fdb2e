"""DataverseSimulator: the Python API tests and tools use to run, seed, fault and inspect the simulator,
and the `/_sim/` admin API, the same calls over HTTP for a simulator running in another process."""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NamedTuple

from werkzeug.datastructures import Headers

from devtools.dataverse_sim.api import ApiRequest, DataverseApi
from devtools.dataverse_sim.availability import AvailabilityDesk
from devtools.dataverse_sim.demo import seed_crowd, seed_demo
from devtools.dataverse_sim.odata import CODE_DUPLICATE, Reply, json_reply, no_content
from devtools.dataverse_sim.privileges import APP_USER_ID, BRIDGE_PRIVILEGES, normalise
from devtools.dataverse_sim.server import FaultRule, SimServer, route, unauthorized
from devtools.dataverse_sim.store import RouteTarget, Store
from devtools.simkit.admin import Route, common_routes, done
from devtools.simkit.identity import Identity, ServesIdentity
from devtools.simkit.lifecycle import Simulator
from devtools.simkit.server import Reply as AnyReply

DUPLICATE_CODE_DOCUMENTED = CODE_DUPLICATE  # "0x80040237", what a live environment sends
DUPLICATE_CODE_EMPTY = ""  # Microsoft's own 412 example (perform-conditional-operations-using-web-api.md)
_NUMBER_SETTINGS = frozenset({"latency", "max_concurrency", "token_lifetime", "concurrency_retry_after"})
_CONFIG_FIELDS = _NUMBER_SETTINGS | {"duplicate_code"}


class RequestRecord(NamedTuple):
    """One Dataverse API call as the simulator saw it. `status` 0 is a connection dropped before handling;
    for "drop_after_commit" it is the status that was committed but never sent."""

    method: str
    path: str
    query: dict[str, str]
    status: int
    operation: str
    duration_ms: float
    fault: str | None
    headers: dict[str, str]


def _rows(entity: str) -> Any:  # `sim.work_items` and the like: copies of every row of one table
    return property(lambda sim: sim._store.rows(entity))


def _row(entity: str) -> Callable[[DataverseSimulator, str], dict[str, Any] | None]:  # None when absent
    return lambda sim, row_id: sim._store.get(entity, row_id)


class DataverseSimulator(Simulator[RequestRecord, FaultRule], ServesIdentity):
    """A loopback Dataverse environment plus its managed-identity endpoint, in a daemon thread."""

    thread_name = "dataverse-sim"
    record_type = RequestRecord
    redacted_headers = frozenset({"authorization", "x-identity-header"})

    def __init__(
        self,
        token_lifetime: float = 3600.0,
        seed: int = 0,
        *,
        port: int | None = None,
        latency: float = 0.0,
        max_concurrency: int | None = None,
        concurrency_retry_after: float = 1.0,
        duplicate_code: str = DUPLICATE_CODE_DOCUMENTED,
    ) -> None:
        super().__init__(port=port, seed=seed)
        self.identity = Identity(token_lifetime, client_id="11111111-1111-1111-1111-111111111111")
        self.latency = latency
        self.max_concurrency = max_concurrency
        self.concurrency_retry_after = concurrency_retry_after
        self.duplicate_code = self._default_duplicate_code = duplicate_code
        self._store = Store(seed)
        self._api = DataverseApi(self._store, self)
        self._privileges: dict[str, dict[str, str]] = {APP_USER_ID: normalise(BRIDGE_PRIVILEGES)}
        self.incident_columns: frozenset[str] = frozenset()
        self._create_attempts = 0

    def make_server(self, address: tuple[str, int]) -> SimServer:
        return SimServer(address, self)

    def env(self) -> dict[str, str]:
        """Settings that point the bridge (and azure-identity) at this simulator."""
        values = (self.url, self.identity_endpoint, self.identity_header)
        return dict(zip(("DATAVERSE_URL", "IDENTITY_ENDPOINT", "IDENTITY_HEADER"), values, strict=True))

    def add_workstream(self, workstream_id: str | None = None, name: str = "SMS workstream") -> str:
        return self._store.add_named("msdyn_liveworkstream", workstream_id, name)

    def add_queue(self, queue_id: str | None = None, name: str = "Support queue") -> str:
        return self._store.add_named("queue", queue_id, name)

    def add_systemuser(self, user_id: str | None = None, fullname: str = "Support rep") -> str:
        return self._store.add_named("systemuser", user_id, fullname)

    def add_team(self, team_id: str | None = None, name: str = "Support team") -> str:
        return self._store.add_named("team", team_id, name)

    def add_contact(
        self,
        *,
        contactid: str | None = None,
        email: str | None = None,
        statecode: int = 0,
        **columns: str | None,
    ) -> str:
        """Insert (or replace) a contact; statecode 0 is Active, 1 Inactive. `columns`: mobilephone,
        telephone1, fullname, firstname, lastname, description."""
        return self._store.add_contact(contactid, {"emailaddress1": email, **columns}, statecode)

    def add_incident_columns(self, *names: str) -> None:
        """Custom incident columns this environment accepts on create (`new_source`, or a custom lookup's
        `new_x@odata.bind`); stock columns need no registering."""
        given: tuple[object, ...] = names  # admin JSON may carry anything
        if wrong := [name for name in given if not isinstance(name, str) or not name or name != name.lower()]:
            raise ValueError(f"column names are lower-case logical names, got {wrong[0]!r}")
        self.incident_columns = self.incident_columns | frozenset(names)

    def set_organization(
        self, *, maxuploadfilesize: int | None = None, blockedattachments: str | None = None
    ) -> dict[str, Any]:
        """The org's attachment settings: `maxuploadfilesize` (bytes of base64 text, 1 to 131,072,000) and
        `blockedattachments` (`"exe;js"`, "" for none); None leaves one as it is. Returns the row."""
        size: object = maxuploadfilesize  # admin JSON may carry anything
        if size is not None and not (type(size) is int and 0 < size <= 131_072_000):
            raise ValueError("maxuploadfilesize must be an integer from 1 to 131072000")
        if not isinstance(blockedattachments, str | None):
            raise ValueError("blockedattachments must be a string of extensions separated by ';'")
        changes = {"maxuploadfilesize": size, "blockedattachments": blockedattachments}
        with self._store.lock:
            self._store.organization.update({k: v for k, v in changes.items() if v is not None})
            return dict(self._store.organization)

    def set_state(
        self, entity: str, id: str, statecode: int, statuscode: int | None = None
    ) -> dict[str, Any]:
        """Change a row's state as a rep would ("the rep closed the first one"): entity is
        "msdyn_ocliveworkitem", "incident" or "contact"; statuscode defaults to the state's default."""
        return self._store.set_state(entity, id, statecode, statuscode)

    def close(self, entity: str, id: str) -> dict[str, Any]:
        """The closing state of each table: work item Closed (1), incident Resolved (1), contact Inactive (1)."""
        return self.set_state(entity, id, 1)

    def set_routing(self, enabled: bool, *, delay: float | None = None) -> None:
        """Unified routing on (work items on a routed workstream get picked up after `delay` s) or off."""
        with self._store.lock:
            self._store.routing.enabled = bool(enabled)
            if delay is not None:
                self._store.routing.delay = float(delay)

    def route_workstream(self, workstream_id: str, queue_id: str, agent_id: str | None = None) -> None:
        """Where routing sends this workstream's work items (a queue, and the rep who takes them)."""
        with self._store.lock:
            self._store.routing.targets[workstream_id.lower()] = RouteTarget(queue_id, agent_id)

    def set_streamsource(self, workstream_id: str, streamsource: int | None) -> None:
        """The workstream's channel (`msdyn_streamsource`), e.g. 192340000 SMS; None: unset."""
        with self._store.lock:
            self._store.routing.sources.pop(workstream_id.lower(), None)
            if streamsource is not None:
                self._store.routing.sources[workstream_id.lower()] = int(streamsource)

    @property
    def routing(self) -> dict[str, Any]:
        with self._store.lock:
            r = self._store.routing
            targets = {k: dict(v._asdict()) for k, v in r.targets.items()}
            return dict(enabled=r.enabled, delay=r.delay, workstreams=targets, streamsource=dict(r.sources))

    def privileges_of(self, user_id: str) -> dict[str, str]:
        """{privilege name: depth} the user holds (none for a user never configured)."""
        with self.lock:
            return dict(self._privileges.get(user_id, {}))

    def set_privileges(
        self, privileges: Iterable[str] | Mapping[str, str], user_id: str = APP_USER_ID
    ) -> None:
        """Replace the user's privileges: names (held at Global) or {name: depth}."""
        with self.lock:
            self._privileges[user_id] = normalise(privileges)

    def grant_privilege(self, name: str, depth: str = "Global", user_id: str = APP_USER_ID) -> None:
        with self.lock:
            self._privileges.setdefault(user_id, {}).update(normalise({name: depth}))

    def revoke_privilege(self, name: str, user_id: str = APP_USER_ID) -> None:
        with self.lock:
            self._privileges.get(user_id, {}).pop(name, None)

    @property
    def availability(self) -> AvailabilityDesk:
        return self._api.availability

    work_items = _rows("msdyn_ocliveworkitem")
    work_item = _row("msdyn_ocliveworkitem")
    incidents = _rows("incident")
    incident = _row("incident")
    contacts = _rows("contact")
    contact = _row("contact")
    notes = _rows("annotation")  # each with `object_id` (its incident), `filesize` and `documentbody`
    note = _row("annotation")
    queue_items = property(lambda sim: sim._store.all_queue_items())

    organization = property(lambda sim: sim.set_organization())  # a copy of the one organization row
    # POSTs of msdyn_ocliveworkitems seen (other creates: count_requests("create_incident"), ...)
    create_attempts = property(lambda sim: sim._create_attempts)
    token_queries = property(lambda sim: sim.identity.queries)
    peak_concurrency = property(lambda sim: sim._peak_inflight)  # what a client really ran in parallel

    def count_requests(self, operation: str, status: int | None = None) -> int:
        """Recorded calls of one operation (optionally with one status; 0 is a dropped connection)."""
        return self.count(operation, status=status)

    def stats(self) -> dict[str, Any]:
        """Counts per operation and status (status "0" is a dropped connection) and rows per table."""
        with self.lock:
            attempts, peak = self._create_attempts, self._peak_inflight
        counts = dict(token_requests=self.identity.requests, create_attempts=attempts, peak_concurrency=peak)
        return {**super().stats(), **counts, **self._store.counts()}

    def reset(self) -> None:
        """Empty tables, faults, counters and records, and restore the environment's shape (duplicate_code,
        privileges, custom incident columns, the organization's settings) to what the constructor set.
        Transport settings (latency, max_concurrency, token_lifetime), issued tokens and sim.errors stay."""
        self._store.clear()
        with self.lock:
            self.reset_records()
            self.identity.forget_requests()
            self._create_attempts = 0
            self._peak_inflight = self._inflight
            self._privileges = {APP_USER_ID: normalise(BRIDGE_PRIVILEGES)}
            self.incident_columns = frozenset()
            self.duplicate_code = self._default_duplicate_code
        self._api.availability.reset()

    def count_create_attempt(self) -> None:
        with self.lock:
            self._create_attempts += 1

    def check_bearer(self, authorization: str | None) -> None:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise unauthorized(self.url, "Bearer token is missing from the Authorization header.")
        if (expires := self.identity.expiry(authorization)) is None:
            raise unauthorized(self.url, "The bearer token is not one this environment issued.")
        if expires <= time.time():
            raise unauthorized(self.url, "The bearer token has expired.")

    def call_api(self, method: str, rest: str, query: dict[str, str], headers: Headers, body: bytes) -> Reply:
        """One authenticated Dataverse call. ODataError propagates to the server, which answers it."""
        return self._api.handle(ApiRequest(method, rest, route(method, rest), query, headers, body))

    def admin(self, method: str, name: str, data: Any) -> AnyReply:
        """`/_sim/<name>`; unknown routes are a 404 that lists the known ones. ValueError/TypeError: 400."""
        if (handler := _ADMIN.get((method, name))) is None:
            known = ", ".join(f"{m} /_sim/{n}" for m, n in _ADMIN)
            return _admin_error(404, f"unknown admin route; known: {known}")
        if not isinstance(data, dict):
            raise ValueError("the body must be a JSON object")
        return handler(self, data)


def _admin_error(status: int, message: str) -> Reply:
    return json_reply(status, {"error": {"code": "sim", "message": message}})


def _only(data: dict[str, Any], allowed: Iterable[str], what: str) -> dict[str, Any]:
    if unknown := sorted(set(data) - set(allowed)):
        raise ValueError(f"unknown {what} fields: {', '.join(unknown)}")
    return data


def _call(method: Callable[..., Any], status: int, answer: str | None = None) -> Route:
    """POST /_sim/<x>: the body's fields are `method`'s keyword arguments (and nothing else, unless it takes
    **columns); the answer is its result, as `{answer: result}` when named, and no body for a 204. A row
    that does not exist (KeyError) is a 404."""
    params = list(inspect.signature(method).parameters.values())[1:]  # after `self` (or `sim`)
    fields = None if any(p.kind is p.VAR_KEYWORD for p in params) else [p.name for p in params]

    def handle(sim: DataverseSimulator, data: dict[str, Any]) -> Reply:
        try:
            result = method(sim, **(data if fields is None else _only(data, fields, method.__name__)))
        except KeyError as missing:
            return _admin_error(404, str(missing.args[0]))
        return no_content() if status == 204 else json_reply(status, {answer: result} if answer else result)

    return handle


def _incident_columns(sim: DataverseSimulator, data: dict[str, Any]) -> Reply:
    columns = _only(data, {"columns"}, "incident-columns").get("columns")
    if not isinstance(columns, list):
        raise ValueError("columns must be a list of logical names")
    sim.add_incident_columns(*columns)
    return no_content()


def _set_privileges(sim: DataverseSimulator, data: dict[str, Any]) -> Reply:
    user_id = _only(data, {"privileges", "user_id"}, "privileges").get("user_id", APP_USER_ID)
    if not isinstance(privileges := data.get("privileges"), list | dict):
        raise ValueError("privileges must be a list of names or an object of name: depth")
    sim.set_privileges(privileges, user_id=user_id)
    return json_reply(200, {"user_id": user_id, "privileges": sim.privileges_of(user_id)})


def _set_config(sim: DataverseSimulator, data: dict[str, Any]) -> Reply:
    for name, value in _only(data, _CONFIG_FIELDS, "settings").items():
        if name == "duplicate_code" and not isinstance(value, str):
            raise ValueError(f"{name} must be a string ('' for the empty code)")
        nullable = name == "max_concurrency"
        if name in _NUMBER_SETTINGS and type(value) not in (int, float) and not (nullable and value is None):
            raise ValueError(f"{name} must be a number{' or null' if nullable else ''}")
        setattr(sim, name, value)
    return json_reply(200, {name: getattr(sim, name) for name in sorted(_CONFIG_FIELDS)})


def _routing(sim: DataverseSimulator, data: dict[str, Any]) -> Reply:
    """`{"enabled": bool, "delay": s, "workstreams": {id: {"queue_id", "agent_id"}}, "streamsource": {id: n}}`."""
    _only(data, {"enabled", "delay", "workstreams", "streamsource"}, "routing")
    for workstream_id, target in (data.get("workstreams") or {}).items():
        _only(target, {"queue_id", "agent_id"}, "routing workstream")
        sim.route_workstream(workstream_id, target["queue_id"], target.get("agent_id"))
    for workstream_id, source in (data.get("streamsource") or {}).items():
        sim.set_streamsource(workstream_id, source)
    if "enabled" in data or "delay" in data:
        sim.set_routing(bool(data.get("enabled", sim.routing["enabled"])), delay=data.get("delay"))
    return json_reply(200, sim.routing)


_ADMIN: dict[tuple[str, str], Route] = {
    **{key: handler for key, handler in common_routes(FaultRule).items() if key != ("GET", "files")},
    ("GET", "workitems"): lambda s, _: json_reply(200, {"value": s.work_items}),
    ("GET", "incidents"): lambda s, _: json_reply(200, {"value": s.incidents}),
    ("GET", "contacts"): lambda s, _: json_reply(200, {"value": s.contacts}),
    ("GET", "notes"): lambda s, _: json_reply(200, {"value": s.notes}),
    ("GET", "queueitems"): lambda s, _: json_reply(200, {"value": s.queue_items}),
    ("GET", "config"): lambda s, _: _set_config(s, {}),
    ("GET", "organization"): lambda s, _: json_reply(200, s.organization),
    ("GET", "privileges"): lambda s, _: json_reply(
        200, {"user_id": APP_USER_ID, "privileges": s.privileges_of(APP_USER_ID)}
    ),
    ("GET", "routing"): lambda s, _: json_reply(200, s.routing),
    ("POST", "contacts"): _call(DataverseSimulator.add_contact, 201, "contactid"),
    ("POST", "workstreams"): _call(DataverseSimulator.add_workstream, 201, "msdyn_liveworkstreamid"),
    ("POST", "queues"): _call(DataverseSimulator.add_queue, 201, "queueid"),
    ("POST", "systemusers"): _call(DataverseSimulator.add_systemuser, 201, "systemuserid"),
    ("POST", "teams"): _call(DataverseSimulator.add_team, 201, "teamid"),
    ("POST", "expire-tokens"): lambda s, _: done(s.expire_tokens()),
    ("POST", "config"): _set_config,
    ("POST", "state"): _call(DataverseSimulator.set_state, 200),
    ("POST", "close"): _call(DataverseSimulator.close, 200),
    ("POST", "incident-columns"): _incident_columns,
    ("POST", "organization"): _call(DataverseSimulator.set_organization, 200),
    ("POST", "privileges"): _set_privileges,
    ("POST", "grant-privilege"): _call(DataverseSimulator.grant_privilege, 204),
    ("POST", "revoke-privilege"): _call(DataverseSimulator.revoke_privilege, 204),
    ("POST", "seed-demo"): lambda s, _: json_reply(201, seed_demo(s)),
    ("POST", "crowd"): _call(seed_crowd, 201),
    ("POST", "routing"): _routing,
    ("GET", "availability"): lambda s, _: json_reply(200, s.availability.describe()),
    ("POST", "availability"): lambda s, d: json_reply(200, s.availability.configure(d)),
}
