"""The HTTP side of the Messaging API simulator: API routes, identity endpoint, JWKS, admin API."""

from __future__ import annotations

import json
import time
import uuid
from http.client import responses
from typing import Any

from devtools.messaging_sim.faults import FaultRule
from devtools.messaging_sim.store import ApiError
from devtools.simkit import server as simkit_server
from devtools.simkit.identity import TOKEN_PATH
from devtools.simkit.server import ADMIN_PREFIX, Reply, json_reply

# messaging_sim.simulator.MessagingSimulator: that module imports this one, so it is not imported here.
MessagingSimulator = Any

API_PREFIX = "/api/v1.0/consumer/"
JWKS_SUFFIX = "/discovery/v2.0/keys"
INVALID_JSON: Any = object()


def problem_reply(sim: MessagingSimulator, status: int, code: int | None, detail: str) -> Reply:
    """RFC 7807 problem details (error-handling.md) plus the 300xx code under `sim.error_code_field`,
    with the `x-ms-correlation-id` every answer of the API carries."""
    title = "Bad Input" if status == 400 else responses.get(status, "Error")
    payload = {
        "type": f"https://httpstatuses.io/{status}",
        "title": title,
        "status": status,
        "detail": detail,
    }
    return _correlated(
        json_reply(status, payload if code is None else {**payload, sim.error_code_field: code})
    )


def _correlated(reply: Reply) -> Reply:
    reply.headers.setdefault("x-ms-correlation-id", str(uuid.uuid4()))
    return reply


def classify(method: str, path: str) -> str:
    """The operation a request is, for faults and records ("end" is decided from the body)."""
    parts = path[len(API_PREFIX) :].strip("/").split("/") if path.startswith(API_PREFIX) else []
    if method == "POST" and parts == ["conversation", "create"]:
        return "create"
    if method == "GET" and parts == ["conversations"]:
        return "list"
    if method == "POST" and len(parts) == 2 and parts[0] == "conversation":
        return "send"
    if (
        method == "GET"
        and len(parts) == 3
        and parts[0] == "conversation"
        and parts[2] in ("messages", "context")
    ):
        return parts[2]
    return "other"


class MessagingHandler(simkit_server.SimHandler):
    """The Messaging API's routes, identity endpoint, JWKS and problem shapes over simkit's transport."""

    server_version = "MessagingApiSimulator/1.0"
    max_body = 32 * 1024 * 1024  # chosen: a file at a raised org limit still fits inline as base64
    admin_missing_status = 400

    def route(self, path: str, query: dict[str, str]) -> None:
        sim = self.server.sim
        if path == TOKEN_PATH:
            wanted = sim.token_resource.rstrip("/")
            refusal = f"The resource is not the Messaging API ({wanted})."
            self.send(
                sim.identity.answer(self, query, lambda r: None if r == wanted else refusal, sim.choose_fault)
            )
        elif path.endswith(JWKS_SUFFIX) or path == "/jwks":
            self.read_raw_body()
            with sim.lock:
                sim.jwks_requests += 1
            self.send(json_reply(200, sim.minter.jwks(), {"Cache-Control": "max-age=60"}))
        elif path.startswith(ADMIN_PREFIX):
            self.send(self.call_admin(path[len(ADMIN_PREFIX) :], query))
        else:
            self.handle_api(path, query)

    def crash_reply(self) -> Reply:
        return problem_reply(self.server.sim, 500, 30015, "Simulator error; see sim.errors.")

    def body_error_reply(self, status: int, message: str) -> Reply:
        return problem_reply(self.server.sim, status, 30012, message)

    def handle_api(self, path: str, query: dict[str, str]) -> None:
        """Fault, latency, then auth and the operation; every call is recorded and counted in flight."""
        sim = self.server.sim
        started = time.perf_counter()
        operation = classify(self.command, path)
        payload: Any = None

        def record(status: int, fault: str | None) -> None:
            body = recorded_body(payload)
            sim.add_call(self, started, status, fault, path=path, operation=operation, body=body)

        body = self.read_api_body(record)
        if body is None:
            return
        payload = _json(body)
        if operation == "send" and isinstance(payload, dict) and payload.get("type") == "endOfConversation":
            operation = "end"
        self.serve_api(
            choose_fault=lambda: sim.choose_fault(operation),
            handle=lambda: self.checked_route(operation, path, query, payload),
            fault_reply=lambda fault: fault_reply(sim, fault),
            record=record,
            latency=sim.latency,
        )

    def checked_route(self, operation: str, path: str, query: dict[str, str], payload: Any) -> Reply:
        sim, headers = self.server.sim, self.headers
        try:
            sim.check_request(
                headers.get("Authorization"), headers.get("channel-id"), headers.get("organization-id")
            )
            return _correlated(sim.route(operation, path[len(API_PREFIX) :].strip("/"), query, payload))
        except ApiError as error:
            return problem_reply(sim, error.status, error.code, error.detail)


def _json(body: bytes) -> Any:
    try:
        return json.loads(body) if body else None
    except (ValueError, UnicodeDecodeError):
        return INVALID_JSON


def recorded_body(body: Any) -> Any:
    """A body as records keep it: "<not JSON>", or data URLs cut to their type and length (not megabytes)."""
    if body is INVALID_JSON:
        return "<not JSON>"
    if isinstance(body, dict) and isinstance(body.get("attachments"), list):
        return {**body, "attachments": [_shortened(a) for a in body["attachments"]]}
    return body


def _shortened(attachment: Any) -> Any:
    url = attachment.get("contentUrl") if isinstance(attachment, dict) else None
    if isinstance(url, str) and url.startswith("data:"):
        return {**attachment, "contentUrl": f"{url.partition(',')[0]},<{len(url)} chars>"}
    return attachment


def fault_reply(sim: MessagingSimulator, fault: FaultRule) -> Reply:
    reply = problem_reply(sim, fault.status, fault.error_code, f"Simulated HTTP {fault.status}.")
    reply.headers.update(fault.retry_after_headers())
    return reply
