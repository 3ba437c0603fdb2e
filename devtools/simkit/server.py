"""The HTTP plumbing every loopback simulator shares, on werkzeug's threaded WSGI server.

Werkzeug parses requests and frames responses. What no library does stays here: resetting a
connection on purpose (SO_LINGER 0, no response), injected latency, cutting every open connection on
stop() as an outage would, and the admin API's JSON plumbing. What a request means stays in each
simulator: it subclasses SimHandler and fills in `route`, `body_error_reply`, `crash_reply`, `admin_error`.
"""

from __future__ import annotations

import contextlib
import io
import json
import socket
import struct
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit

from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler
from werkzeug.wrappers import Request, Response

from devtools.simkit.faults import FaultRule

ADMIN_PREFIX = "/_sim/"
MAX_BODY = 4 * 1024 * 1024
JSON = "application/json; charset=utf-8"
_CONNECTION = "devtools.simkit.connection"
RuleT = TypeVar("RuleT", bound=FaultRule)


@dataclass
class Reply:
    """A response built before anything is written, so "drop after commit" can decide not to send it."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str | None = JSON
    stream: Iterable[bytes] | None = None  # a body sent as it is produced; `headers` then say it all


def json_reply(status: int, payload: Any, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, json.dumps(payload).encode(), dict(headers or {}))


class Dropped(Exception):
    """The connection was reset on purpose; nothing more to send."""


class BodyError(Exception):
    """A request body that cannot be read (bad length, too large): args are the answer's status, message."""


class _Connection(WSGIRequestHandler):
    """werkzeug's request handler, quiet, naming the simulator, and able to reset its connection."""

    timeout = 120  # a client that connects and never sends frees its thread eventually

    def make_environ(self) -> Any:
        return {**super().make_environ(), _CONNECTION: self}

    def version_string(self) -> str:
        return self.server.handler_class.server_version  # type: ignore[attr-defined]

    def log(self, type: str, message: str, *args: Any) -> None:
        """Quiet, request lines too: benchmarks send thousands; tests read records and sim.errors."""

    def reset(self) -> None:
        """Answer nothing: later writes go nowhere, and the socket closes with SO_LINGER 0 (an RST)
        in LoopbackServer.shutdown_request, never with a FIN first."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.wfile = io.BytesIO()


class LoopbackServer(ThreadedWSGIServer):
    """werkzeug's threaded server that tracks open connections, so stop() really cuts clients off."""

    daemon_threads = True
    block_on_close = False
    request_queue_size = 1024  # the default of 5 drops SYNs under a burst of 50+ new connections
    handler_class: type[SimHandler]  # each simulator names its handler

    def __init__(self, address: tuple[str, int], sim: Any, handler: type[SimHandler] | None = None) -> None:
        self.sim = sim
        if handler is not None:
            self.handler_class = handler
        self.open_connections: set[socket.socket] = set()
        super().__init__(address[0], address[1], self.wsgi, handler=_Connection)

    def wsgi(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        handler = self.handler_class(self, Request(environ), environ[_CONNECTION])
        handler.dispatch()
        return handler.response(environ, start_response)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.sim.lock:
            self.open_connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.sim.lock:
            self.open_connections.discard(request)
        with contextlib.suppress(OSError):
            linger = request.getsockopt(socket.SOL_SOCKET, socket.SO_LINGER, 8)
            if struct.unpack("ii", linger)[0]:  # reset on purpose: close now, no FIN before the RST
                request.close()
                return
        super().shutdown_request(request)

    def cut_all_connections(self) -> None:
        with self.sim.lock:
            connections = list(self.open_connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class SimHandler:
    """One request: werkzeug's Request in, one Reply (or a reset connection) out."""

    server_version = "Simulator/1.0"
    unquote_path = True  # False: routes split the raw path first, so an encoded '/' stays in one segment
    max_body = MAX_BODY
    bad_length_message = "Content-Length is not a number."
    too_large_message = "Request body over {max_body} bytes."
    admin_missing_status = 404  # the answer to an admin call naming an id the simulator does not hold

    def __init__(self, server: LoopbackServer, request: Request, connection: _Connection) -> None:
        self.server, self.request, self.connection = server, request, connection
        request.max_content_length = self.max_body
        self.headers, self.command = request.headers, request.method
        self.reply: Reply | None = None

    def route(self, path: str, query: dict[str, str]) -> None:
        raise NotImplementedError

    def body_error_reply(self, status: int, message: str) -> Reply:
        """The simulator's own answer to an API request whose body cannot be read."""
        return self.admin_error(status, message)

    def crash_reply(self) -> Reply:
        return Reply(500, json.dumps({"error": "Simulator error; see sim.errors."}).encode())

    def admin_error(self, status: int, message: str) -> Reply:
        """The admin API's error shape (plain JSON, never the contract's)."""
        return Reply(status, json.dumps({"error": message}).encode())

    def dispatch(self) -> None:
        path = self.request.path if self.unquote_path else urlsplit(self.request.environ["RAW_URI"]).path
        query = {key: values[-1] for key, values in self.request.args.lists()}
        files = self.server.sim.files  # a simkit.files.FileHost mounted at /files/, or None
        try:
            if files is not None and path.startswith("/files/"):
                self.send(files.answer(self.request))
            else:
                self.route(path, query)
        except Dropped:
            return
        except Exception:  # a simulator bug must surface as a 500 and in sim.errors, not a hung client
            self.server.sim.record_error(traceback.format_exc())
            self.send(self.crash_reply())

    def read_api_body(self, record: Callable[[int, str | None], None]) -> bytes | None:
        """The API request's body, or None once the client was told (and the call recorded) why not."""
        try:
            return self.read_raw_body()
        except BodyError as error:
            reply = self.body_error_reply(*error.args)
            record(reply.status, None)
            self.send(reply)
            return None

    def read_raw_body(self) -> bytes:
        length = self.headers.get("Content-Length")
        if length is not None and not length.strip().isdigit():
            raise BodyError(400, self.bad_length_message)
        try:
            return self.request.get_data()
        except RequestEntityTooLarge:
            raise BodyError(413, self.too_large_message.format(max_body=self.max_body)) from None

    def entity_headers(self, reply: Reply) -> dict[str, str]:
        """Content-Type and Content-Length of a reply (a simulator may add its protocol's headers)."""
        headers = {"Content-Type": reply.content_type} if reply.content_type and reply.body else {}
        return {**headers, "Content-Length": str(len(reply.body))}

    def send(self, reply: Reply) -> None:
        self.reply = reply

    def response(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        reply = self.reply or Reply(500, b"")
        body = reply.stream if reply.stream is not None else reply.body if reply.status != 204 else b""
        response = Response(body, reply.status)
        response.headers.clear()
        for headers in ({} if reply.stream is not None else self.entity_headers(reply), reply.headers):
            response.headers.extend(headers)
        response.automatically_set_content_length = False
        return response(environ, start_response)

    def drop_connection(self) -> None:
        """Reset the TCP connection without a response (SO_LINGER 0 sends RST): a real network failure."""
        self.connection.reset()

    def serve_api(
        self,
        *,
        choose_fault: Callable[[], RuleT | None],
        handle: Callable[[], Reply],
        fault_reply: Callable[[RuleT], Reply],
        record: Callable[[int, str | None], None],
        latency: float = 0.0,
        limit: int | None = None,
        refused: Callable[[], Reply] | None = None,
    ) -> None:
        """One API call: a slot in flight (or `refused()` past `limit`), the fault, the latency, then
        `handle`. Recorded (status 0 for a connection dropped first) before it is answered, so a client
        that has seen the outcome also sees it in sim.requests."""
        sim = self.server.sim
        if not sim.enter(limit):
            reply = refused() if refused is not None else Reply(503, b"")
            record(reply.status, None)
            return self.send(reply)
        try:
            fault = choose_fault()
            if fault is not None and fault.kind == "drop_before":
                record(0, fault.kind)
                return self.drop_connection()
            self.pause(latency, fault)
            reply = fault_reply(fault) if fault is not None and fault.kind == "status" else handle()
        finally:
            sim.leave()
        record(reply.status, fault.kind if fault is not None else None)
        self.deliver(reply, fault)

    def pause(self, latency: float, fault: FaultRule | None) -> None:
        delay = latency + (fault.delay if fault is not None and fault.kind == "slow" else 0.0)
        if delay > 0:
            time.sleep(delay)

    def deliver(self, reply: Reply, fault: FaultRule | None) -> None:
        if fault is not None and fault.kind == "drop_after_commit":
            self.drop_connection()
        else:
            self.send(reply)

    def call_admin(self, name: str, query: dict[str, str]) -> Reply:
        """`/_sim/<name>` through `sim.admin(method, name, data, query)`: KeyError/IndexError (an unknown
        id) answer `admin_missing_status`, ValueError/TypeError 400."""

        def call(data: Any) -> Reply:
            try:
                return self.server.sim.admin(self.command, name, data, query)
            except (KeyError, IndexError) as error:
                return self.admin_error(self.admin_missing_status, f"not found: {error.args[0]!s}")

        return self.admin_reply(call)

    def admin_reply(self, call: Callable[[Any], Reply]) -> Reply:
        """Hand the admin call's JSON body to `call`; ValueError/TypeError become 400s. No auth: loopback."""
        try:
            body = self.read_raw_body()
            data = json.loads(body) if body else {}
        except BodyError as error:
            return self.admin_error(*error.args)
        except ValueError:
            return self.admin_error(400, "body is not JSON")
        try:
            return call(data)
        except (ValueError, TypeError) as error:
            return self.admin_error(400, str(error))
