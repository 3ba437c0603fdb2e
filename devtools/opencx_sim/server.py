"""The HTTP side: a ThreadingHTTPServer that speaks the four chat-session operations, with faults, the
per-key limit and a `/_sim/` admin API. Plumbing only; what each operation does lives in the simulator."""

from __future__ import annotations

import contextlib
import io
import json
import socket
import struct
import sys
import time
import traceback
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

from devtools.opencx_sim.contract import ApiError, error_body

if TYPE_CHECKING:
    from devtools.opencx_sim.faults import FaultRule
    from devtools.opencx_sim.simulator import OpenCXSimulator

ADMIN_PREFIX = "/_sim/"
MAX_BODY = 4 * 1024 * 1024


@dataclass
class Reply:
    """A response built before anything is written, so "drop after commit" can decide not to send it."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str | None = "application/json; charset=utf-8"


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


class SimServer(ThreadingHTTPServer):
    """Threaded server that tracks open connections, so stop() really cuts keep-alive clients off."""

    daemon_threads = True
    block_on_close = False
    request_queue_size = 1024  # the default of 5 drops SYNs under a burst of new connections

    def __init__(self, address: tuple[str, int], sim: OpenCXSimulator) -> None:
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
    server_version = "OpenCXSimulator/1.0"
    sys_version = ""
    disable_nagle_algorithm = True
    wbufsize = 64 * 1024
    timeout = 120
    server: SimServer

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: request lines carry session ids, and tests read records instead."""

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

    @property
    def sim(self) -> OpenCXSimulator:
        return self.server.sim

    def dispatch(self) -> None:
        split = urlsplit(self.path)
        query = {key: values[-1] for key, values in parse_qs(split.query, keep_blank_values=True).items()}
        try:
            if split.path.startswith(ADMIN_PREFIX):
                self.send(self.handle_admin(split.path[len(ADMIN_PREFIX) :], query))
            else:
                self.handle_api(split.path, query)
        except Exception:  # a simulator bug must surface as a 500 and in sim.errors, not a hung client
            self.sim.record_error(traceback.format_exc())
            self.close_connection = True
            self.send(json_reply(500, error_body(500, "Simulator error; see sim.errors.")))

    def read_body(self) -> bytes:
        """Consume the body even when unused, so keep-alive framing stays intact."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self.read_chunked()
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            self.close_connection = True
            raise ApiError(400, "Content-Length is not a number") from None
        if length > MAX_BODY:
            self.close_connection = True
            raise ApiError(413, f"Request body is too large (over {MAX_BODY} bytes)")
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
                raise ApiError(413, f"Request body is too large (over {MAX_BODY} bytes)")
            chunks.append(self.rfile.read(size))
            self.rfile.readline()

    def send(self, reply: Reply) -> None:
        self.send_response(reply.status)
        if reply.content_type and reply.body:
            self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if reply.body:
            self.wfile.write(reply.body)

    def drop_connection(self) -> None:
        """Reset the TCP connection without a response (SO_LINGER 0 sends RST): a real network failure."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        for stream in (self.rfile, self.wfile):
            with contextlib.suppress(OSError):
                stream.close()
        self.rfile, self.wfile = io.BytesIO(), io.BytesIO()
        self.connection.close()

    # ------------------------------------------------------------------ the API

    def handle_api(self, path: str, query: dict[str, str]) -> None:
        """Fault, latency, then auth, limit, scope and the operation; every call is recorded."""
        sim = self.sim
        started = time.perf_counter()
        operation, session_id = classify(self.command, path)
        self.key_name: str | None = None
        try:
            body = self.read_body()
        except ApiError as error:
            self.answer(error_reply(error), None, path, query, operation, session_id, started)
            return
        sim.enter()
        try:
            fault = sim.choose_fault(operation, session_id)
            if fault is not None and fault.kind == "drop_before":
                sim.record(self, path, query, 0, operation, session_id, started, fault.kind)
                self.drop_connection()
                return
            reply = self.handle_admitted(operation, session_id, query, body, fault)
        finally:
            sim.leave()
        self.answer(reply, fault, path, query, operation, session_id, started)

    def handle_admitted(
        self,
        operation: str,
        session_id: str | None,
        query: dict[str, str],
        body: bytes,
        fault: FaultRule | None,
    ) -> Reply:
        sim = self.sim
        delay = sim.latency + (fault.delay if fault is not None and fault.kind == "slow" else 0.0)
        if delay > 0:
            time.sleep(delay)
        if fault is not None and fault.kind == "status":
            return fault_reply(fault)
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

    def answer(
        self,
        reply: Reply,
        fault: FaultRule | None,
        path: str,
        query: dict[str, str],
        operation: str,
        session_id: str | None,
        started: float,
    ) -> None:
        """Record the call, then send the reply (or reset the connection instead, after the commit).
        Recording first means a client that has seen the outcome also sees it in sim.requests."""
        kind = fault.kind if fault else None
        self.sim.record(self, path, query, reply.status, operation, session_id, started, kind)
        if fault is not None and fault.kind == "drop_after_commit":
            self.drop_connection()
        else:
            self.send(reply)

    # ------------------------------------------------------------------ admin API

    def handle_admin(self, name: str, query: dict[str, str]) -> Reply:
        """Seed, inspect and fault a simulator running in another process. No auth: loopback dev tool."""
        try:
            body = self.read_body()
        except ApiError as error:
            return json_reply(error.status, {"error": error.message})
        try:
            data = json.loads(body) if body else {}
        except ValueError:
            return json_reply(400, {"error": "body is not JSON"})
        try:
            return self.sim.admin(self.command, name, data, query)
        except (ValueError, TypeError) as error:
            return json_reply(400, {"error": str(error)})
        except KeyError as error:
            return json_reply(404, {"error": f"no such session: {error.args[0]!s}"})


def fault_reply(fault: FaultRule) -> Reply:
    headers: dict[str, str] = {}
    retry_after = fault.retry_after_header()
    if retry_after is not None:
        headers["Retry-After"] = retry_after
    message = fault.message or f"Simulated {fault.status} fault"
    return json_reply(fault.status, error_body(fault.status, message), headers)


def check_json_content_type(content_type: str) -> None:
    """A JSON API refuses a body it cannot parse as JSON (undocumented; Fastify answers 415)."""
    if content_type.split(";")[0].strip().lower() != "application/json":
        raise ApiError(415, f"Unsupported Media Type: {content_type or '(none)'}")
