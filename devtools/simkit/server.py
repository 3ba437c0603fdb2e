"""The HTTP plumbing every loopback simulator shares: a threaded server that can cut its keep-alive
clients off, and a handler base that frames requests and replies (HTTP/1.1 keep-alive, Content-Length),
reads bodies (chunked too), resets connections on purpose and applies the transport faults.

What a request means (routes, auth, error shapes) stays in each simulator: it subclasses SimHandler and
fills in `route`, `body_error`, `crash_reply` and `admin_error`.
"""

from __future__ import annotations

import contextlib
import io
import json
import socket
import struct
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from devtools.simkit.faults import FaultRule

ADMIN_PREFIX = "/_sim/"
MAX_BODY = 4 * 1024 * 1024
JSON = "application/json; charset=utf-8"


class Host(Protocol):
    """What the server needs from the simulator behind it."""

    lock: threading.Lock

    def record_error(self, text: str) -> None: ...


@dataclass
class Reply:
    """A response built before anything is written, so "drop after commit" can decide not to send it."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str | None = JSON


class Dropped(Exception):
    """The connection was reset on purpose; nothing more to send."""


class BodyError(Exception):
    """A request body that cannot be read (bad length, too large); `status` is the answer's."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class LoopbackServer(ThreadingHTTPServer):
    """Threaded server that tracks open connections, so stop() really cuts keep-alive clients off."""

    daemon_threads = True
    block_on_close = False
    request_queue_size = 1024  # the default of 5 drops SYNs under a burst of 50+ new connections
    handler_class: type[BaseHTTPRequestHandler]  # each simulator names its handler

    def __init__(self, address: tuple[str, int], sim: Any) -> None:
        self.sim = sim
        self.open_connections: set[socket.socket] = set()
        super().__init__(address, self.handler_class)

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
    server_version = "Simulator/1.0"
    sys_version = ""
    disable_nagle_algorithm = True
    wbufsize = 64 * 1024  # headers and body leave in one write, flushed by handle_one_request
    timeout = 120  # idle keep-alive connections are closed eventually
    unquote_path = True  # False: routes split the raw path first, so an encoded '/' stays in one segment
    bad_length_message = "Content-Length is not a number."
    too_large_message = f"Request body over {MAX_BODY} bytes."
    server: LoopbackServer

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: request lines carry ids, benchmarks send thousands, and tests read records instead."""

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

    # ------------------------------------------------------------------ what a simulator fills in

    def route(self, path: str, query: dict[str, str]) -> None:
        """Answer one request (send a reply, or drop the connection)."""
        raise NotImplementedError

    def body_error(self, status: int, message: str) -> Exception:
        """The simulator's own error for an unreadable body, raised by read_body."""
        return BodyError(status, message)

    def crash_reply(self) -> Reply:
        """The 500 answered when the simulator itself fails."""
        return Reply(500, json.dumps({"error": "Simulator error; see sim.errors."}).encode())

    def admin_error(self, status: int, message: str) -> Reply:
        """The admin API's error shape (plain JSON, never the contract's)."""
        return Reply(status, json.dumps({"error": message}).encode())

    # ------------------------------------------------------------------ plumbing

    def dispatch(self) -> None:
        split = urlsplit(self.path)
        path = unquote(split.path) if self.unquote_path else split.path
        query = {key: values[-1] for key, values in parse_qs(split.query, keep_blank_values=True).items()}
        try:
            self.route(path, query)
        except Dropped:
            return
        except Exception:  # a simulator bug must surface as a 500 and in sim.errors, not a hung client
            self.server.sim.record_error(traceback.format_exc())
            self.close_connection = True
            self.send(self.crash_reply())

    def read_body(self) -> bytes:
        """Consume the request body even when it is not needed, so keep-alive framing stays intact."""
        try:
            return self.read_raw_body()
        except BodyError as error:
            raise self.body_error(error.status, error.message) from None

    def read_raw_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return b"".join(self._chunks())
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            self.close_connection = True
            raise BodyError(400, self.bad_length_message) from None
        if length > MAX_BODY:
            self.close_connection = True
            raise BodyError(413, self.too_large_message)
        return self.rfile.read(length) if length > 0 else b""

    def _chunks(self) -> Iterator[bytes]:
        total = 0
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return
            total += size
            if total > MAX_BODY:
                self.close_connection = True
                raise BodyError(413, self.too_large_message)
            yield self.rfile.read(size)
            self.rfile.readline()

    def entity_headers(self, reply: Reply) -> dict[str, str]:
        """Content-Type and Content-Length of a reply (a simulator may add its protocol's headers)."""
        headers = {"Content-Type": reply.content_type} if reply.content_type and reply.body else {}
        headers["Content-Length"] = str(len(reply.body))
        return headers

    def send(self, reply: Reply) -> None:
        self.send_response(reply.status)
        for headers in (self.entity_headers(reply), reply.headers):
            for name, value in headers.items():
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

    # ------------------------------------------------------------------ transport faults

    def pause(self, latency: float, fault: FaultRule | None) -> None:
        """The configured latency, plus a `slow` fault's delay."""
        delay = latency + (fault.delay if fault is not None and fault.kind == "slow" else 0.0)
        if delay > 0:
            time.sleep(delay)

    def deliver(self, reply: Reply, fault: FaultRule | None) -> None:
        """Send the reply, or, for `drop_after_commit`, reset the connection instead."""
        if fault is not None and fault.kind == "drop_after_commit":
            self.drop_connection()
        else:
            self.send(reply)

    # ------------------------------------------------------------------ admin API

    def admin_reply(self, call: Callable[[Any], Reply]) -> Reply:
        """Read the admin call's JSON body and hand it to `call`; ValueError/TypeError become 400s.
        No auth: a loopback dev tool."""
        try:
            body = self.read_raw_body()
        except BodyError as error:
            return self.admin_error(error.status, error.message)
        try:
            data = json.loads(body) if body else {}
        except ValueError:
            return self.admin_error(400, "body is not JSON")
        try:
            return call(data)
        except (ValueError, TypeError) as error:
            return self.admin_error(400, str(error))
