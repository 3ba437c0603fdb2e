"""The HTTP side: a ThreadingHTTPServer that speaks the managed-identity token protocol, forwards
Dataverse API calls to the simulator, and serves the `/_sim/` admin API, with faults and throttling
injected on the way.

It knows the simulator only through `SimulatorPort`, the small protocol below, so this module imports
neither the simulator nor the admin API nor the operations.
"""

from __future__ import annotations

import contextlib
import hmac
import io
import json
import socket
import struct
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from devtools.dataverse_sim.faults import FaultRule
from devtools.dataverse_sim.odata import (
    API_PREFIX,
    CODE_NO_SEGMENT,
    CODE_PAYLOAD,
    CODE_THROTTLE_CONCURRENCY,
    CODE_UNAUTHORIZED,
    CODE_UNEXPECTED,
    ODataError,
    error_body,
)
from devtools.dataverse_sim.replies import Reply, error_reply, json_reply
from devtools.dataverse_sim.routes import classify

TOKEN_PATH = "/msi/token"  # noqa: S105 - a URL path, not a secret
ADMIN_PREFIX = "/_sim/"
MAX_BODY = 4 * 1024 * 1024
FAKE_TENANT = "00000000-0000-0000-0000-000000000000"


class SimulatorPort(Protocol):
    """What the HTTP server needs from the simulator behind it."""

    lock: threading.Lock
    latency: float
    max_concurrency: int | None
    concurrency_retry_after: float

    @property
    def url(self) -> str: ...

    @property
    def identity_header(self) -> str: ...

    def record_error(self, text: str) -> None: ...

    def count_create_attempt(self) -> None: ...

    def count_token_request(self, query: dict[str, str]) -> None: ...

    def choose_fault(self, operation: str) -> FaultRule | None: ...

    def admit(self) -> bool: ...

    def release(self) -> None: ...

    def record_call(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        headers: Mapping[str, str],
        status: int,
        operation: str,
        started: float,
        fault: str | None,
    ) -> None: ...

    def issue_token(self) -> tuple[str, int]: ...

    def check_bearer(self, authorization: str | None) -> None: ...

    def call_api(
        self, method: str, rest: str, query: dict[str, str], headers: Mapping[str, str], body: bytes
    ) -> Reply: ...

    def admin(self, method: str, name: str, data: Any) -> Reply: ...


class SimServer(ThreadingHTTPServer):
    """Threaded server that tracks open connections, so stop() really cuts keep-alive clients off."""

    daemon_threads = True
    block_on_close = False
    request_queue_size = 1024  # the default of 5 drops SYNs under a burst of 50+ new connections

    def __init__(self, address: tuple[str, int], sim: SimulatorPort) -> None:
        self.sim = sim
        self.open_connections: set[socket.socket] = set()
        super().__init__(address, SimHandler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.sim.lock:
            self.open_connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.sim.lock:
            self.open_connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet about clients that hang up (timeouts, drops); keep anything else for inspection."""
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return
        self.sim.record_error(traceback.format_exc())

    def cut_all_connections(self) -> None:
        with self.sim.lock:
            connections = list(self.open_connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class SimHandler(BaseHTTPRequestHandler):
    """One connection; HTTP/1.1 keep-alive, every response framed by Content-Length."""

    protocol_version = "HTTP/1.1"
    server_version = "DataverseSimulator/1.0"
    sys_version = ""
    disable_nagle_algorithm = True
    wbufsize = 64 * 1024  # headers and body leave in one write, flushed by handle_one_request
    timeout = 120  # idle keep-alive connections are closed eventually
    server: SimServer
    body: bytes = b""  # the current API request's body, read before any fault or check

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the benchmark runs thousands of requests and the tests read sim.requests instead."""

    def do_GET(self) -> None:
        self.dispatch()

    def do_POST(self) -> None:
        self.dispatch()

    def do_PATCH(self) -> None:
        self.dispatch()

    def do_PUT(self) -> None:
        self.dispatch()

    def do_DELETE(self) -> None:
        self.dispatch()

    # ------------------------------------------------------------------ plumbing

    @property
    def sim(self) -> SimulatorPort:
        return self.server.sim

    def dispatch(self) -> None:
        split = urlsplit(self.path)
        path = unquote(split.path)
        query = {key: values[-1] for key, values in parse_qs(split.query, keep_blank_values=True).items()}
        try:
            if path == TOKEN_PATH:
                self.send(self.handle_token(query))
            elif path.startswith(ADMIN_PREFIX):
                self.send(self.handle_admin(path[len(ADMIN_PREFIX) :]))
            else:
                self.handle_api(path, query)
        except _Dropped:
            return
        except Exception:  # a simulator bug must surface as a 500 and in sim.errors, not a hung client
            self.sim.record_error(traceback.format_exc())
            self.close_connection = True
            self.send(error_reply(ODataError(500, CODE_UNEXPECTED, "Simulator error; see sim.errors.")))

    def read_body(self) -> bytes:
        """Consume the request body even when it is not needed, so keep-alive framing stays intact."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self.read_chunked()
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            self.close_connection = True
            raise ODataError(400, CODE_PAYLOAD, "Content-Length is not a number.") from None
        if length > MAX_BODY:
            self.close_connection = True
            raise ODataError(413, CODE_PAYLOAD, f"Request body over {MAX_BODY} bytes.")
        return self.rfile.read(length) if length > 0 else b""

    def read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        total = 0
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(chunks)
            total += size
            if total > MAX_BODY:
                self.close_connection = True
                raise ODataError(413, CODE_PAYLOAD, f"Request body over {MAX_BODY} bytes.")
            chunks.append(self.rfile.read(size))
            self.rfile.readline()

    def send(self, reply: Reply) -> None:
        self.send_response(reply.status)
        if reply.status != 204:
            if reply.content_type:
                self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(reply.body)))
        if (reply.content_type is not None and "odata" in reply.content_type) or reply.status == 204:
            self.send_header("OData-Version", "4.0")
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if reply.status != 204 and reply.body:
            self.wfile.write(reply.body)

    def drop_connection(self) -> None:
        """Reset the TCP connection without a response (SO_LINGER 0 sends RST): a real network failure.

        The socket only really closes once its file objects are closed too; they are swapped for inert
        buffers so the base class's final flush and close find nothing to do."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        for stream in (self.rfile, self.wfile):
            with contextlib.suppress(OSError):
                stream.close()
        self.rfile, self.wfile = io.BytesIO(), io.BytesIO()
        self.connection.close()

    # ------------------------------------------------------------------ Dataverse API

    def handle_api(self, path: str, query: dict[str, str]) -> None:
        """Admission, fault, latency, auth, then the operation itself; every call is recorded."""
        sim = self.sim
        started = time.perf_counter()
        operation = classify(self.command, path)
        if operation == "create_work_item":  # create_attempts counts work-item creates, as before
            sim.count_create_attempt()
        try:
            self.body = self.read_body()
        except ODataError as error:
            self.answer(error_reply(error), None, path, query, operation, started)
            return
        if not sim.admit():
            self.answer(self.throttled_reply(), None, path, query, operation, started)
            return
        try:
            fault = sim.choose_fault(operation)
            if fault is not None and fault.kind == "drop_before":
                self.record(path, query, 0, operation, started, fault.kind)
                self.drop_connection()
                return
            reply = self.handle_admitted(operation, path, query, fault)
        finally:
            sim.release()
        self.answer(reply, fault, path, query, operation, started)

    def answer(
        self,
        reply: Reply,
        fault: FaultRule | None,
        path: str,
        query: dict[str, str],
        operation: str,
        started: float,
    ) -> None:
        """Record the call, then send the reply (or reset the connection instead, after the commit).

        Recording first means a client that has seen the outcome also sees it in sim.requests."""
        self.record(path, query, reply.status, operation, started, fault.kind if fault else None)
        if fault is not None and fault.kind == "drop_after_commit":
            self.drop_connection()
        else:
            self.send(reply)

    def throttled_reply(self) -> Reply:
        limit = self.sim.max_concurrency
        retry_after = self.sim.concurrency_retry_after
        header = str(int(retry_after)) if float(retry_after).is_integer() else repr(float(retry_after))
        error = ODataError(
            429,
            CODE_THROTTLE_CONCURRENCY,
            f"Number of concurrent requests exceeded the limit of {limit}.",
            {"Retry-After": header},
        )
        return error_reply(error)

    def handle_admitted(
        self, operation: str, path: str, query: dict[str, str], fault: FaultRule | None
    ) -> Reply:
        delay = self.sim.latency + (fault.delay if fault is not None and fault.kind == "slow" else 0.0)
        if delay > 0:
            time.sleep(delay)
        if fault is not None and fault.kind == "status":
            return fault_reply(fault)
        try:
            if not path.startswith(API_PREFIX):
                raise ODataError(404, CODE_NO_SEGMENT, f"Resource not found for the segment '{path}'.")
            self.sim.check_bearer(self.headers.get("Authorization"))
            return self.sim.call_api(self.command, path[len(API_PREFIX) :], query, self.headers, self.body)
        except ODataError as error:
            return error_reply(error)

    def record(
        self, path: str, query: dict[str, str], status: int, operation: str, started: float, fault: str | None
    ) -> None:
        self.sim.record_call(self.command, path, query, self.headers, status, operation, started, fault)

    # ------------------------------------------------------------------ token endpoint

    def handle_token(self, query: dict[str, str]) -> Reply:
        """App Service managed identity (api-version 2019-08-01), as MSAL 1.3x calls it for azure-identity."""
        sim = self.sim
        sim.count_token_request(query)
        try:
            self.read_body()
        except ODataError as error:
            return msi_error(error.status, error.message)
        fault = sim.choose_fault("token")
        if fault is not None and fault.kind == "drop_before":
            self.drop_connection()
            raise _Dropped
        if fault is not None and fault.kind == "slow":
            time.sleep(fault.delay)
        if fault is not None and fault.kind == "status":
            return msi_error(fault.status, fault.error_message, fault.retry_after_header())
        reply = self.issue_token(query)
        if fault is not None and fault.kind == "drop_after_commit":
            self.drop_connection()
            raise _Dropped
        return reply

    def issue_token(self, query: dict[str, str]) -> Reply:
        sim = self.sim
        secret = self.headers.get("X-IDENTITY-HEADER")
        if self.command != "GET":
            return msi_error(405, "The token endpoint only answers GET.")
        if secret is None:
            return msi_error(400, "The X-IDENTITY-HEADER header is required.")
        if not hmac.compare_digest(secret.encode(), sim.identity_header.encode()):
            return msi_error(401, "The X-IDENTITY-HEADER header is not valid.")
        if query.get("api-version") != "2019-08-01":
            return msi_error(400, f"Unsupported api-version {query.get('api-version')!r}; use 2019-08-01.")
        resource = query.get("resource", "")
        if resource.rstrip("/") != sim.url:
            return msi_error(400, f"Resource {resource!r} is not this environment ({sim.url}).")
        token, expires_on = sim.issue_token()
        payload = {
            "access_token": token,
            "expires_on": str(expires_on),
            "resource": resource,
            "token_type": "Bearer",
            "client_id": query.get("client_id", "11111111-1111-1111-1111-111111111111"),
        }
        return Reply(200, json.dumps(payload).encode(), content_type="application/json")

    # ------------------------------------------------------------------ admin API

    def handle_admin(self, name: str) -> Reply:
        """Seed, inspect and fault a simulator running in another process. No auth: loopback dev tool."""
        try:
            body = self.read_body()
        except ODataError as error:
            return json_reply(error.status, {"error": {"code": "sim", "message": error.message}})
        try:
            data = json.loads(body) if body else {}
        except ValueError:
            return json_reply(400, {"error": {"code": "sim", "message": "body is not JSON"}})
        try:
            return self.sim.admin(self.command, name, data)
        except (ValueError, TypeError) as error:
            return json_reply(400, {"error": {"code": "sim", "message": str(error)}})


class _Dropped(Exception):
    """The connection was reset on purpose; nothing more to send."""


def fault_reply(fault: FaultRule) -> Reply:
    headers = {}
    retry_after = fault.retry_after_header()
    if retry_after is not None:
        headers["Retry-After"] = retry_after
    return Reply(fault.status, error_body(fault.error_code, fault.error_message), headers)


def msi_error(status: int, message: str, retry_after: str | None = None) -> Reply:
    """The App Service identity endpoint's error shape (MSAL reads statusCode and message)."""
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    payload = {"statusCode": status, "message": message, "correlationId": str(uuid.uuid4())}
    return Reply(status, json.dumps(payload).encode(), headers, content_type="application/json")


def unauthorized(base_url: str, message: str) -> ODataError:
    challenge = (
        f"Bearer authorization_uri=https://login.microsoftonline.com/{FAKE_TENANT}/oauth2/authorize, "
        f"resource_id={base_url}/"
    )
    return ODataError(401, CODE_UNAUTHORIZED, message, {"WWW-Authenticate": challenge})
