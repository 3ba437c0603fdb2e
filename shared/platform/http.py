"""One pooled JSON-over-HTTP client for every upstream the worker calls (Dataverse, OpenCX, Messaging).

Each upstream differs in how it authenticates and where it puts its error code; the transport,
the short inline retries for a dropped connection or a bare 5xx, `Retry-After` and the request log
are the same. It never logs a URL query (a contact lookup's holds phones and emails), a body or a
credential: callers name each call with a stable `operation` instead.
"""

from __future__ import annotations

import io
import json
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from urllib.parse import urlencode, urlsplit

import urllib3
from urllib3.exceptions import (
    ConnectTimeoutError,
    MaxRetryError,
    NewConnectionError,
    ReadTimeoutError,
)

from shared.platform import telemetry
from shared.platform.json_body import Spliced, encode_json
from shared.platform.log import get_logger, log_event
from shared.platform.retry_policy import parse_retry_after

# urllib3 logs full request URLs at DEBUG: keep it at WARNING whatever the host's level.
logging.getLogger("urllib3").setLevel(logging.WARNING)

CONNECT_TIMEOUT_SECONDS = 3.05
INLINE_RETRY_PAUSES = (0.4, 1.5)
# A 504 may come after the service acted: retried inline only where a repeat is harmless.
_INLINE_RETRY_STATUSES = frozenset({500, 502, 503, 504})
_INLINE_RETRY_STATUSES_UNSAFE = frozenset({500, 502, 503})
# No retries inside urllib3 (this client decides), errors raised as they are, a 3xx returned as is.
_NO_RETRIES = urllib3.Retry(total=0, read=False, redirect=False, raise_on_status=False)


class Transport(StrEnum):
    """Why a call got no answer. Decided from the exception's type, never from its text."""

    CONNECT_FAILED = "connect_failed"  # refused, unresolvable, or timed out while connecting
    NO_TOKEN = "no_token"  # noqa: S105 - no credential could be had: the request was never sent
    TIMEOUT = "timeout"  # sent, and no answer within the read timeout
    DROPPED = "dropped"  # the connection broke after sending, or the answer could not be read

    @property
    def sent_nothing(self) -> bool:
        """True when nothing reached the service, so repeating the request is always safe."""
        return self in (Transport.CONNECT_FAILED, Transport.NO_TOKEN)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception and everything it wraps: causes, contexts and urllib3's `reason`."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        reason = current.reason if isinstance(current, MaxRetryError) else None
        current = reason or current.__cause__ or current.__context__


def transport_failure(exc: BaseException) -> tuple[Transport, str]:
    """The kind of transport failure and a stable label for logs (requests' names, which log
    queries already use: ConnectTimeout, ConnectionError, ReadTimeout)."""
    chain = list(_chain(exc))
    if any(isinstance(e, NewConnectionError | ConnectionRefusedError) for e in chain):
        return Transport.CONNECT_FAILED, "ConnectionError"
    if any(isinstance(e, ConnectTimeoutError) for e in chain):
        return Transport.CONNECT_FAILED, "ConnectTimeout"
    if any(isinstance(e, ReadTimeoutError | TimeoutError) for e in chain):
        return Transport.TIMEOUT, "ReadTimeout"
    return Transport.DROPPED, "ConnectionError"


@dataclass(frozen=True)
class HttpResult:
    """What a caller needs of an answer: status, parsed body, the upstream's error, Retry-After."""

    status: int | None  # None: no answer; `transport` says why
    body: dict[str, Any] = field(default_factory=dict)
    error_code: str | None = None
    error_message: str | None = None
    retry_after: float | None = None
    transport_error: str | None = None  # a label for logs and operators; decide on `transport`
    correlation_id: str | None = None
    transport: Transport | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def error_text(self) -> str | None:
        """The upstream's message, else what went wrong on the wire."""
        return self.error_message or self.transport_error


def environment_settings(url: str) -> tuple[dict[str, str], str | None]:
    """The proxies (HTTP(S)_PROXY, honouring NO_PROXY) and CA bundle (REQUESTS_CA_BUNDLE,
    CURL_CA_BUNDLE) that requests would read from the environment for `url`. requests reads them
    on every request, walking the whole environment twice: a fifth of the worker's CPU per
    handoff (docs/benchmarks.md). Read once per client instead; a Functions worker's environment
    does not change while it runs."""
    import os

    from requests.utils import get_environ_proxies

    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    return dict(get_environ_proxies(url)), bundle


def connection_pool(base_url: str, pool_size: int, timeout: urllib3.Timeout) -> urllib3.PoolManager:
    """A connection pool with the environment's proxy and CA bundle (requests' defaults: certifi)."""
    import certifi

    proxies, bundle = environment_settings(base_url)
    options: dict[str, Any] = {
        "num_pools": 2,
        "maxsize": pool_size,
        "block": False,
        "retries": _NO_RETRIES,
        "timeout": timeout,
        "ca_certs": bundle or certifi.where(),
    }
    proxy = proxies.get(urlsplit(base_url).scheme) or proxies.get("all")
    return urllib3.ProxyManager(proxy, **options) if proxy else urllib3.PoolManager(**options)


class AuthUnavailable(Exception):
    """No credential could be had (identity endpoint down): the call counts as a transport failure."""


ErrorReader = Callable[[dict[str, Any]], tuple[str | None, str | None]]


def no_error_fields(_body: dict[str, Any]) -> tuple[str | None, str | None]:
    return None, None


# What requests sent by default and the services may rely on.
_BASE_HEADERS = {"Accept-Encoding": "gzip, deflate"}


class JsonHttpClient:
    """A pooled urllib3 client with bounded timeouts. Subclasses supply `auth_headers` and
    `read_error`. urllib3 rather than requests: requests' per-request session machinery (settings
    merged from the environment, cookies, hooks) was over half of the worker's CPU per call."""

    system: str = "http"  # an Upstream for the product's clients: names the logger, metric and span
    result_type: type[HttpResult] = HttpResult

    def __init__(
        self,
        base_url: str,
        *,
        connect_timeout: float = CONNECT_TIMEOUT_SECONDS,
        read_timeout: float = 15.0,
        inline_retry_pauses: tuple[float, ...] = INLINE_RETRY_PAUSES,
        pool_size: int = 64,
        read_error: ErrorReader = no_error_fields,
        default_headers: Mapping[str, str] | None = None,
    ) -> None:
        self.base_url = base_url
        self.timeout = (connect_timeout, read_timeout)
        self.inline_retry_pauses = inline_retry_pauses
        self.read_error = read_error
        self.default_headers = {**_BASE_HEADERS, **(default_headers or {})}
        self.pool = connection_pool(
            base_url, pool_size, urllib3.Timeout(connect=connect_timeout, read=read_timeout)
        )
        self._logger = get_logger(self.system)

    def auth_headers(self) -> dict[str, str]:
        """Headers that authenticate one request. Raise AuthUnavailable when no credential can be had."""
        return {}

    def on_unauthorized(self) -> bool:
        """Called after a 401: return True to try once more (a renewed credential)."""
        return False

    def close(self) -> None:
        self.pool.clear()

    @property
    def session(self) -> JsonHttpClient:
        """Compatibility for callers that close `client.session` (ops/golive): the client no
        longer has a requests session, and closing it is all such callers do. Use `close()`."""
        return self

    def _url(self, path: str, params: Mapping[str, str] | None) -> str:
        url = self.base_url + path
        if params:
            url += ("&" if "?" in path else "?") + urlencode(params)
        return url

    def _send(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> urllib3.BaseHTTPResponse:
        merged = {**self.default_headers, **self.auth_headers(), **(headers or {})}
        body: bytes | io.BufferedReader | None = None
        if json is not None:
            encoded = encode_json(json)
            merged.setdefault("Content-Type", "application/json")
            if isinstance(encoded, Spliced):
                merged["Content-Length"] = str(encoded.length)
                body = encoded.reader()
            else:
                body = encoded
        return self.pool.urlopen(method, self._url(path, params), body=body, headers=merged, redirect=False)

    def _exchange(self, method: str, path: str, operation: str, kwargs: dict[str, Any]) -> HttpResult:
        started = time.perf_counter()
        status: int | None = None
        try:
            response = self._send(method, path, **kwargs)
        except AuthUnavailable as exc:
            result = self.result_type(status=None, transport_error=str(exc), transport=Transport.NO_TOKEN)
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            transport, label = transport_failure(exc)
            result = self.result_type(status=None, transport_error=label, transport=transport)
        else:
            status = response.status
            body = _parse_body(response.data)
            code, message = self.read_error(body) if status >= 300 else (None, None)
            result = self.result_type(
                status=status,
                body=body,
                error_code=code,
                error_message=message[:500] if message else None,
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
                correlation_id=response.headers.get("x-ms-correlation-id"),
            )
        elapsed_ms = (time.perf_counter() - started) * 1000
        telemetry.record_upstream_request(
            elapsed_ms, system=self.system, operation=operation, status=status or 0
        )
        log_event(
            self._logger,
            f"{self.system}.request",
            logging.INFO if result.ok else logging.WARNING,
            operation=operation,
            method=method,
            status=status if status is not None else 0,
            errorCode=result.error_code,
            transport=result.transport,
            transportError=result.transport_error,
            correlationId=result.correlation_id,
            durationMs=round(elapsed_ms, 1),
        )
        return result

    def _send_once(self, method: str, path: str, operation: str, kwargs: dict[str, Any]) -> HttpResult:
        # Our own client span: an auto-instrumented one would export the URL, query and all.
        with telemetry.span(f"{self.system} {operation}", None, "client", operation=operation) as span:
            result = self._exchange(method, path, operation, dict(kwargs))
            span.set_attribute("status", result.status or 0)
        return result

    def request(
        self, method: str, path: str, operation: str, *, retry_drops: bool = True, **kwargs: Any
    ) -> HttpResult:
        """Send, with one retry after a 401 when the credential can be renewed, and short inline
        retries for a bare 5xx without Retry-After and a dropped connection: a customer is
        waiting. `retry_drops=False` for a request that is not safe to repeat (a message send with
        no idempotency key): an answer lost after sending, or a 504, is then returned, never sent
        again here; a connection that never opened is still retried (nothing was sent).
        `kwargs`: `json` (a body), `params` (the query), `headers`."""
        pauses = list(self.inline_retry_pauses)
        renewed = False
        while True:
            result = self._send_once(method, path, operation, kwargs)
            if result.status == 401 and not renewed and self.on_unauthorized():
                renewed = True
                continue
            if result.status is None:
                retry_inline = retry_drops or (result.transport is not None and result.transport.sent_nothing)
            else:
                statuses = _INLINE_RETRY_STATUSES if retry_drops else _INLINE_RETRY_STATUSES_UNSAFE
                retry_inline = result.status in statuses and result.retry_after is None
            if retry_inline and pauses:
                time.sleep(pauses.pop(0) * random.uniform(0.75, 1.25))  # noqa: S311 - jitter
                continue
            return result

    def get(self, path: str, operation: str, params: dict[str, str] | None = None) -> HttpResult:
        return self.request("GET", path, operation, params=params)

    def post(
        self, path: str, operation: str, payload: dict[str, Any], *, retry_drops: bool = True
    ) -> HttpResult:
        return self.request("POST", path, operation, json=payload, retry_drops=retry_drops)

    def patch(self, path: str, operation: str, payload: dict[str, Any]) -> HttpResult:
        return self.request("PATCH", path, operation, json=payload)


def _parse_body(data: bytes) -> dict[str, Any]:
    """A JSON object as is, a JSON array as {"value": [...]}, anything else as {}."""
    if not data:
        return {}
    try:
        parsed = json.loads(data)
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {"value": parsed}


class CredentialClient(JsonHttpClient):
    """A client whose bearer token comes from an azure-identity credential (Dataverse, Messaging):
    asked on every request (the credential caches and refreshes it), and renewed once after a 401,
    since a new credential instance has an empty cache."""

    def __init__(
        self, base_url: str, credential_factory: Callable[[], Any], scope: str, **options: Any
    ) -> None:
        super().__init__(base_url, **options)
        self.scope = scope
        self._credential_factory = credential_factory
        self._credential = credential_factory()
        self._credential_lock = threading.Lock()

    def auth_headers(self) -> dict[str, str]:
        from azure.core.exceptions import AzureError

        try:
            token = self._credential.get_token(self.scope).token
        except AzureError as exc:  # no token (identity endpoint down, no identity): transient
            raise AuthUnavailable(type(exc).__name__) from exc
        return {"Authorization": f"Bearer {token}"}

    def on_unauthorized(self) -> bool:
        with self._credential_lock:
            self._credential = self._credential_factory()
        return True
