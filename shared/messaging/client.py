"""A Messaging API client: pooled HTTP, a fresh bearer token per request, lenient error reading.

Follows Microsoft's `contact-center/extend/intro-messaging-apis.md` (host, headers, 401 without
them), `api/api-conversation-create.md`, `api/api-conversation-endpoint.md` and `error-handling.md`
(statuses, the 300xx codes, `x-ms-correlation-id`, `Retry-After`). The success status codes are not
documented: any 2xx is success. The JSON field holding a 300xx code is not documented either: it is
looked for leniently (`_error_code`). Never logs a body, a text or a token.
"""

from __future__ import annotations

import logging
import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import requests
from azure.core.exceptions import AzureError
from requests.adapters import HTTPAdapter

from shared.messaging.bodies import build_end_activity
from shared.platform.log import get_logger, log_event
from shared.platform.retry_policy import parse_retry_after

logger = get_logger("messaging")
logging.getLogger("urllib3").setLevel(logging.WARNING)

API_PREFIX = "/api/v1.0/consumer/"
CONNECT_TIMEOUT_SECONDS = 3.05
READ_TIMEOUT_SECONDS = 15.0
INLINE_RETRY_PAUSES = (0.4, 1.5)

# error-handling.md, "Error codes in response body".
CODE_CHANNEL_CONFIG_MISSING = "30004"
CODE_CONTEXT_TOO_LARGE = "30010"
CODE_TEXT_TOO_LONG = "30011"
CODE_BODY_MALFORMED = "30012"
CODE_CONVERSATION_NOT_FOUND = "30013"
CODE_CHANNEL_NO_WORKSTREAM = "30014"
CODE_NO_TEXT_OR_ATTACHMENTS = "30016"
_CODE_KEYS = ("errorcode", "error_code", "code", "errorid", "subcode")
_CODE_IN_TEXT = re.compile(r"\b(300\d\d)\b")
_HEADERS = {"Accept": "application/json", "Content-Type": "application/json; charset=utf-8"}


@dataclass(frozen=True)
class MessagingResponse:
    """What the caller needs of an answer; mirrors shared.dynamics.dataverse.DataverseResponse."""

    status: int | None  # None: no answer (connection dropped, timeout, no token)
    body: dict[str, Any] = field(default_factory=dict)
    error_code: str | None = None
    error_message: str | None = None
    retry_after: float | None = None
    correlation_id: str | None = None
    transport_error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def conversation_id(self) -> str | None:
        value = _get_folded(self.body, "conversationid")
        return str(value) if value else None

    @property
    def is_new(self) -> bool | None:
        value = _get_folded(self.body, "isnew")
        if isinstance(value, str):
            return value.strip().lower() == "true"
        return value if isinstance(value, bool) else None

    @property
    def message_id(self) -> str | None:
        value = _get_folded(self.body, "messageid")
        return str(value) if value not in (None, "") else None

    @property
    def conversation_gone(self) -> bool:
        """404 / 30013: unknown or already closed (error-handling.md). Ending it again is done."""
        return self.status == 404 or self.error_code == CODE_CONVERSATION_NOT_FOUND


def _get_folded(body: dict[str, Any], key: str) -> Any:
    for name, value in body.items():
        if str(name).lower() == key:
            return value
    return None


def _error_code(body: Any, depth: int = 0) -> str | None:
    """A 300xx code wherever it is: a code-like key at any depth, else a 300xx number in the text."""
    if depth > 4:
        return None
    if isinstance(body, dict):
        for name, value in body.items():
            if (
                str(name).lower() in _CODE_KEYS
                and isinstance(value, int | str)
                and not isinstance(value, bool)
            ):
                text = str(value).strip()
                if text.isdigit():
                    return text
        for value in body.values():
            if isinstance(value, dict | list):
                found = _error_code(value, depth + 1)
                if found:
                    return found
        for value in body.values():
            if isinstance(value, str):
                match = _CODE_IN_TEXT.search(value)
                if match:
                    return match.group(1)
    if isinstance(body, list):
        for item in body[:10]:
            found = _error_code(item, depth + 1)
            if found:
                return found
    return None


def _error_message(body: dict[str, Any]) -> str | None:
    for key in ("detail", "title", "message", "errormessage"):
        value = _get_folded(body, key)
        if isinstance(value, str) and value.strip():
            return value.strip()[:300]
    error = _get_folded(body, "error")
    if isinstance(error, dict):
        return _error_message(error)
    return None


class MessagingClient:
    """One per process: a pooled requests.Session and a credential that caches and refreshes tokens."""

    def __init__(
        self,
        base_url: str,
        credential_factory: Callable[[], Any],
        scope: str,
        channel_id: str,
        organization_id: str,
        *,
        connect_timeout: float = CONNECT_TIMEOUT_SECONDS,
        read_timeout: float = READ_TIMEOUT_SECONDS,
        inline_retry_pauses: tuple[float, ...] = INLINE_RETRY_PAUSES,
        pool_size: int = 32,
    ) -> None:
        self.api = base_url.rstrip("/") + API_PREFIX
        self.scope = scope
        self.channel_id = channel_id
        self.organization_id = organization_id
        self._credential_factory = credential_factory
        self._credential = credential_factory()
        self._credential_lock = threading.Lock()
        self.timeout = (connect_timeout, read_timeout)
        self.inline_retry_pauses = inline_retry_pauses
        self.session = requests.Session()
        adapter = HTTPAdapter(pool_connections=2, pool_maxsize=pool_size, max_retries=0)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)

    # ------------------------------------------------------------------ operations

    def create_conversation(self, body: dict[str, Any]) -> MessagingResponse:
        """Create (or, for an active `customerid`, get back) a conversation; safe to retry inline."""
        return self.request("POST", "conversation/create", "create", body, retry_drops=True)

    def send_activity(self, conversation_id: str, activity: dict[str, Any]) -> MessagingResponse:
        """Send one activity. A dropped answer is NOT retried here: the service may have stored it."""
        path = f"conversation/{quote(conversation_id, safe='')}"
        return self.request("POST", path, f"send_{activity.get('type', 'activity')}", activity)

    def end_conversation(self, conversation_id: str) -> MessagingResponse:
        """Send endOfConversation; a 404/30013 answer (already closed) counts as done for callers."""
        activity = build_end_activity(conversation_id, self.channel_id)
        path = f"conversation/{quote(conversation_id, safe='')}"
        return self.request("POST", path, "end", activity, retry_drops=True)

    # ------------------------------------------------------------------ plumbing

    def _token(self) -> str:
        return str(self._credential.get_token(self.scope).token)

    def _renew_credential(self) -> None:
        with self._credential_lock:
            self._credential = self._credential_factory()

    def _exchange(self, method: str, path: str, operation: str, payload: Any) -> MessagingResponse:
        started = time.perf_counter()
        try:
            headers = {
                **_HEADERS,
                "Authorization": f"Bearer {self._token()}",
                "channel-id": self.channel_id,
                "organization-id": self.organization_id,
            }
            response = self.session.request(
                method, self.api + path, headers=headers, json=payload, timeout=self.timeout
            )
        except requests.ConnectTimeout as exc:
            result = MessagingResponse(status=None, transport_error=f"connect:{type(exc).__name__}")
        except requests.RequestException as exc:
            result = MessagingResponse(status=None, transport_error=type(exc).__name__)
        except AzureError as exc:
            result = MessagingResponse(status=None, transport_error=f"token:{type(exc).__name__}")
        else:
            body: dict[str, Any] = {}
            if response.content:
                try:
                    parsed = response.json()
                    body = parsed if isinstance(parsed, dict) else {}
                except ValueError:
                    body = {}
            ok = 200 <= response.status_code < 300
            result = MessagingResponse(
                status=response.status_code,
                body=body,
                error_code=None if ok else _error_code(body),
                error_message=None if ok else _error_message(body),
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
                correlation_id=response.headers.get("x-ms-correlation-id"),
            )
        log_event(
            logger,
            "messaging.request",
            logging.INFO if result.ok else logging.WARNING,
            operation=operation,
            method=method,
            status=result.status or 0,
            errorCode=result.error_code,
            correlationId=result.correlation_id,
            transportError=result.transport_error,
            durationMs=round((time.perf_counter() - started) * 1000, 1),
        )
        return result

    def request(
        self, method: str, path: str, operation: str, payload: Any = None, *, retry_drops: bool = False
    ) -> MessagingResponse:
        """Send with one token refresh on 401 and short inline retries.

        Always retried inline: a connect timeout or no token (nothing reached the service) and a bare
        5xx. A dropped answer only with `retry_drops` (operations that are idempotent).
        """
        pauses = list(self.inline_retry_pauses)
        refreshed = False
        while True:
            result = self._exchange(method, path, operation, payload)
            if result.status == 401 and not refreshed:
                refreshed = True
                self._renew_credential()
                continue
            if pauses and _should_retry_inline(result, retry_drops):
                time.sleep(pauses.pop(0) * random.uniform(0.75, 1.25))  # noqa: S311 - jitter
                continue
            return result


def _should_retry_inline(result: MessagingResponse, retry_drops: bool) -> bool:
    if result.status is None:
        error = result.transport_error or ""
        return retry_drops or error.startswith(("connect:", "token:"))
    # 504 may come after the service acted: retried only where a repeat is harmless.
    statuses = (500, 502, 503, 504) if retry_drops else (500, 502, 503)
    return result.status in statuses and result.retry_after is None
