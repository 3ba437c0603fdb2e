"""The HTTP side of the Messaging API simulator: API routes, identity endpoint, JWKS, admin API.

The transport (werkzeug, connection drops, cutting clients on stop) is devtools.simkit.server's and the
identity endpoint devtools.simkit.identity's; the routes and the problem shapes are this module's.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import TYPE_CHECKING, Any

from devtools.messaging_sim.store import ApiError
from devtools.simkit import server as simkit_server
from devtools.simkit.identity import TOKEN_PATH
from devtools.simkit.server import ADMIN_PREFIX, LoopbackServer, Reply

if TYPE_CHECKING:
    from devtools.messaging_sim.faults import FaultRule

# messaging_sim.simulator.MessagingSimulator: that module imports this one, so it is not imported here.
MessagingSimulator = Any

API_PREFIX = "/api/v1.0/consumer/"
JWKS_SUFFIX = "/discovery/v2.0/keys"


def json_reply(status: int, payload: Any, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, json.dumps(payload).encode(), dict(headers or {}), content_type="application/json")


def problem_reply(
    sim: MessagingSimulator, status: int, code: int | None, detail: str, title: str = ""
) -> Reply:
    """RFC 7807 problem details (error-handling.md) plus the 300xx code under `sim.error_code_field`."""
    payload: dict[str, Any] = {
        "type": f"https://httpstatuses.io/{status}",
        "title": title
        or {401: "Unauthorized", 404: "Not Found", 429: "Too Many Requests"}.get(status, "Bad Input"),
        "status": status,
        "detail": detail,
    }
    if code is not None:
        payload[sim.error_code_field] = code
    return json_reply(status, payload)


def classify(method: str, path: str) -> str:
    """The operation a request is, for faults and records."""
    if not path.startswith(API_PREFIX):
        return "other"
    rest = path[len(API_PREFIX) :].strip("/")
    parts = rest.split("/")
    if method == "POST" and rest == "conversation/create":
        return "create"
    if method == "GET" and rest == "conversations":
        return "list"
    if len(parts) == 2 and parts[0] == "conversation" and method == "POST":
        return "send"  # "end" is decided from the body in the handler
    if (
        len(parts) == 3
        and parts[0] == "conversation"
        and method == "GET"
        and parts[2] in ("messages", "context")
    ):
        return parts[2]
    return "other"


class MessagingHandler(simkit_server.SimHandler):
    """The Messaging API's routes, identity endpoint, JWKS and problem shapes over simkit's transport."""

    server_version = "MessagingApiSimulator/1.0"
    max_body = 32 * 1024 * 1024  # chosen: a file at a raised org limit still fits inline as base64
    server: MessagingServer

    @property
    def msim(self) -> MessagingSimulator:
        return self.server.sim

    def route(self, path: str, query: dict[str, str]) -> None:
        if path == TOKEN_PATH:
            self.send(self.handle_token(query))
        elif path.endswith(JWKS_SUFFIX) or path == "/jwks":
            self.read_raw_body()
            self.msim.count_jwks_request()
            self.send(json_reply(200, self.msim.minter.jwks(), {"Cache-Control": "max-age=60"}))
        elif path.startswith(ADMIN_PREFIX):
            self.send(self.handle_admin(path[len(ADMIN_PREFIX) :]))
        else:
            self.handle_api(path, query)

    def crash_reply(self) -> Reply:
        return problem_reply(self.msim, 500, 30015, "Simulator error; see sim.errors.")

    def body_error_reply(self, status: int, message: str) -> Reply:
        return _correlated(problem_reply(self.msim, status, 30012, message))

    def admin_error(self, status: int, message: str) -> Reply:
        return json_reply(status, {"error": message})

    # ------------------------------------------------------------------ API

    def handle_api(self, path: str, query: dict[str, str]) -> None:
        """Fault, latency, then auth and the operation; every call is recorded and counted in flight."""
        sim = self.msim
        started = time.perf_counter()
        operation = classify(self.command, path)
        payload: Any = None

        def record(status: int, fault: str | None) -> None:
            sim.record(self, path, status, operation, payload, started, fault)

        body = self.read_api_body(record)
        if body is None:
            return
        payload = _json(body)
        if operation == "send" and isinstance(payload, dict) and payload.get("type") == "endOfConversation":
            operation = "end"
        self.serve_api(
            choose_fault=lambda: sim.choose_fault(operation),
            handle=lambda: _correlated(self.checked_route(operation, path, query, payload)),
            fault_reply=lambda fault: _correlated(fault_reply(sim, fault)),
            record=record,
            latency=sim.latency,
        )

    def checked_route(self, operation: str, path: str, query: dict[str, str], payload: Any) -> Reply:
        sim = self.msim
        try:
            sim.check_request(
                self.headers.get("Authorization"),
                self.headers.get("channel-id"),
                self.headers.get("organization-id"),
            )
            return sim.route(operation, path[len(API_PREFIX) :].strip("/"), query, payload)
        except ApiError as error:
            return problem_reply(sim, error.status, error.code, error.detail)

    # ------------------------------------------------------------------ identity endpoint

    def handle_token(self, query: dict[str, str]) -> Reply:
        """simkit's identity endpoint: Messaging API tokens here, any other resource upstream."""
        sim = self.msim
        wanted = sim.token_resource.rstrip("/")

        def refusal(resource: str) -> str | None:
            return (
                None if resource == wanted else f"Resource {resource!r} is not the Messaging API ({wanted})."
            )

        return sim.identity.answer(self, query, refusal, sim.choose_fault)

    # ------------------------------------------------------------------ admin

    def handle_admin(self, name: str) -> Reply:
        """The simulator's Python API over HTTP. No auth: a loopback dev tool."""
        return self.admin_reply(lambda data: self.call_admin(name, data))

    def call_admin(self, name: str, data: Any) -> Reply:
        try:
            return self.msim.admin(self.command, name, data)
        except (IndexError, KeyError) as error:  # ValueError and TypeError are admin_reply's
            return json_reply(400, {"error": str(error)})


class MessagingServer(LoopbackServer):
    """simkit's loopback server (stop() cuts open connections), answering with MessagingHandler."""

    sim: MessagingSimulator
    handler_class = MessagingHandler


_INVALID: Any = object()


def _json(body: bytes) -> Any:
    if not body:
        return None
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return _INVALID


def _correlated(reply: Reply) -> Reply:
    """error-handling.md: every answer of the API carries an `x-ms-correlation-id`."""
    reply.headers.setdefault("x-ms-correlation-id", str(uuid.uuid4()))
    return reply


def fault_reply(sim: MessagingSimulator, fault: FaultRule) -> Reply:
    reply = problem_reply(sim, fault.status, fault.error_code, f"Simulated HTTP {fault.status}.", fault.title)
    reply.headers.update(fault.retry_after_headers())
    return reply


def invalid_json() -> Any:
    return _INVALID
