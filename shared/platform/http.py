"""One pooled JSON-over-HTTP client for every upstream the worker calls (Dataverse, OpenCX, Messaging).

Each upstream differs in how it authenticates and where it puts its error code; the transport,
the short inline retries for a dropped connection or a bare 5xx, `Retry-After` and the request log
are the same. It never logs a URL query (a contact lookup's holds phones and emails), a body or a
credential: callers name each call with a stable `operation` instead.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from shared.platform import telemetry
from shared.platform.log import get_logger, log_event
from shared.platform.retry_policy import parse_retry_after

# urllib3 logs full request URLs at DEBUG: keep it at WARNING whatever the host's level.
logging.getLogger("urllib3").setLevel(logging.WARNING)

CONNECT_TIMEOUT_SECONDS = 3.05
INLINE_RETRY_PAUSES = (0.4, 1.5)
# A 504 may come after the service acted: retried inline only where a repeat is harmless.
_INLINE_RETRY_STATUSES = frozenset({500, 502, 503, 504})
_INLINE_RETRY_STATUSES_UNSAFE = frozenset({500, 502, 503})
NOT_SENT = ("connect:", "token:")  # transport errors that prove nothing reached the service


@dataclass(frozen=True)
class HttpResult:
    """What a caller needs of an answer: status, parsed body, the upstream's error, Retry-After."""

    status: int | None  # None: no answer (connection dropped, timeout, no token)
    body: dict[str, Any] = field(default_factory=dict)
    error_code: str | None = None
    error_message: str | None = None
    retry_after: float | None = None
    transport_error: str | None = None
    correlation_id: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def error_text(self) -> str | None:
        """The upstream's message, else what went wrong on the wire."""
        return self.error_message or self.transport_error


class AuthUnavailable(Exception):
    """No credential could be had (identity endpoint down): the call counts as a transport failure."""


ErrorReader = Callable[[dict[str, Any]], tuple[str | None, str | None]]


def no_error_fields(_body: dict[str, Any]) -> tuple[str | None, str | None]:
    return None, None


class JsonHttpClient:
    """A pooled session with bounded timeouts. Subclasses supply `auth_headers` and `read_error`."""

    system = "http"
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
        self.default_headers = dict(default_headers or {})
        self.session = requests.Session()
        adapter = HTTPAdapter(pool_connections=2, pool_maxsize=pool_size, max_retries=0)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        self._logger = get_logger(self.system)

    def auth_headers(self) -> dict[str, str]:
        """Headers that authenticate one request. Raise AuthUnavailable when no credential can be had."""
        return {}

    def on_unauthorized(self) -> bool:
        """Called after a 401: return True to try once more (a renewed credential)."""
        return False

    def close(self) -> None:
        self.session.close()

    def _exchange(self, method: str, path: str, operation: str, kwargs: dict[str, Any]) -> HttpResult:
        started = time.perf_counter()
        status: int | None = None
        try:
            headers = {**self.default_headers, **self.auth_headers(), **kwargs.pop("headers", {})}
            response = self.session.request(
                method, self.base_url + path, headers=headers, timeout=self.timeout, **kwargs
            )
        except requests.ConnectTimeout as exc:
            result = self.result_type(status=None, transport_error=f"connect:{type(exc).__name__}")
        except requests.ConnectionError as exc:
            # Refused before a byte was sent is safe to repeat; a reset after sending is not.
            refused = "NewConnectionError" in repr(exc) or "ConnectionRefused" in repr(exc)
            prefix = "connect:" if refused else ""
            result = self.result_type(status=None, transport_error=prefix + type(exc).__name__)
        except requests.RequestException as exc:
            result = self.result_type(status=None, transport_error=type(exc).__name__)
        except AuthUnavailable as exc:
            result = self.result_type(status=None, transport_error=f"token:{exc}")
        else:
            status = response.status_code
            body: dict[str, Any] = {}
            if response.content:
                try:
                    parsed = response.json()
                    body = parsed if isinstance(parsed, dict) else {"value": parsed}
                except ValueError:
                    body = {}
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
            transportError=result.transport_error,
            correlationId=result.correlation_id,
            durationMs=round(elapsed_ms, 1),
        )
        return result

    def _send_once(self, method: str, path: str, operation: str, kwargs: dict[str, Any]) -> HttpResult:
        # Our own client span: the auto-instrumented one would export the URL, query and all.
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
        again here; a connection that never opened is still retried (nothing was sent)."""
        pauses = list(self.inline_retry_pauses)
        renewed = False
        while True:
            result = self._send_once(method, path, operation, kwargs)
            if result.status == 401 and not renewed and self.on_unauthorized():
                renewed = True
                continue
            if result.status is None:
                retry_inline = retry_drops or (result.transport_error or "").startswith(NOT_SENT)
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
