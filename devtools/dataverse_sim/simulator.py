"""DataverseSimulator: the Python API tests and tools use to run, seed, fault and inspect the simulator."""

from __future__ import annotations

import random
import secrets
import threading
import time
from collections import Counter
from types import TracebackType
from typing import Any, NamedTuple

from devtools.dataverse_sim.faults import FaultRule, pick_fault
from devtools.dataverse_sim.odata import API_PREFIX, parse_contact_filter
from devtools.dataverse_sim.server import (
    CONTACT_COLUMNS,
    Reply,
    SimHandler,
    SimServer,
    check_query_options,
    json_reply,
    not_found_workstream,
    parse_select,
    parse_top,
    unauthorized,
    validated,
    workstream_key,
)
from devtools.dataverse_sim.store import CONTEXT_ITEMS, Store

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


class DataverseSimulator:
    """A loopback Dataverse environment plus its managed-identity endpoint, in a daemon thread."""

    def __init__(
        self,
        token_lifetime: float = 3600.0,
        seed: int = 0,
        *,
        port: int | None = None,
        latency: float = 0.0,
        max_concurrency: int | None = None,
        concurrency_retry_after: float = 1.0,
    ) -> None:
        self.token_lifetime = token_lifetime
        self.latency = latency
        self.max_concurrency = max_concurrency
        self.concurrency_retry_after = concurrency_retry_after
        self.identity_header = secrets.token_urlsafe(24)
        self.lock = threading.Lock()
        self.errors: list[str] = []
        self._seed = seed
        self._rng = random.Random(seed)
        self._store = Store()
        self._faults: list[FaultRule] = []
        self._records: list[RequestRecord] = []
        self._tokens: dict[str, float] = {}
        self._token_requests = 0
        self._token_queries: list[dict[str, str]] = []
        self._create_attempts = 0
        self._inflight = 0
        self._peak_inflight = 0
        self._port = port
        self._server: SimServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> DataverseSimulator:
        """Listen on 127.0.0.1 (the same port again after a stop, so clients can reconnect)."""
        if self._server is not None:
            return self
        server = SimServer(("127.0.0.1", self._port or 0), self)
        self._port = int(server.server_address[1])
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.02}, name="dataverse-sim", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and cut open keep-alive connections, as an outage would."""
        server, thread = self._server, self._thread
        if server is None:
            return
        self._server = self._thread = None
        server.shutdown()
        server.cut_all_connections()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> DataverseSimulator:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the simulator has no port until start()")
        return self._port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def identity_endpoint(self) -> str:
        return f"{self.url}/msi/token"

    def env(self) -> dict[str, str]:
        """Settings that point the bridge (and azure-identity) at this simulator."""
        return {
            "DATAVERSE_URL": self.url,
            "IDENTITY_ENDPOINT": self.identity_endpoint,
            "IDENTITY_HEADER": self.identity_header,
        }

    # ------------------------------------------------------------------ seeding and inspection

    def add_workstream(self, workstream_id: str | None = None, name: str = "SMS workstream") -> str:
        return self._store.add_workstream(workstream_id, name)

    def add_contact(
        self,
        *,
        email: str | None = None,
        mobilephone: str | None = None,
        telephone1: str | None = None,
        fullname: str | None = None,
        contactid: str | None = None,
    ) -> str:
        fields = {
            "emailaddress1": email,
            "mobilephone": mobilephone,
            "telephone1": telephone1,
            "fullname": fullname,
        }
        return self._store.add_contact(contactid, fields)

    @property
    def work_items(self) -> list[dict[str, Any]]:
        return self._store.all_items()

    def work_item(self, activityid: str) -> dict[str, Any] | None:
        return self._store.item(activityid)

    @property
    def create_attempts(self) -> int:
        with self.lock:
            return self._create_attempts

    @property
    def token_requests(self) -> int:
        with self.lock:
            return self._token_requests

    @property
    def token_queries(self) -> list[dict[str, str]]:
        """Query parameters of each token request (resource, api-version, client_id when user-assigned)."""
        with self.lock:
            return [dict(query) for query in self._token_queries]

    @property
    def requests(self) -> list[RequestRecord]:
        with self.lock:
            return list(self._records)

    @property
    def faults(self) -> list[FaultRule]:
        with self.lock:
            return list(self._faults)

    @property
    def peak_concurrency(self) -> int:
        """Most Dataverse API requests admitted at once: shows what a client really ran in parallel."""
        with self.lock:
            return self._peak_inflight

    def stats(self) -> dict[str, Any]:
        """Counts per operation and status (status "0" is a dropped connection)."""
        with self.lock:
            records = list(self._records)
            stats: dict[str, Any] = {
                "token_requests": self._token_requests,
                "create_attempts": self._create_attempts,
                "peak_concurrency": self._peak_inflight,
                "faults_fired": sum(rule.fired for rule in self._faults),
            }
        per_operation: dict[str, Counter[str]] = {}
        for record in records:
            per_operation.setdefault(record.operation, Counter())[str(record.status)] += 1
        stats["requests"] = len(records)
        stats["work_items"] = self._store.count()
        stats["operations"] = {op: dict(counter) for op, counter in sorted(per_operation.items())}
        return stats

    # ------------------------------------------------------------------ faults and tokens

    def add_fault(self, rule: FaultRule) -> None:
        with self.lock:
            self._faults.append(rule)

    def clear_faults(self) -> None:
        with self.lock:
            self._faults.clear()

    def expire_tokens(self) -> None:
        """Every token issued so far is rejected from now on, as after a real expiry."""
        with self.lock:
            for token in self._tokens:
                self._tokens[token] = 0.0

    def reset(self) -> None:
        """Empty tables, faults, counters and records. Settings, issued tokens and sim.errors stay."""
        self._store.clear()
        with self.lock:
            self._faults.clear()
            self._records.clear()
            self._token_requests = 0
            self._token_queries.clear()
            self._create_attempts = 0
            self._peak_inflight = self._inflight
            self._rng = random.Random(self._seed)

    # ------------------------------------------------------------------ called by the handler

    def record_error(self, text: str) -> None:
        with self.lock:
            self.errors.append(text)

    def count_create_attempt(self) -> None:
        with self.lock:
            self._create_attempts += 1

    def count_token_request(self, query: dict[str, str]) -> None:
        with self.lock:
            self._token_requests += 1
            self._token_queries.append(dict(query))

    def choose_fault(self, operation: str) -> FaultRule | None:
        with self.lock:
            return pick_fault(self._faults, operation, self._rng)

    @property
    def in_flight(self) -> int:
        """Requests being handled right now (a slow fault still sleeping counts)."""
        with self.lock:
            return self._inflight

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until no request is being handled, so a reset cannot be undone by a late commit."""
        import time

        deadline = time.monotonic() + timeout
        while self.in_flight and time.monotonic() < deadline:
            time.sleep(0.01)
        return not self.in_flight

    def admit(self) -> bool:
        """Take a concurrency slot, or refuse when max_concurrency requests are already in flight."""
        with self.lock:
            if self.max_concurrency is not None and self._inflight >= self.max_concurrency:
                return False
            self._inflight += 1
            self._peak_inflight = max(self._peak_inflight, self._inflight)
            return True

    def release(self) -> None:
        with self.lock:
            self._inflight -= 1

    def record(
        self,
        handler: SimHandler,
        path: str,
        query: dict[str, str],
        status: int,
        operation: str,
        started: float,
        fault: str | None,
    ) -> None:
        headers = {
            name.lower(): ("<redacted>" if name.lower() in _REDACTED_HEADERS else value)
            for name, value in handler.headers.items()
        }
        elapsed = (time.perf_counter() - started) * 1000.0
        record = RequestRecord(handler.command, path, query, status, operation, elapsed, fault, headers)
        with self.lock:
            self._records.append(record)

    def issue_token(self) -> tuple[str, int]:
        token = secrets.token_urlsafe(32)
        expires_on = time.time() + self.token_lifetime
        with self.lock:
            self._tokens[token] = expires_on
        return token, int(expires_on)

    def check_bearer(self, authorization: str | None) -> None:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise unauthorized(self.url, "Bearer token is missing from the Authorization header.")
        with self.lock:
            expires = self._tokens.get(token.strip())
        if expires is None:
            raise unauthorized(self.url, "The bearer token is not one this environment issued.")
        if expires <= time.time():
            raise unauthorized(self.url, "The bearer token has expired.")

    # ------------------------------------------------------------------ Dataverse operations

    def lookup_contacts(self, query: dict[str, str]) -> Reply:
        check_query_options(query, {"$select", "$top", "$filter"})
        columns = parse_select(query, CONTACT_COLUMNS, "contact")
        top = parse_top(query)
        comparisons = parse_contact_filter(query["$filter"]) if "$filter" in query else []
        rows = self._store.find_contacts(comparisons, top)
        value = [
            {"@odata.etag": 'W/"1000"', **{column: row.get(column) for column in columns}} for row in rows
        ]
        context = f"{self.url}{API_PREFIX}$metadata#contacts({','.join(columns)})"
        return json_reply(200, {"@odata.context": context, "value": value})

    def get_workstream(self, rest: str, query: dict[str, str]) -> Reply:
        check_query_options(query, {"$select"})
        columns = parse_select(query, ("msdyn_liveworkstreamid", "msdyn_name"), "msdyn_liveworkstream")
        guid = workstream_key(rest)
        name = self._store.workstream_name(guid)
        if name is None:
            raise not_found_workstream(guid)
        row = {"msdyn_liveworkstreamid": guid, "msdyn_name": name}
        context = f"{self.url}{API_PREFIX}$metadata#msdyn_liveworkstreams({','.join(columns)})/$entity"
        payload = {"@odata.context": context, "@odata.etag": 'W/"1000"', **{c: row[c] for c in columns}}
        payload.setdefault("msdyn_liveworkstreamid", guid)
        return json_reply(200, payload)

    def create_work_item(self, body: bytes, prefer: str) -> Reply:
        """Deep insert; 204 with OData-EntityId, or 201 with the row for `Prefer: return=representation`."""
        row = self._store.commit(validated(body, self.url))
        entity_id = f"{self.url}{API_PREFIX}msdyn_ocliveworkitems({row['activityid']})"
        headers = {"OData-EntityId": entity_id}
        if "return=representation" not in prefer.replace(" ", "").lower():
            return Reply(204, b"", headers, content_type=None)
        headers["Preference-Applied"] = "return=representation"
        payload = {
            "@odata.context": f"{self.url}{API_PREFIX}$metadata#msdyn_ocliveworkitems/$entity",
            "@odata.etag": 'W/"1000"',
            **{k: v for k, v in row.items() if "@odata.bind" not in k and k not in _SIM_ONLY},
            "_msdyn_liveworkstreamid_value": row["workstream_id"],
            "_msdyn_customer_value": row["contact_id"],
        }
        return json_reply(201, payload, headers)

    # ------------------------------------------------------------------ admin API

    def admin(self, method: str, name: str, data: dict[str, Any]) -> Reply:
        """Dispatch `/_sim/<name>`. ValueError/TypeError become 400 in the handler."""
        from devtools.dataverse_sim.admin import admin_route

        return admin_route(self, method, name, data)


_SIM_ONLY = frozenset({"context_items", "workstream_id", "contact_id", CONTEXT_ITEMS})
