"""The HTTP front: HTTP triggers served on /api/<route> through Werkzeug's threaded WSGI server.

Werkzeug parses the request line and headers, de-chunks `Transfer-Encoding: chunked` bodies and
closes the connection after every response (so leftover body bytes can never be read as a next
request). This module adds what the Functions host adds on top: body framing checked before
anything is read (400 for a Content-Length that is not a number, 413 past the size limit, 501 for
a transfer coding other than chunked), routing with percent-decoded route values, 404/405, and the
function-key check.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import IO, Any
from urllib.parse import parse_qsl, unquote, urlsplit

import azure.functions as func
from werkzeug.datastructures import Headers
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Response

from devtools.localhost.config import binding_type, enum_value
from devtools.localhost.invocation import call_user_function, log_invocation, logger

# The app refuses bodies over 1 MiB itself (handoff_trigger.ingress.MAX_BODY_BYTES, a 413 problem
# document). The runner's own limit sits a margin above it so the app's answer is what a client
# sees up to there, and anything bigger is refused from its headers without being read. (The
# real host's limit is 100 MB; a dev runner has no reason to buffer that much.)
MAX_BODY_BYTES = 1024 * 1024 + 64 * 1024
READ_TIMEOUT_SECONDS = 30.0  # a client that stops sending frees its thread after this
_DISCARD_PIECE = 64 * 1024
_READER_KEY = "devtools.localhost.reader"
_DIGITS = re.compile(r"[0-9]+")
_ENCODED_SLASH = re.compile("%2F", re.IGNORECASE)
_READ_CHUNK = 64 * 1024


@dataclass
class HttpRoute:
    function: Any
    trigger_arg: str
    pattern: re.Pattern[str]
    methods: frozenset[str] | None  # None: any method
    auth_level: str  # anonymous | function | admin


def _route_pattern(route: str) -> re.Pattern[str]:
    """Turn a route template ("items/{id}", "{*rest}") into a regex with named groups."""
    parts = []
    for piece in re.split(r"(\{[^}]+\})", route.strip("/")):
        if piece.startswith("{") and piece.endswith("}"):
            name = piece[1:-1].split(":", 1)[0].rstrip("?")
            if name.startswith("*"):
                parts.append(f"(?P<{name[1:]}>.*)")
            else:
                parts.append(f"(?P<{name}>[^/]+)")
        else:
            parts.append(re.escape(piece))
    return re.compile("^" + "".join(parts) + "$", re.IGNORECASE)


def http_routes(functions: list[Any]) -> list[HttpRoute]:
    """One route per HTTP-triggered function, from its own binding metadata."""
    routes = []
    for function in functions:
        if binding_type(function) != "httpTrigger":
            continue
        trigger = function.get_trigger()
        methods = getattr(trigger, "methods", None)
        routes.append(
            HttpRoute(
                function=function,
                trigger_arg=trigger.name,
                pattern=_route_pattern(getattr(trigger, "route", None) or function.get_function_name()),
                methods=frozenset(enum_value(m).upper() for m in methods) if methods else None,
                auth_level=enum_value(getattr(trigger, "auth_level", None) or "function").lower(),
            )
        )
    return routes


def decode_path(raw_path: str) -> str:
    """Percent-decode a request path the way Kestrel does for the Functions host: everything
    except %2F, so an encoded slash stays inside its route value instead of splitting it.
    (Our reading of ASP.NET Core's routing; a route value "a%2Fb" reaches the function as is.)"""
    return "%2F".join(unquote(part, errors="replace") for part in _ENCODED_SLASH.split(raw_path))


def _plain(status: int, text: str, headers: Mapping[str, str] | None = None) -> func.HttpResponse:
    return func.HttpResponse(text, status_code=status, mimetype="text/plain", headers=dict(headers or {}))


class HttpRefusal(Exception):
    """The request cannot be served as framed; carries the status the client gets."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status = status
        self.text = text


def check_framing(environ: Mapping[str, Any], limit: int = MAX_BODY_BYTES) -> int | None:
    """Validate Content-Length / Transfer-Encoding from the headers alone, before any body byte is
    read. Returns the declared length, or None for a chunked body."""
    coding = environ.get("HTTP_TRANSFER_ENCODING")
    length = environ.get("CONTENT_LENGTH")
    if coding is not None:
        if length is not None:  # RFC 9112 6.3: a request smuggling signal; refuse it outright
            raise HttpRefusal(400, "Bad Request: both Content-Length and Transfer-Encoding")
        if coding.strip(" \t").lower() != "chunked":
            raise HttpRefusal(501, "Not Implemented: only chunked transfer coding is supported")
        return None
    if length is None:
        return 0
    digits = length.strip(" \t")
    if not _DIGITS.fullmatch(digits):
        raise HttpRefusal(400, "Bad Request: Content-Length is not a number")
    if len(digits) > 15 or int(digits) > limit:
        raise HttpRefusal(413, f"Payload Too Large: the limit is {limit} bytes")
    return int(digits)


def read_body(stream: IO[bytes], declared: int | None, limit: int = MAX_BODY_BYTES) -> bytes:
    """Read exactly `declared` bytes, or a whole de-chunked body (None) up to `limit`."""
    parts: list[bytes] = []
    size = 0
    try:
        while declared is None or size < declared:
            want = _READ_CHUNK if declared is None else declared - size
            chunk = stream.read(min(want, _READ_CHUNK, limit + 1 - size))
            if not chunk:
                break
            parts.append(chunk)
            size += len(chunk)
            if size > limit:
                raise HttpRefusal(413, f"Payload Too Large: the limit is {limit} bytes")
    except TimeoutError as exc:
        raise HttpRefusal(408, "Request Timeout") from exc
    except OSError as exc:  # Werkzeug's DechunkedInput: a malformed chunk
        raise HttpRefusal(400, f"Bad Request: {exc}") from exc
    if declared is not None and size < declared:
        raise HttpRefusal(400, "Bad Request: the body is shorter than Content-Length")
    return b"".join(parts)


def to_wsgi_response(response: func.HttpResponse) -> Response:
    """A function's HttpResponse as Werkzeug sends it: status, headers, content type, body."""
    headers = Headers()
    content_type = None
    for name, value in response.headers.items():
        if name.lower() == "content-type":
            content_type = value
        elif name.lower() not in ("content-length", "transfer-encoding", "connection"):
            headers.add(name, value)
    if content_type is None and response.mimetype:
        charset = f"; charset={response.charset}" if response.charset else ""
        content_type = f"{response.mimetype}{charset}"
    return Response(
        response.get_body() or b"", status=response.status_code, headers=headers, content_type=content_type
    )


class HttpFront:
    """The WSGI application: framing, routing, key check, invocation."""

    def __init__(self, functions: list[Any], function_key: str, limit: int = MAX_BODY_BYTES) -> None:
        self.routes = http_routes(functions)
        self.function_key = function_key
        self.limit = limit
        self.base_url = ""  # set by the host once the port is bound
        # Non-HTTP functions by lower-case name: `input` -> outcome, for POST /admin/functions/{name}.
        self.admin_invokers: dict[str, Callable[[str], str]] = {}

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        response = to_wsgi_response(self.handle(environ))
        yield from response(environ, start_response)
        reader = environ.get(_READER_KEY)
        if isinstance(reader, _ConnectionReader):  # the answer is out: discard only what has come
            reader.discarding = True

    def handle(self, environ: dict[str, Any]) -> func.HttpResponse:
        """Every refusal gets the host's status code; only the function's own code can 500."""
        method = str(environ["REQUEST_METHOD"]).upper()
        target = str(environ.get("RAW_URI") or environ.get("PATH_INFO") or "/")
        split = urlsplit(target)
        try:
            declared = check_framing(environ, self.limit)
        except HttpRefusal as refusal:
            return _plain(refusal.status, refusal.text)
        path = decode_path(split.path)
        if path.lower().startswith("/admin/functions/"):
            return self._admin_invoke(method, path, environ, declared)
        if not path.lower().startswith("/api/"):
            return _plain(404, "Not Found")
        params = dict(parse_qsl(split.query, keep_blank_values=True))
        relative = path[len("/api/") :].strip("/")
        matches = [(r, m) for r in self.routes if (m := r.pattern.match(relative))]
        if not matches:
            return _plain(404, "Not Found")
        allowed = [(r, m) for r, m in matches if r.methods is None or method in r.methods]
        if not allowed:
            methods = sorted({m for r, _ in matches for m in (r.methods or ())})
            return _plain(405, "Method Not Allowed", {"Allow": ", ".join(methods)})  # RFC 9110
        route, match = allowed[0]
        headers = {_header_name(k): str(v) for k, v in environ.items() if _header_name(k)}
        if route.auth_level != "anonymous" and not self._key_ok(headers, params):
            return _plain(401, "Unauthorized")
        try:
            body = read_body(environ["wsgi.input"], declared, self.limit)
        except HttpRefusal as refusal:
            return _plain(refusal.status, refusal.text)
        params.pop("code", None)
        request = func.HttpRequest(
            method=method,
            url=f"{self.base_url}{split.path}{'?' + split.query if split.query else ''}",
            headers=headers,
            params=params,
            route_params={k: v for k, v in match.groupdict().items() if v is not None},
            body=body,
        )
        return self._invoke(route, request)

    def _admin_invoke(
        self, method: str, path: str, environ: dict[str, Any], declared: int | None
    ) -> func.HttpResponse:
        """Core Tools' `POST /admin/functions/{name}` with `{"input": "..."}`: runs a non-HTTP function
        in the background and answers 202 at once, as the host does. No key, as under `func start`."""
        name = path[len("/admin/functions/") :].strip("/").lower()
        invoker = self.admin_invokers.get(name)
        if invoker is None:
            return _plain(404, "Not Found: no non-HTTP function by that name")
        if method != "POST":
            return _plain(405, "Method Not Allowed", {"Allow": "POST"})
        try:
            body = read_body(environ["wsgi.input"], declared, self.limit)
        except HttpRefusal as refusal:
            return _plain(refusal.status, refusal.text)
        try:
            data = json.loads(body or b"{}")
        except ValueError:
            return _plain(400, 'Bad Request: the body must be JSON like {"input": ""}')
        if not isinstance(data, dict) or not isinstance(data.get("input", ""), str):
            return _plain(400, "Bad Request: input must be a string")
        text = str(data.get("input") or "")
        threading.Thread(target=invoker, args=(text,), name=f"admin-{name}", daemon=True).start()
        return func.HttpResponse(status_code=202)

    def _key_ok(self, headers: Mapping[str, str], params: Mapping[str, str]) -> bool:
        supplied = headers.get("x-functions-key") or params.get("code") or ""
        return hmac.compare_digest(supplied.encode(), self.function_key.encode())

    def _invoke(self, route: HttpRoute, request: func.HttpRequest) -> func.HttpResponse:
        name = route.function.get_function_name()
        invocation_id = str(uuid.uuid4())
        started = time.monotonic()
        try:
            result = call_user_function(
                route.function, route.trigger_arg, request, request.headers.get("traceparent")
            )
        except Exception:
            logger.exception("function %s failed", name)
            log_invocation(name, invocation_id, started, "failed")
            return _plain(500, "Internal Server Error")
        log_invocation(name, invocation_id, started, "ok")
        if isinstance(result, func.HttpResponse):
            return result
        if result is None:
            return func.HttpResponse(status_code=204)
        return func.HttpResponse(
            result if isinstance(result, str | bytes) else json.dumps(result), status_code=200
        )


def _header_name(environ_key: str) -> str:
    """WSGI environ key -> lower-case header name ("" for keys that are not headers)."""
    if environ_key.startswith("HTTP_"):
        return environ_key[5:].replace("_", "-").lower()
    if environ_key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        return environ_key.replace("_", "-").lower()
    return ""


class _ConnectionReader:
    """A connection's input. After the response, Werkzeug discards unread body bytes before it
    closes, with reads that wait for 10 MB each: a client that sent part of a refused body and
    waits would hold the thread until the read timeout. Once `discarding`, a read returns only
    what has already arrived, 64 KiB at most, so that discard ends as soon as the client pauses
    (and after at most 1,000 reads, Werkzeug's own cap)."""

    def __init__(self, raw: Any) -> None:
        self._raw = raw
        self.discarding = False

    def read(self, size: int = -1) -> bytes:
        if self.discarding:
            return bytes(self._raw.read1(_DISCARD_PIECE if size < 0 else min(size, _DISCARD_PIECE)))
        return bytes(self._raw.read(size))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._raw, name)


class _RequestHandler(WSGIRequestHandler):
    """Werkzeug's handler with a read timeout, a bounded discard of unread bytes after the
    response, and its access log in the runner's log at DEBUG."""

    timeout = READ_TIMEOUT_SECONDS

    def setup(self) -> None:
        super().setup()
        self.rfile = _ConnectionReader(self.rfile)  # type: ignore[assignment]

    def make_environ(self) -> dict[str, Any]:
        environ = super().make_environ()
        environ[_READER_KEY] = self.rfile
        return environ

    def log(self, type: str, message: str, *args: Any) -> None:
        level = logging.WARNING if type == "error" else logging.DEBUG
        logger.log(level, "http " + message, *args)


def make_http_server(bind: str, port: int, front: HttpFront) -> BaseWSGIServer:
    """A threaded Werkzeug server (one daemon thread per connection) bound now, served later."""
    server = make_server(bind, port, front, threaded=True, request_handler=_RequestHandler)
    front.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    return server
