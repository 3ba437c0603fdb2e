"""The HTTP side: the four chat-session operations with faults, the per-key limit and the `/_sim/` admin
API, over simkit's transport (werkzeug, drops). What each operation does lives in the simulator."""

from __future__ import annotations

import time
from urllib.parse import unquote

from devtools.opencx_sim.contract import ApiError, error_body
from devtools.opencx_sim.faults import FaultRule
from devtools.simkit import server as simkit_server
from devtools.simkit.server import ADMIN_PREFIX, Reply, json_reply


def error_reply(error: ApiError) -> Reply:
    return json_reply(error.status, error.body(), error.headers)


def classify(method: str, path: str) -> tuple[str, str | None]:
    """(operation, session id) of an API request. Segments are split before unquoting, so an id holding
    an encoded '/' stays one id. Anything else is "other" (and answered 404, like an unknown route)."""
    parts = path.split("/")
    if len(parts) < 4 or parts[:3] != ["", "chat", "sessions"] or not parts[3]:
        return "other", None
    operations = {
        ((), "GET"): "get_session",
        ((), "PATCH"): "update_session",
        (("history",), "GET"): "list_history",
        (("send",), "POST"): "send",
    }
    return operations.get((tuple(parts[4:]), method), "other"), unquote(parts[3])


class SimHandler(simkit_server.SimHandler):
    """OpenCX's routes and error shapes over simkit's transport."""

    server_version = "OpenCXSimulator/1.0"
    unquote_path = False  # classify() splits segments before unquoting
    bad_length_message = "Content-Length is not a number"
    too_large_message = "Request body is too large (over {max_body} bytes)"
    max_body = 32 * 1024 * 1024  # chosen: room for a 16 MB WhatsApp medium as base64

    def route(self, path: str, query: dict[str, str]) -> None:
        if path.startswith(ADMIN_PREFIX):
            self.send(self.call_admin(path[len(ADMIN_PREFIX) :], query))
        else:
            self.handle_api(path, query)

    def body_error_reply(self, status: int, message: str) -> Reply:
        return error_reply(ApiError(status, message))

    def crash_reply(self) -> Reply:
        return json_reply(500, error_body(500, "Simulator error; see sim.errors."))

    def handle_api(self, path: str, query: dict[str, str]) -> None:
        """Fault, latency, then auth, limit, scope and the operation; every call is recorded."""
        sim = self.server.sim
        started = time.perf_counter()
        operation, session_id = classify(self.command, path)
        self.key_name: str | None = None

        def record(status: int, fault: str | None) -> None:
            fields = {"path": path, "query": query, "operation": operation, "session_id": session_id}
            sim.add_call(self, started, status, fault, key=self.key_name, **fields)

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
        sim = self.server.sim
        try:
            key = sim.authenticate(self.headers.get("Authorization"))
            self.key_name = key.name
            rate_headers = sim.throttle(key)
            sim.authorize(key, operation)
            content_type = self.headers.get("Content-Type", "")
            if (
                operation in ("send", "update_session")
                and body
                and content_type.split(";")[0].strip().lower() != "application/json"
            ):
                # a JSON API refuses a body it cannot parse as JSON (undocumented; Fastify answers 415)
                raise ApiError(415, f"Unsupported Media Type: {content_type or '(none)'}")
            reply: Reply = sim.operate(operation, session_id, query, body, key)
            reply.headers.update(rate_headers)
            return reply
        except ApiError as error:
            return error_reply(error)


def fault_reply(fault: FaultRule) -> Reply:
    message = fault.message or f"Simulated {fault.status} fault"
    return json_reply(fault.status, error_body(fault.status, message), fault.retry_after_headers())
