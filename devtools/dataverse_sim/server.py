"""The HTTP side: the identity endpoint, API calls forwarded to `server.sim` with faults and throttling
injected on the way, and the `/_sim/` admin API; it imports neither the simulator nor the API."""

from __future__ import annotations

import time
from typing import Any

from devtools.dataverse_sim.odata import (
    API_PREFIX,
    CODE_NO_SEGMENT,
    CODE_PAYLOAD,
    CODE_THROTTLE_CONCURRENCY,
    CODE_UNAUTHORIZED,
    CODE_UNEXPECTED,
    ODataError,
    Reply,
    error_body,
    error_reply,
    json_reply,
)
from devtools.dataverse_sim.routes import FaultRule, classify
from devtools.simkit import server as simkit_server
from devtools.simkit.faults import seconds_header
from devtools.simkit.identity import TOKEN_PATH
from devtools.simkit.server import ADMIN_PREFIX, LoopbackServer

FAKE_TENANT = "00000000-0000-0000-0000-000000000000"
# A note's file travels as base64 inside the JSON body, up to the org's maxuploadfilesize (128 MB at most,
# "Use file data with Attachment and Note records"): the transport must not refuse it first.
MAX_API_BODY = 140 * 1024 * 1024


class SimHandler(simkit_server.SimHandler):
    """Dataverse's routes and error shapes over simkit's transport (werkzeug, drops)."""

    server_version = "DataverseSimulator/1.0"
    too_large_message = f"Request body over {MAX_API_BODY} bytes."
    body: bytes = b""  # the current API request's body, read before any fault or check

    @property
    def sim(self) -> Any:  # the DataverseSimulator (simulator.py imports this module, not the reverse)
        return self.server.sim

    def route(self, path: str, query: dict[str, str]) -> None:
        if path == TOKEN_PATH:
            self.send(self.handle_token(query))
        elif path.startswith(ADMIN_PREFIX):
            self.send(
                self.admin_reply(lambda data: self.sim.admin(self.command, path[len(ADMIN_PREFIX) :], data))
            )
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

        body = self.read_api_body(record)
        if body is None:
            return
        self.body = body
        self.serve_api(
            choose_fault=lambda: sim.choose_fault(operation),
            handle=lambda: self.handle_admitted(path, query),
            fault_reply=fault_reply,
            record=record,
            latency=sim.latency,
            limit=sim.max_concurrency,
            refused=self.throttled_reply,
        )

    def throttled_reply(self) -> Reply:
        limit = self.sim.max_concurrency
        retry_after = {"Retry-After": seconds_header(self.sim.concurrency_retry_after)}
        message = f"Number of concurrent requests exceeded the limit of {limit}."
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


def fault_reply(fault: FaultRule) -> Reply:
    return Reply(fault.status, error_body(fault.error_code, fault.error_message), fault.retry_after_headers())


def unauthorized(base_url: str, message: str) -> ODataError:
    challenge = (
        f"Bearer authorization_uri=https://login.microsoftonline.com/{FAKE_TENANT}/oauth2/authorize, "
        f"resource_id={base_url}/"
    )
    return ODataError(401, CODE_UNAUTHORIZED, message, {"WWW-Authenticate": challenge})
