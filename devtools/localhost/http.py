"""The HTTP front: HTTP triggers on /api/<route>, served by Werkzeug's threaded WSGI server, which
parses, de-chunks and caps bodies and closes the connection after every response (leftover body bytes
are never read as a next request). Added here, as the Functions host does: framing refused from the
headers alone, percent-decoded route values, the function-key check, `POST /admin/functions/{name}`.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import azure.functions as func
from werkzeug import exceptions as errors
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from devtools.localhost.config import binding_type, enum_value, invoke, log_invocation, logger

# The app refuses bodies over 1 MiB itself (handoff_trigger.ingress.MAX_BODY_BYTES, a 413 problem
# document); the runner's limit sits a margin above it so the app's answer is what a client sees up to
# there. (The real host's is 100 MB; a dev runner has no reason to buffer that much.)
MAX_BODY_BYTES = 1024 * 1024 + 64 * 1024
READ_TIMEOUT_SECONDS = 30.0  # a client that stops sending frees its thread after this
_DISCARD_PAUSE_SECONDS = 0.05
_ENCODED_SLASH = re.compile("%2F", re.IGNORECASE)


@dataclass
class HttpRoute:
    function: Any
    trigger_arg: str
    pattern: re.Pattern[str]
    methods: frozenset[str] | None  # None: any method
    auth_level: str  # anonymous | function | admin


def _route_part(piece: str) -> str:
    """One piece of a route template ("items/", "{id}", "{*rest}", "{id:int?}") as a regex."""
    name = piece[1:-1].split(":", 1)[0].rstrip("?") if piece.startswith("{") else ""
    if not name:
        return re.escape(piece)
    return f"(?P<{name[1:]}>.*)" if name.startswith("*") else f"(?P<{name}>[^/]+)"


def _route(function: Any) -> HttpRoute:
    trigger = function.get_trigger()
    template = getattr(trigger, "route", None) or function.get_function_name()
    pattern = "".join(map(_route_part, re.split(r"(\{[^}]+\})", template.strip("/"))))
    methods = getattr(trigger, "methods", None)
    allowed = frozenset(enum_value(m).upper() for m in methods) if methods else None
    auth_level = enum_value(getattr(trigger, "auth_level", None) or "function").lower()
    return HttpRoute(function, trigger.name, re.compile(f"^{pattern}$", re.IGNORECASE), allowed, auth_level)


def decode_path(raw_path: str) -> str:
    """Percent-decode a path as Kestrel does for the host: all but %2F, so an encoded slash stays
    inside its route value ("a%2Fb" reaches the function as is) instead of splitting it."""
    return "%2F".join(unquote(part, errors="replace") for part in _ENCODED_SLASH.split(raw_path))


def check_framing(environ: dict[str, Any]) -> None:
    """Refuse from the headers alone, before a body byte is read, what cannot be framed safely."""
    coding, length = environ.get("HTTP_TRANSFER_ENCODING"), environ.get("CONTENT_LENGTH")
    if coding is not None and length is not None:  # RFC 9112 6.3: a request smuggling signal
        raise errors.BadRequest("both Content-Length and Transfer-Encoding")
    if coding is not None and coding.strip(" \t").lower() != "chunked":
        raise errors.NotImplemented("only chunked transfer coding is supported")
    digits = "0" if length is None else length.strip(" \t")
    if not digits.isascii() or not digits.isdigit():
        raise errors.BadRequest("Content-Length is not a number")
    if len(digits) > 15:
        raise errors.RequestEntityTooLarge()


class _Request(Request):
    # Werkzeug refuses a declared length past this and stops reading a chunked body at it, silently:
    # one byte over the limit tells an over-long chunked body apart.
    max_content_length = MAX_BODY_BYTES + 1

    def body(self) -> bytes:
        try:
            data = self.get_data()
        except errors.ClientDisconnected as exc:  # ended early, a malformed chunk, or timed out
            if isinstance(exc.__context__, TimeoutError):
                raise errors.RequestTimeout() from exc
            raise
        if len(data) > MAX_BODY_BYTES:
            raise errors.RequestEntityTooLarge()
        return data


def to_wsgi_response(response: func.HttpResponse) -> Response:
    """A function's HttpResponse as Werkzeug sends it: status, headers, content type, body."""
    hop_by_hop = ("content-type", "content-length", "transfer-encoding", "connection")
    content_type = response.headers.get("content-type")
    if content_type is None and response.mimetype:
        content_type = response.mimetype + (f"; charset={response.charset}" if response.charset else "")
    headers = [(k, v) for k, v in response.headers.items() if k.lower() not in hop_by_hop]
    return Response(response.get_body() or b"", response.status_code, headers, content_type=content_type)


class HttpFront:
    def __init__(self, functions: list[Any], function_key: str) -> None:
        self.routes = [_route(f) for f in functions if binding_type(f) == "httpTrigger"]
        self.function_key = function_key
        self.base_url = ""  # set once the port is bound
        # Non-HTTP functions by lower-case name: `input` -> outcome, for POST /admin/functions/{name}.
        self.admin_invokers: dict[str, Callable[[str], str]] = {}

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        try:
            response = self.handle(_Request(environ))
        except errors.HTTPException as refusal:  # the host's status; only the function's code can 500
            response = refusal.get_response(environ)
        yield from response(environ, start_response)
        # The answer is out. Werkzeug now discards unread body bytes with reads that wait for 10 MB
        # each: a client that sent part of a refused body and waits would hold the thread until the
        # read timeout. A short timeout ends the discard as soon as the client pauses.
        environ["werkzeug.socket"].settimeout(_DISCARD_PAUSE_SECONDS)

    def handle(self, request: _Request) -> Response:
        check_framing(request.environ)
        split = urlsplit(str(request.environ.get("RAW_URI") or request.path))
        path = decode_path(split.path)
        if path.lower().startswith("/admin/functions/"):
            return self._admin_invoke(request, path[len("/admin/functions/") :].strip("/").lower())
        relative, api = path[len("/api/") :].strip("/"), path.lower().startswith("/api/")
        matches = [(r, m) for r in self.routes if api and (m := r.pattern.match(relative))]
        if not matches:
            raise errors.NotFound()
        allowed = [(r, m) for r, m in matches if r.methods is None or request.method in r.methods]
        if not allowed:
            raise errors.MethodNotAllowed(sorted({m for r, _ in matches for m in r.methods or ()}))
        route, match = allowed[0]
        headers = {k.lower(): v for k, v in request.headers.items()}
        params = {k: v for k, v in request.args.items() if k != "code"}
        supplied = (headers.get("x-functions-key") or request.args.get("code", "")).encode()
        if route.auth_level != "anonymous" and not hmac.compare_digest(supplied, self.function_key.encode()):
            raise errors.Unauthorized()
        url = f"{self.base_url}{split.path}{'?' + split.query if split.query else ''}"
        values = {k: v for k, v in match.groupdict().items() if v is not None}
        http_request = func.HttpRequest(
            request.method, url, headers=headers, params=params, route_params=values, body=request.body()
        )
        invocation_id, started = str(uuid.uuid4()), time.monotonic()
        traceparent = headers.get("traceparent")
        outcome, result = invoke(route.function, route.trigger_arg, http_request, invocation_id, traceparent)
        log_invocation(route.function.get_function_name(), invocation_id, started, outcome)
        if outcome != "ok" or not isinstance(result, func.HttpResponse):  # the app's functions return one
            result = func.HttpResponse("Internal Server Error", status_code=500, mimetype="text/plain")
        return to_wsgi_response(result)

    def _admin_invoke(self, request: _Request, name: str) -> Response:
        """Core Tools' `POST /admin/functions/{name}` with `{"input": "..."}`: runs a non-HTTP function
        in the background and answers 202 at once, as the host does. No key, as under `func start`."""
        if (invoker := self.admin_invokers.get(name)) is None:
            raise errors.NotFound("no non-HTTP function by that name")
        if request.method != "POST":
            raise errors.MethodNotAllowed(["POST"])
        try:
            data = json.loads(request.body() or b"{}")
        except ValueError:
            raise errors.BadRequest('the body must be JSON like {"input": ""}') from None
        if not isinstance(data, dict) or not isinstance(data.get("input", ""), str):
            raise errors.BadRequest("input must be a string")
        threading.Thread(target=invoker, args=(data.get("input") or "",), daemon=True).start()
        return Response(status=202)


class _RequestHandler(WSGIRequestHandler):
    """Werkzeug's handler with a read timeout, and its access log in the runner's log at DEBUG."""

    timeout = READ_TIMEOUT_SECONDS

    def log(self, type: str, message: str, *args: Any) -> None:
        logger.log(logging.WARNING if type == "error" else logging.DEBUG, "http " + message, *args)


def make_http_server(bind: str, port: int, front: HttpFront) -> BaseWSGIServer:
    """A threaded Werkzeug server (one daemon thread per connection) bound now, served later."""
    server = make_server(bind, port, front, threaded=True, request_handler=_RequestHandler)
    front.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    return server
