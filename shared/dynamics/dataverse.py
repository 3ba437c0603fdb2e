"""A small Dataverse Web API client: pooled HTTP, a fresh bearer token per request, OData errors.

It never logs a URL query (it holds phone numbers and emails), a body or a token. A dropped
connection or a 5xx without Retry-After is retried here two times with short pauses, because a
customer is waiting; everything else is the caller's to classify (DESIGN section 5).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import requests
from azure.core.exceptions import AzureError
from requests.adapters import HTTPAdapter

from shared.platform import telemetry
from shared.platform.log import get_logger, log_event
from shared.platform.retry_policy import parse_retry_after
from shared.platform.settings import Settings, get_settings

logger = get_logger("dataverse")
# urllib3 logs full request URLs at DEBUG, and a contact lookup's query holds phone numbers and
# emails. Keep it at WARNING whatever the host's level.
logging.getLogger("urllib3").setLevel(logging.WARNING)

CONNECT_TIMEOUT_SECONDS = 3.05
READ_TIMEOUT_SECONDS = 15.0
INLINE_RETRY_PAUSES = (0.4, 1.5)
_HEADERS = {
    "OData-Version": "4.0",
    "OData-MaxVersion": "4.0",
    "Accept": "application/json",
    "Content-Type": "application/json; charset=utf-8",
}


@dataclass(frozen=True)
class DataverseResponse:
    """What the caller needs of an answer: status, parsed body, OData error, Retry-After."""

    status: int | None  # None: no answer (connection dropped, timeout)
    body: dict[str, Any] = field(default_factory=dict)
    error_code: str | None = None
    error_message: str | None = None
    retry_after: float | None = None
    entity_id: str | None = None
    transport_error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def _odata_error(body: dict[str, Any]) -> tuple[str | None, str | None]:
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return None, None
    return (str(error["code"]) if error.get("code") else None, str(error.get("message") or "")[:500] or None)


def _should_retry_inline(response: DataverseResponse) -> bool:
    if response.status is None:
        return True
    return response.status in (500, 502, 503, 504) and response.retry_after is None


class DataverseClient:
    """One per process: a pooled requests.Session and a credential that caches and refreshes tokens."""

    def __init__(
        self,
        base_url: str,
        credential_factory: Callable[[], Any],
        *,
        connect_timeout: float = CONNECT_TIMEOUT_SECONDS,
        read_timeout: float = READ_TIMEOUT_SECONDS,
        inline_retry_pauses: tuple[float, ...] = INLINE_RETRY_PAUSES,
        pool_size: int = 64,
    ) -> None:
        self.api = f"{base_url.rstrip('/')}/api/data/v9.2/"
        self.scope = f"{base_url.rstrip('/')}/.default"
        self._credential_factory = credential_factory
        self._credential = credential_factory()
        self._credential_lock = threading.Lock()
        self.timeout = (connect_timeout, read_timeout)
        self.inline_retry_pauses = inline_retry_pauses
        self.session = requests.Session()
        adapter = HTTPAdapter(pool_connections=2, pool_maxsize=pool_size, max_retries=0)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)

    def _token(self) -> str:
        # The credential caches the token and refreshes it before expires_on: ask on every request.
        return str(self._credential.get_token(self.scope).token)

    def _renew_credential(self) -> None:
        """After a 401 the cached token is no good: a new credential instance has an empty cache."""
        with self._credential_lock:
            self._credential = self._credential_factory()

    def _send_once(self, method: str, path: str, operation: str, **kwargs: Any) -> DataverseResponse:
        # Our own client span: the auto-instrumented one would export the URL, query and all.
        with telemetry.span(f"dataverse {operation}", None, "client", operation=operation) as span:
            result = self._exchange(method, path, operation, **kwargs)
            span.set_attribute("status", result.status or 0)
        return result

    def _exchange(self, method: str, path: str, operation: str, **kwargs: Any) -> DataverseResponse:
        started = time.perf_counter()
        status: int | None = None
        try:
            headers = {**_HEADERS, "Authorization": f"Bearer {self._token()}", **kwargs.pop("headers", {})}
            response = self.session.request(
                method, self.api + path, headers=headers, timeout=self.timeout, **kwargs
            )
        except requests.RequestException as exc:
            result = DataverseResponse(status=None, transport_error=type(exc).__name__)
        except AzureError as exc:  # no token (identity endpoint down, no identity): transient
            result = DataverseResponse(status=None, transport_error=f"token:{type(exc).__name__}")
        else:
            status = response.status_code
            body: dict[str, Any] = {}
            if response.content:
                try:
                    parsed = response.json()
                    body = parsed if isinstance(parsed, dict) else {}
                except ValueError:
                    body = {}
            code, message = _odata_error(body)
            result = DataverseResponse(
                status=status,
                body=body,
                error_code=code,
                error_message=message,
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
                entity_id=response.headers.get("OData-EntityId"),
            )
        elapsed_ms = (time.perf_counter() - started) * 1000
        telemetry.record_dataverse_request(elapsed_ms, operation=operation, status=status or 0)
        log_event(
            logger,
            "dataverse.request",
            logging.INFO if result.ok else logging.WARNING,
            operation=operation,
            method=method,
            status=status if status is not None else 0,
            errorCode=result.error_code,
            transportError=result.transport_error,
            durationMs=round(elapsed_ms, 1),
        )
        return result

    def request(self, method: str, path: str, operation: str, **kwargs: Any) -> DataverseResponse:
        """Send with one token refresh on 401 and short inline retries for drops and bare 5xx."""
        pauses = list(self.inline_retry_pauses)
        refreshed = False
        while True:
            result = self._send_once(method, path, operation, **dict(kwargs))
            if result.status == 401 and not refreshed:
                refreshed = True
                self._renew_credential()
                continue
            if _should_retry_inline(result) and pauses:
                time.sleep(pauses.pop(0) * random.uniform(0.75, 1.25))  # noqa: S311 - jitter
                continue
            return result

    def get(self, path: str, operation: str, params: dict[str, str] | None = None) -> DataverseResponse:
        return self.request("GET", path, operation, params=params)

    def post(self, path: str, operation: str, payload: dict[str, Any]) -> DataverseResponse:
        return self.request("POST", path, operation, json=payload)


def default_credential(settings: Settings) -> Any:
    """DefaultAzureCredential: the managed identity in Azure, the simulator's endpoint locally."""
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential(
        managed_identity_client_id=settings.azure_client_id,
        exclude_interactive_browser_credential=True,
    )


@lru_cache(maxsize=1)
def dataverse_client() -> DataverseClient:
    """The process-wide client, built on first use so the HTTP function never pays for it."""
    settings = get_settings()
    return DataverseClient(
        settings.dataverse_url,
        lambda: default_credential(settings),
        read_timeout=settings.dataverse_timeout,
        inline_retry_pauses=INLINE_RETRY_PAUSES,
    )
