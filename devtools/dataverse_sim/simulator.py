"""DataverseSimulator: the Python API tests and tools use to run, seed, fault and inspect the simulator."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from werkzeug.datastructures import Headers

from devtools.dataverse_sim import schema
from devtools.dataverse_sim.admin import admin_route
from devtools.dataverse_sim.api import ApiRequest, DataverseApi
from devtools.dataverse_sim.availability import AvailabilityDesk
from devtools.dataverse_sim.faults import FaultRule
from devtools.dataverse_sim.odata import CODE_DUPLICATE
from devtools.dataverse_sim.privileges import APP_USER_ID, BRIDGE_PRIVILEGES, normalise
from devtools.dataverse_sim.replies import Reply
from devtools.dataverse_sim.routes import route
from devtools.dataverse_sim.server import SimServer, unauthorized
from devtools.dataverse_sim.store import Store
from devtools.simkit.identity import Identity, ServesIdentity
from devtools.simkit.lifecycle import Simulator, elapsed_ms, per_operation, redact

DUPLICATE_CODE_DOCUMENTED = CODE_DUPLICATE  # "0x80040237", what a live environment sends
DUPLICATE_CODE_EMPTY = ""  # Microsoft's own 412 example (perform-conditional-operations-using-web-api.md)
_REDACTED_HEADERS = frozenset({"authorization", "x-identity-header"})


class RequestRecord(NamedTuple):
    """One Dataverse API call as the simulator saw it.

    `status` is 0 when the connection was dropped before handling; for "drop_after_commit" it is the
    status that was committed but never sent. `fault` names the fault kind that fired, if any.
    """

    method: str
    path: str
    query: dict[str, str]
    status: int
    operation: str
    duration_ms: float
    fault: str | None
    headers: dict[str, str]


class DataverseSimulator(Simulator[RequestRecord, FaultRule], ServesIdentity):
    """A loopback Dataverse environment plus its managed-identity endpoint, in a daemon thread."""

    thread_name = "dataverse-sim"

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
        self.duplicate_code = duplicate_code
        self._default_duplicate_code = duplicate_code
        self._store = Store(seed)
        self._api = DataverseApi(self._store, self)
        self._privileges: dict[str, dict[str, str]] = {APP_USER_ID: normalise(BRIDGE_PRIVILEGES)}
        self._incident_columns: frozenset[str] = frozenset()
        self._create_attempts = 0

    # ------------------------------------------------------------------ lifecycle

    def make_server(self, address: tuple[str, int]) -> SimServer:
        return SimServer(address, self)

    def env(self) -> dict[str, str]:
        """Settings that point the bridge (and azure-identity) at this simulator."""
        return {
            "DATAVERSE_URL": self.url,
            "IDENTITY_ENDPOINT": self.identity_endpoint,
            "IDENTITY_HEADER": self.identity_header,
        }

    # ------------------------------------------------------------------ seeding

    def add_workstream(self, workstream_id: str | None = None, name: str = "SMS workstream") -> str:
        return self._store.add_workstream(workstream_id, name)

    # ------------------------------------------------------------------ routing (routing.py)

    def set_routing(self, enabled: bool, *, delay: float | None = None) -> None:
        """Unified routing on (work items on a routed workstream get picked up after `delay` s) or off."""
        with self._store.lock:
            self._store.routing.enabled = bool(enabled)
            if delay is not None:
                self._store.routing.delay = float(delay)

    def route_workstream(self, workstream_id: str, queue_id: str, agent_id: str | None = None) -> None:
        """Where routing sends this workstream's work items (a queue, and the rep who takes them)."""
        from devtools.dataverse_sim.routing import RouteTarget

        with self._store.lock:
            self._store.routing.targets[workstream_id.lower()] = RouteTarget(queue_id, agent_id)

    def set_streamsource(self, workstream_id: str, streamsource: int | None) -> None:
        """The workstream's channel (`msdyn_streamsource`), e.g. 192340000 SMS; None: unset."""
        with self._store.lock:
            if streamsource is None:
                self._store.routing.sources.pop(workstream_id.lower(), None)
            else:
                self._store.routing.sources[workstream_id.lower()] = int(streamsource)

    @property
    def routing(self) -> dict[str, Any]:
        with self._store.lock:
            r = self._store.routing
            return {
                "enabled": r.enabled,
                "delay": r.delay,
                "workstreams": {
                    k: {"queue_id": v.queue_id, "agent_id": v.agent_id} for k, v in r.targets.items()
                },
                "streamsource": dict(r.sources),
            }

    def add_contact(
        self,
        *,
        email: str | None = None,
        mobilephone: str | None = None,
        telephone1: str | None = None,
        fullname: str | None = None,
        contactid: str | None = None,
        firstname: str | None = None,
        lastname: str | None = None,
        description: str | None = None,
        statecode: int = 0,
    ) -> str:
        """Insert (or replace) a contact; statecode 0 is Active, 1 Inactive."""
        fields = {
            "emailaddress1": email,
            "mobilephone": mobilephone,
            "telephone1": telephone1,
            "fullname": fullname,
            "firstname": firstname,
            "lastname": lastname,
            "description": description,
        }
        return self._store.add_contact(contactid, fields, statecode)

    def add_queue(self, queue_id: str | None = None, name: str = "Support queue") -> str:
        return self._store.add_queue(queue_id, name)

    def add_systemuser(self, user_id: str | None = None, fullname: str = "Support rep") -> str:
        return self._store.add_systemuser(user_id, fullname)

    def add_team(self, team_id: str | None = None, name: str = "Support team") -> str:
        return self._store.add_team(team_id, name)

    def add_incident_columns(self, *names: str) -> None:
        """Custom incident columns this environment accepts on create (`new_source`, or a custom lookup's
        `new_x@odata.bind`); stock columns need no registering."""
        given: tuple[object, ...] = names  # admin JSON may carry anything
        for name in given:
            if not isinstance(name, str) or not name or name != name.lower():
                raise ValueError(f"column names are lower-case logical names, got {name!r}")
        self._incident_columns = self._incident_columns | frozenset(names)

    @property
    def incident_columns(self) -> frozenset[str]:
        return self._incident_columns

    def set_state(
        self, entity: str, row_id: str, statecode: int, statuscode: int | None = None
    ) -> dict[str, Any]:
        """Change a row's state as a rep would ("the rep closed the first one"): entity is
        "msdyn_ocliveworkitem", "incident" or "contact"; statuscode defaults to the state's default."""
        return self._store.set_state(entity, row_id, statecode, statuscode)

    def close(self, entity: str, row_id: str) -> dict[str, Any]:
        """Shorthand for the closing state of each table: work item Closed (1), incident Resolved (1),
        contact Inactive (1)."""
        return self.set_state(entity, row_id, 1)

    # ------------------------------------------------------------------ privileges

    def privileges_of(self, user_id: str) -> dict[str, str]:
        """{privilege name: depth} the user holds (none for a user never configured)."""
        with self.lock:
            return dict(self._privileges.get(user_id, {}))

    def set_privileges(
        self, privileges: Iterable[str] | Mapping[str, str], user_id: str = APP_USER_ID
    ) -> None:
        """Replace the user's privileges: names (held at Global) or {name: depth}."""
        held = normalise(privileges)
        with self.lock:
            self._privileges[user_id] = held

    def grant_privilege(self, name: str, depth: str = "Global", user_id: str = APP_USER_ID) -> None:
        held = normalise({name: depth})
        with self.lock:
            self._privileges.setdefault(user_id, {}).update(held)

    def revoke_privilege(self, name: str, user_id: str = APP_USER_ID) -> None:
        with self.lock:
            self._privileges.get(user_id, {}).pop(name, None)

    # ------------------------------------------------------------------ inspection

    @property
    def availability(self) -> AvailabilityDesk:
        """The representative availability script (availability.py)."""
        return self._api.availability

    @property
    def work_items(self) -> list[dict[str, Any]]:
        return self._store.rows(schema.WORK_ITEM)

    def work_item(self, activityid: str) -> dict[str, Any] | None:
        return self._store.get(schema.WORK_ITEM, activityid)

    @property
    def incidents(self) -> list[dict[str, Any]]:
        return self._store.rows(schema.INCIDENT)

    def incident(self, incidentid: str) -> dict[str, Any] | None:
        return self._store.get(schema.INCIDENT, incidentid)

    @property
    def contacts(self) -> list[dict[str, Any]]:
        return self._store.rows(schema.CONTACT)

    def contact(self, contactid: str) -> dict[str, Any] | None:
        return self._store.get(schema.CONTACT, contactid)

    @property
    def queue_items(self) -> list[dict[str, Any]]:
        return self._store.all_queue_items()

    @property
    def create_attempts(self) -> int:
        """POSTs of msdyn_ocliveworkitems seen (other creates: count_requests("create_incident"), ...)."""
        with self.lock:
            return self._create_attempts

    @property
    def token_queries(self) -> list[dict[str, str]]:
        return self.identity.queries

    def count_requests(self, operation: str, status: int | None = None) -> int:
        """Recorded calls of one operation (optionally with one status; 0 is a dropped connection)."""
        with self.lock:
            return sum(
                1
                for record in self._records
                if record.operation == operation and (status is None or record.status == status)
            )

    @property
    def peak_concurrency(self) -> int:
        """Most Dataverse API requests admitted at once: shows what a client really ran in parallel."""
        with self.lock:
            return self._peak_inflight

    def stats(self) -> dict[str, Any]:
        """Counts per operation and status (status "0" is a dropped connection) and rows per table."""
        with self.lock:
            records = list(self._records)
            stats: dict[str, Any] = {
                "token_requests": self.identity.requests,
                "create_attempts": self._create_attempts,
                "peak_concurrency": self._peak_inflight,
                "faults_fired": self.faults_fired(),
            }
        stats["requests"] = len(records)
        stats.update(self._store.counts())
        stats["operations"] = per_operation(records)
        return stats

    # ------------------------------------------------------------------ faults and tokens

    def reset(self) -> None:
        """Empty tables, faults, counters and records, and restore the environment's shape (duplicate_code,
        privileges, custom incident columns) to what the constructor set. Transport settings (latency,
        max_concurrency, token_lifetime), issued tokens and sim.errors stay."""
        self._store.clear()
        with self.lock:
            self.reset_records()
            self.identity.forget_requests()
            self._create_attempts = 0
            self._peak_inflight = self._inflight
            self._privileges = {APP_USER_ID: normalise(BRIDGE_PRIVILEGES)}
            self._incident_columns = frozenset()
            self.duplicate_code = self._default_duplicate_code
        self._api.availability.reset()

    # ------------------------------------------------------------------ SimulatorPort (called by the server)

    def count_create_attempt(self) -> None:
        with self.lock:
            self._create_attempts += 1

    def record_call(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        headers: Headers,
        status: int,
        operation: str,
        started: float,
        fault: str | None,
    ) -> None:
        redacted = redact(headers, _REDACTED_HEADERS)
        record = RequestRecord(method, path, query, status, operation, elapsed_ms(started), fault, redacted)
        self.add_record(record)

    def issue_token(self) -> tuple[str, int]:
        return self.identity.issue()

    def check_bearer(self, authorization: str | None) -> None:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise unauthorized(self.url, "Bearer token is missing from the Authorization header.")
        expires = self.identity.expiry(authorization)
        if expires is None:
            raise unauthorized(self.url, "The bearer token is not one this environment issued.")
        if expires <= time.time():
            raise unauthorized(self.url, "The bearer token has expired.")

    def call_api(self, method: str, rest: str, query: dict[str, str], headers: Headers, body: bytes) -> Reply:
        """One authenticated Dataverse call. ODataError propagates to the server, which answers it."""
        request = ApiRequest(
            method=method,
            rest=rest,
            route=route(method, rest),
            query=query,
            content_type=headers.get("Content-Type") or "",
            prefer=headers.get("Prefer") or "",
            body=body,
        )
        return self._api.handle(request)

    def admin(self, method: str, name: str, data: Any) -> Reply:
        """Dispatch `/_sim/<name>`. ValueError/TypeError become 400 in the handler."""
        return admin_route(self, method, name, data)
