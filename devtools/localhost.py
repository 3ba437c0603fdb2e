"""A small, faithful stand-in for the Functions host, because Core Tools cannot be installed here.

`python -m devtools.localhost [--port 7071] [--host-json host.json] [--app function_app]` imports
the app, reads each function's own binding metadata (nothing is hard-coded per function), serves
HTTP triggers on 127.0.0.1:PORT/api/<route> with function-key checks, and drives queue triggers
against Azurite with the host.json `extensions.queues` semantics: polling backoff up to
maxPollingInterval, batchSize concurrent invocations, a lease of visibilityTimeout renewed while an
invocation runs, delete on success, visibilityTimeout on failure, and a move to `<queue>-poison`
after maxDequeueCount failed attempts (as the WebJobs QueueProcessor does).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hmac
import importlib
import inspect
import json
import logging
import os
import re
import secrets
import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import azure.functions as func

logger = logging.getLogger("devtools.localhost")
_SETTING = re.compile(r"%([^%]+)%")
_FUNCTIONS_CACHE: dict[int, tuple[Any, list[Any]]] = {}
_MIN_POLL_SECONDS = 0.1


def _client_options() -> dict[str, Any]:
    """The SDK's default retry waits 15 s and more; the poll loop retries on its own schedule."""
    from azure.storage.queue import ExponentialRetry

    retry = ExponentialRetry(initial_backoff=0.25, increment_base=2, retry_total=1, random_jitter_range=0.1)
    return {"connection_timeout": 5, "read_timeout": 30, "retry_policy": retry}


# ---------------------------------------------------------------------------------------- config


def parse_timespan(text: str) -> float:
    """host.json timespans ("00:00:30", "1.00:00:00") in seconds."""
    days = 0
    if "." in text.split(":", 1)[0]:
        day_text, text = text.split(".", 1)
        days = int(day_text)
    hours, minutes, seconds = text.split(":")
    return days * 86400 + int(hours) * 3600 + int(minutes) * 60 + float(seconds)


@dataclass(frozen=True)
class QueueOptions:
    """host.json extensions.queues, with the host's defaults for anything left out."""

    max_polling_interval: float = 60.0
    visibility_timeout: float = 0.0
    batch_size: int = 16
    new_batch_threshold: int = 8
    max_dequeue_count: int = 5
    message_encoding: str = "base64"

    @classmethod
    def from_host_json(cls, path: Path | None) -> QueueOptions:
        if path is None or not path.exists():
            return cls()
        queues = json.loads(path.read_text()).get("extensions", {}).get("queues", {})
        defaults = cls()
        batch_size = int(queues.get("batchSize", defaults.batch_size))
        return cls(
            max_polling_interval=_span(queues, "maxPollingInterval", defaults.max_polling_interval),
            visibility_timeout=_span(queues, "visibilityTimeout", defaults.visibility_timeout),
            batch_size=batch_size,
            new_batch_threshold=int(queues.get("newBatchThreshold", batch_size // 2)),  # host default
            max_dequeue_count=int(queues.get("maxDequeueCount", defaults.max_dequeue_count)),
            message_encoding=str(queues.get("messageEncoding", defaults.message_encoding)).lower(),
        )

    @property
    def lease_seconds(self) -> int:
        """How long a received message stays invisible; renewed at half-time while it runs."""
        return max(1, round(self.visibility_timeout) or 30)


def _span(queues: Mapping[str, Any], name: str, default: float) -> float:
    value = queues.get(name)
    return default if value is None else parse_timespan(str(value))


def resolve_setting(value: str, environ: Mapping[str, str]) -> str:
    """Replace %NAME% with the app setting NAME, as the host does for binding expressions."""

    def lookup(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in environ:
            raise KeyError(f"app setting {name} (used as %{name}%) is not set")
        return environ[name]

    return _SETTING.sub(lookup, value)


def load_local_settings(path: Path, environ: dict[str, str] | os._Environ[str] = os.environ) -> int:
    """Copy local.settings.json Values into the environment without overriding, like `func start`."""
    if not path.exists():
        return 0
    values = json.loads(path.read_text()).get("Values", {})
    added = 0
    for name, value in values.items():
        if name not in environ and value is not None:
            environ[name] = str(value)
            added += 1
    return added


def app_functions(app: func.FunctionApp) -> list[Any]:
    """app.get_functions() may run only once per app object, so the result is cached here."""
    cached = _FUNCTIONS_CACHE.get(id(app))
    if cached is None or cached[0] is not app:
        cached = (app, list(app.get_functions()))
        _FUNCTIONS_CACHE[id(app)] = cached
    return cached[1]


def _enum_value(value: Any) -> str:
    return str(getattr(value, "value", value) or "")


# ---------------------------------------------------------------------------------- invocation


@dataclass
class TraceContext:
    trace_parent: str
    trace_state: str = ""
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass
class InvocationContext:
    """What the host passes as `context`: enough for code that reads ids and the trace."""

    invocation_id: str
    function_name: str
    function_directory: str
    trace_context: TraceContext
    retry_context: None = None
    thread_local_storage: threading.local = field(default_factory=threading.local)


def call_user_function(function: Any, trigger_arg: str, value: Any, traceparent: str | None = None) -> Any:
    """Call the user function with its trigger argument and `context` when it asks for one."""
    user = function.get_user_function()
    kwargs: dict[str, Any] = {trigger_arg: value}
    if "context" in inspect.signature(user).parameters:
        kwargs["context"] = InvocationContext(
            invocation_id=str(uuid.uuid4()),
            function_name=function.get_function_name(),
            function_directory=str(Path.cwd()),
            trace_context=TraceContext(
                traceparent or f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"
            ),
        )
    result = user(**kwargs)
    if inspect.iscoroutine(result):
        result = asyncio.run(result)
    return result


def log_invocation(name: str, invocation_id: str, started: float, outcome: str) -> None:
    """One line per invocation: function, id, duration, outcome."""
    duration_ms = round((time.monotonic() - started) * 1000)
    level = logging.INFO if outcome == "ok" else logging.WARNING
    logger.log(
        level,
        "invocation function=%s id=%s durationMs=%d outcome=%s",
        name,
        invocation_id,
        duration_ms,
        outcome,
    )


# ---------------------------------------------------------------------------------------- HTTP


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
    routes = []
    for function in functions:
        trigger = function.get_trigger()
        if _enum_value(trigger.get_binding_name()) != "httpTrigger":
            continue
        methods = getattr(trigger, "methods", None)
        routes.append(
            HttpRoute(
                function=function,
                trigger_arg=trigger.name,
                pattern=_route_pattern(getattr(trigger, "route", None) or function.get_function_name()),
                methods=frozenset(_enum_value(m).upper() for m in methods) if methods else None,
                auth_level=_enum_value(getattr(trigger, "auth_level", None) or "function").lower(),
            )
        )
    return routes


def _plain(status: int, text: str, headers: dict[str, str] | None = None) -> func.HttpResponse:
    return func.HttpResponse(text, status_code=status, mimetype="text/plain", headers=headers)


class _Handler(BaseHTTPRequestHandler):
    server: _HttpServer
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    def __getattr__(self, name: str) -> Any:
        # Any other method (TRACE, QUERY, ...) is routed too: the route check answers 405, not 501.
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("http %s", format % args)

    def _serve(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        response = self.server.host.handle_http(self.command, self.path, dict(self.headers.items()), body)
        self._write(response)

    def _write(self, response: func.HttpResponse) -> None:
        payload = response.get_body() or b""
        self.send_response(response.status_code)
        headers = {k.lower(): v for k, v in response.headers.items()}
        if "content-type" not in headers and response.mimetype:
            charset = f"; charset={response.charset}" if response.charset else ""
            headers["content-type"] = f"{response.mimetype}{charset}"
        headers["content-length"] = str(len(payload))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], host: LocalHost) -> None:
        self.host = host
        super().__init__(address, _Handler)


# --------------------------------------------------------------------------------------- queues


@dataclass
class _Lease:
    """An in-flight message. The lock orders renewals against the final delete/update."""

    message: Any
    pop_receipt: str
    lock: threading.Lock = field(default_factory=threading.Lock)
    done: bool = False


class QueueListener:
    """One queue trigger: poll, lease, invoke concurrently, then delete, release or poison."""

    def __init__(self, function: Any, options: QueueOptions, environ: Mapping[str, str]) -> None:
        from azure.storage.queue import QueueClient

        trigger = function.get_trigger()
        self.function = function
        self.trigger_arg = trigger.name
        self.options = options
        self.queue_name = resolve_setting(trigger.queue_name, environ)
        connection_name = resolve_setting(
            getattr(trigger, "connection", None) or "AzureWebJobsStorage", environ
        )
        connection = environ.get(connection_name)
        if not connection:
            raise KeyError(
                f"connection setting {connection_name} for {function.get_function_name()} is not set"
            )
        self.client = QueueClient.from_connection_string(connection, self.queue_name, **_client_options())
        self.poison = QueueClient.from_connection_string(
            connection, f"{self.queue_name}-poison", **_client_options()
        )
        self.leases: dict[str, _Lease] = {}
        self.leases_lock = threading.Lock()
        self.stopping = threading.Event()
        self.pool = ThreadPoolExecutor(
            max_workers=options.batch_size + options.new_batch_threshold,
            thread_name_prefix=f"queue-{self.queue_name}",
        )
        self.threads = [
            threading.Thread(target=self._poll_loop, name=f"poll-{self.queue_name}", daemon=True),
            threading.Thread(target=self._renew_loop, name=f"renew-{self.queue_name}", daemon=True),
        ]

    @property
    def name(self) -> str:
        return self.function.get_function_name()

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def stop(self, drain_seconds: float = 30.0) -> None:
        """Stop polling, let in-flight invocations finish; anything left reappears after its lease."""
        self.stopping.set()
        self.threads[0].join(timeout=10)
        deadline = time.monotonic() + drain_seconds
        while self._in_flight() and time.monotonic() < deadline:
            time.sleep(0.05)
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.threads[1].join(timeout=5)

    def _in_flight(self) -> int:
        with self.leases_lock:
            return len(self.leases)

    def _ensure_queue(self) -> None:
        from azure.core.exceptions import ResourceExistsError

        with contextlib.suppress(ResourceExistsError):
            self.client.create_queue()

    def _poll_loop(self) -> None:
        delay = _MIN_POLL_SECONDS
        queue_ready = False
        while not self.stopping.is_set():
            if self._in_flight() > self.options.new_batch_threshold:
                # The host refills as soon as a slot frees up; a short tick keeps the runner close.
                self.stopping.wait(0.005)
                continue
            try:
                if not queue_ready:
                    self._ensure_queue()
                    queue_ready = True
                batch = self._receive()
            except Exception as exc:  # storage down: back off and try again, like the host
                logger.warning("queue %s unavailable: %s", self.queue_name, type(exc).__name__)
                queue_ready = False  # storage may come back empty (in-memory Azurite)
                batch = []
            if batch:
                delay = _MIN_POLL_SECONDS
                for message in batch:
                    self._dispatch(message)
                continue
            self.stopping.wait(delay)
            delay = min(delay * 2, max(self.options.max_polling_interval, _MIN_POLL_SECONDS))

    def _receive(self) -> list[Any]:
        return list(
            self.client.receive_messages(
                messages_per_page=self.options.batch_size,
                max_messages=self.options.batch_size,
                visibility_timeout=self.options.lease_seconds,
            )
        )

    def _dispatch(self, message: Any) -> None:
        lease = _Lease(message, message.pop_receipt)
        with self.leases_lock:
            self.leases[message.id] = lease
        try:
            self.pool.submit(self._process, lease)
        except RuntimeError:  # pool shut down while stopping: the message reappears after its lease
            self._forget(lease)

    def _forget(self, lease: _Lease) -> None:
        with self.leases_lock:
            self.leases.pop(lease.message.id, None)

    def _renew_loop(self) -> None:
        """Keep leases alive at half-time, as the host does, so a slow invocation is not run twice."""
        interval = max(0.5, self.options.lease_seconds / 2)
        while not self.stopping.wait(interval) or self._in_flight():
            with self.leases_lock:
                leases = list(self.leases.values())
            for lease in leases:
                self._renew(lease)
            if self.stopping.is_set() and not self._in_flight():
                return

    def _renew(self, lease: _Lease) -> None:
        with lease.lock:
            if lease.done:
                return
            try:
                updated = self.client.update_message(
                    lease.message.id, lease.pop_receipt, visibility_timeout=self.options.lease_seconds
                )
                lease.pop_receipt = updated.pop_receipt
            except Exception as exc:
                logger.warning("lease renewal failed for %s: %s", lease.message.id, type(exc).__name__)

    def _body(self, message: Any) -> bytes:
        content = message.content or ""
        if self.options.message_encoding == "base64":
            return base64.b64decode(content)
        return content.encode("utf-8") if isinstance(content, str) else bytes(content)

    def _queue_message(self, message: Any) -> func.QueueMessage:
        return func.queue.QueueMessage(
            id=message.id,
            body=self._body(message),
            dequeue_count=message.dequeue_count,
            pop_receipt=message.pop_receipt,
            insertion_time=message.inserted_on,
            expiration_time=message.expires_on,
            time_next_visible=message.next_visible_on,
        )

    def _process(self, lease: _Lease) -> None:
        message = lease.message
        started = time.monotonic()
        try:
            if message.dequeue_count > self.options.max_dequeue_count:
                # Dequeued too often without completing (e.g. a crashed host): poison unseen.
                self._settle(lease, self._move_to_poison)
                log_invocation(self.name, message.id, started, "poisoned")
                return
            try:
                call_user_function(self.function, self.trigger_arg, self._queue_message(message))
            except Exception:
                logger.exception("function %s failed on message %s", self.name, message.id)
                outcome = self._after_failure(lease)
                log_invocation(self.name, message.id, started, outcome)
                return
            self._settle(lease, self._delete)
            log_invocation(self.name, message.id, started, "ok")
        except Exception:
            logger.exception("could not settle message %s; it reappears after its lease", message.id)
        finally:
            self._forget(lease)

    def _after_failure(self, lease: _Lease) -> str:
        if lease.message.dequeue_count >= self.options.max_dequeue_count:
            self._settle(lease, self._move_to_poison)
            return "poisoned"
        self._settle(lease, self._release)
        return "failed"

    def _settle(self, lease: _Lease, action: Callable[[_Lease], None]) -> None:
        with lease.lock:
            lease.done = True
            action(lease)

    def _delete(self, lease: _Lease) -> None:
        self.client.delete_message(lease.message.id, lease.pop_receipt)

    def _release(self, lease: _Lease) -> None:
        """Failure: the message becomes visible again after visibilityTimeout (0 = now)."""
        self.client.update_message(
            lease.message.id, lease.pop_receipt, visibility_timeout=round(self.options.visibility_timeout)
        )

    def _move_to_poison(self, lease: _Lease) -> None:
        from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError

        try:
            self.poison.send_message(lease.message.content)
        except ResourceNotFoundError:
            with contextlib.suppress(ResourceExistsError):
                self.poison.create_queue()
            self.poison.send_message(lease.message.content)
        logger.error("message %s moved to %s", lease.message.id, self.poison.queue_name)
        self._delete(lease)


# ------------------------------------------------------------------------------------------ host


class LocalHost:
    """The runner as an object: `LocalHost(app, host_json, port).start()` ... `.stop()`."""

    def __init__(
        self,
        app: func.FunctionApp,
        host_json: Path | QueueOptions | None = None,
        port: int = 7071,
        *,
        function_key: str | None = None,
        environ: Mapping[str, str] | None = None,
        bind: str = "127.0.0.1",
    ) -> None:
        self.environ = os.environ if environ is None else environ
        self.options = (
            host_json if isinstance(host_json, QueueOptions) else QueueOptions.from_host_json(host_json)
        )
        self.function_key = (
            function_key or self.environ.get("LOCAL_FUNCTION_KEY") or secrets.token_urlsafe(24)
        )
        functions = app_functions(app)
        self.routes = http_routes(functions)
        self.listeners = [
            QueueListener(f, self.options, self.environ)
            for f in functions
            if _enum_value(f.get_trigger().get_binding_name()) == "queueTrigger"
        ]
        self.server = _HttpServer((bind, port), self)
        self._serve_thread = threading.Thread(target=self.server.serve_forever, name="http", daemon=True)

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LocalHost:
        self._serve_thread.start()
        for listener in self.listeners:
            listener.start()
        return self

    def stop(self, drain_seconds: float = 30.0) -> None:
        for listener in self.listeners:
            listener.stop(drain_seconds)
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> LocalHost:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def handle_http(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> func.HttpResponse:
        """Route, check method and key, invoke; the host's status codes for each refusal."""
        split = urlsplit(target)
        path = split.path
        if not path.startswith("/api/"):
            return _plain(404, "Not Found")
        params = dict(parse_qsl(split.query, keep_blank_values=True))
        matches = [(r, m) for r in self.routes if (m := r.pattern.match(path[len("/api/") :].strip("/")))]
        if not matches:
            return _plain(404, "Not Found")
        allowed = [(r, m) for r, m in matches if r.methods is None or method.upper() in r.methods]
        if not allowed:
            methods = sorted({m for r, _ in matches for m in (r.methods or ())})
            return _plain(405, "Method Not Allowed", {"Allow": ", ".join(methods)})  # RFC 9110
        route, match = allowed[0]
        if route.auth_level != "anonymous" and not self._key_ok(headers, params):
            return _plain(401, "Unauthorized")
        params.pop("code", None)
        request = func.HttpRequest(
            method=method.upper(),
            url=f"{self.url}{target}",
            headers=headers,
            params=params,
            route_params={k: v for k, v in match.groupdict().items() if v is not None},
            body=body,
        )
        return self._invoke_http(route, request)

    def _key_ok(self, headers: dict[str, str], params: dict[str, str]) -> bool:
        lowered = {k.lower(): v for k, v in headers.items()}
        supplied = lowered.get("x-functions-key") or params.get("code") or ""
        return hmac.compare_digest(supplied.encode(), self.function_key.encode())

    def _invoke_http(self, route: HttpRoute, request: func.HttpRequest) -> func.HttpResponse:
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


# ------------------------------------------------------------------------------------------- CLI


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m devtools.localhost", description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=7071)
    parser.add_argument("--host-json", type=Path, default=Path("host.json"))
    parser.add_argument("--app", default="function_app", help="module that defines `app`")
    parser.add_argument("--settings", type=Path, default=Path("local.settings.json"))
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run until SIGINT/SIGTERM, then drain in-flight invocations and exit 0."""
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s", stream=sys.stderr
    )
    logging.getLogger("azure").setLevel(logging.WARNING)  # the SDK logs every HTTP request at INFO
    loaded = load_local_settings(args.settings)
    if str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))
    app = importlib.import_module(args.app).app
    host = LocalHost(app, args.host_json, args.port).start()
    stopping = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    generated = "LOCAL_FUNCTION_KEY" not in os.environ
    info = {
        "url": host.url,
        "functions": [r.function.get_function_name() for r in host.routes] + [q.name for q in host.listeners],
        "queues": [q.queue_name for q in host.listeners],
        "settings_loaded": loaded,
    }
    if generated:
        info["function_key"] = host.function_key
    print(json.dumps(info), flush=True)
    while not stopping.wait(0.5):
        pass
    logger.info("stopping: draining in-flight invocations")
    host.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
