"""The HTTP side: a ThreadingHTTPServer that speaks the four chat-session operations, with faults, the
per-key limit and a `/_sim/` admin API. The socket plumbing is devtools.simkit.server's; what each
operation does lives in the simulator."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from devtools.opencx_sim.contract import ApiError, error_body
from devtools.simkit import server as simkit_server
from devtools.simkit.server import ADMIN_PREFIX, MAX_BODY, LoopbackServer, Reply

if TYPE_CHECKING:
    from devtools.opencx_sim.faults import FaultRule

# opencx_sim.simulator.OpenCXSimulator: that module imports this one, so it is not imported here.
OpenCXSimulator = Any

__all__ = [
    "ADMIN_PREFIX",
    "MAX_BODY",
    "Reply",
    "SimHandler",
    "SimServer",
    "check_json_content_type",
    "classify",
    "error_reply",
    "fault_reply",
    "json_reply",
]


def json_reply(status: int, payload: Any, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, json.dumps(payload).encode(), dict(headers or {}))


def error_reply(error: ApiError) -> Reply:
    return json_reply(error.status, error.body(), error.headers)


def classify(method: str, path: str) -> tuple[str, str | None]:
    """(operation, session id) of an API request. Segments are split before unquoting, so an id holding
    an encoded '/' stays one id. Anything else is "other" (and answered 404, like an unknown route)."""
    parts = path.split("/")
    if len(parts) < 4 or parts[:3] != ["", "chat", "sessions"] or not parts[3]:
        return "other", None
    session_id = unquote(parts[3])
    rest = parts[4:]
    if rest == [] and method == "GET":
        return "get_session", session_id
    if rest == [] and method == "PATCH":
        return "update_session", session_id
    if rest == ["history"] and method == "GET":
        return "list_history", session_id
    if rest == ["send"] and method == "POST":
        return "send", session_id
    return "other", session_id


class SimHandler(simkit_server.SimHandler):
    """OpenCX's routes and error shapes over simkit's transport (werkzeug, drops)."""

    server_version = "OpenCXSimulator/1.0"
    unquote_path = False  # classify() splits segments before unquoting
    bad_length_message = "Content-Length is not a number"
    too_large_message = "Request body is too large (over {max_body} bytes)"
    max_body = 32 * 1024 * 1024  # chosen: room for a 16 MB WhatsApp medium as base64
    server: SimServer

    @property
    def sim(self) -> OpenCXSimulator:
        return self.server.sim

    def route(self, path: str, query: dict[str, str]) -> None:
        if path.startswith(ADMIN_PREFIX):
            self.send(self.handle_admin(path[len(ADMIN_PREFIX) :], query))
        else:
            self.handle_api(path, query)

    def body_error_reply(self, status: int, message: str) -> Reply:
        return error_reply(ApiError(status, message))

    def crash_reply(self) -> Reply:
        return json_reply(500, error_body(500, "Simulator error; see sim.errors."))

    # ------------------------------------------------------------------ the API

    def handle_api(self, path: str, query: dict[str, str]) -> None:
        """Fault, latency, then auth, limit, scope and the operation; every call is recorded."""
        sim = self.sim
        started = time.perf_counter()
        operation, session_id = classify(self.command, path)
        self.key_name: str | None = None

        def record(status: int, fault: str | None) -> None:
            sim.record(self, path, query, status, operation, session_id, started, fault)

        body = self.read_api_body(record)
        if body is None:
            return
        self.serve_api(
            choose_fault=lambda: sim.choose_fault(operation, session_id),
            handle=lambda: self.handle_admitted(operation, session_id, query, body),
            fault_reply=fault_reply,
            record=record,
            latency=sim.latency,
        )

    def handle_admitted(
        self, operation: str, session_id: str | None, query: dict[str, str], body: bytes
    ) -> Reply:
        sim = self.sim
        try:
            key = sim.authenticate(self.headers.get("Authorization"))
            self.key_name = key.name
            rate_headers = sim.throttle(key)
            sim.authorize(key, operation)
            if operation in ("send", "update_session") and body:
                check_json_content_type(self.headers.get("Content-Type", ""))
            reply = sim.operate(operation, session_id, query, body, key)
            reply.headers.update(rate_headers)
            return reply
        except ApiError as error:
            return error_reply(error)

    # ------------------------------------------------------------------ admin API

    def handle_admin(self, name: str, query: dict[str, str]) -> Reply:
        """Seed, inspect and fault a simulator running in another process. No auth: loopback dev tool."""
        return self.admin_reply(lambda data: self.call_admin(name, data, query))

    def call_admin(self, name: str, data: Any, query: dict[str, str]) -> Reply:
        try:
            return self.sim.admin(self.command, name, data, query)
        except KeyError as error:
            return json_reply(404, {"error": f"no such session: {error.args[0]!s}"})


class SimServer(LoopbackServer):
    """simkit's loopback server (stop() cuts open connections), answering with the OpenCX handler."""

    sim: OpenCXSimulator
    handler_class = SimHandler


def fault_reply(fault: FaultRule) -> Reply:
    message = fault.message or f"Simulated {fault.status} fault"
    return json_reply(fault.status, error_body(fault.status, message), fault.retry_after_headers())


def check_json_content_type(content_type: str) -> None:
    """A JSON API refuses a body it cannot parse as JSON (undocumented; Fastify answers 415)."""
    if content_type.split(";")[0].strip().lower() != "application/json":
        raise ApiError(415, f"Unsupported Media Type: {content_type or '(none)'}")
