"""A Messaging API client: pooled HTTP, a fresh bearer token per request, lenient error reading.

Follows Microsoft's `contact-center/extend/intro-messaging-apis.md` (host, headers, 401 without
them), `api/api-conversation-create.md`, `api/api-conversation-endpoint.md` and `error-handling.md`
(statuses, the 300xx codes, `x-ms-correlation-id`, `Retry-After`). The success status codes are not
documented: any 2xx is success. The JSON field holding a 300xx code is not documented either: it is
looked for leniently (`_error_code`). Never logs a body, a text or a token.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from shared.media.fetch import Credential
from shared.messaging.bodies import build_end_activity
from shared.platform.http import CredentialClient, HttpResult

API_PREFIX = "/api/v1.0/consumer/"
CONNECT_TIMEOUT_SECONDS = 3.05
READ_TIMEOUT_SECONDS = 15.0
INLINE_RETRY_PAUSES = (0.4, 1.5)

# error-handling.md, "Error codes in response body": the one code the relay acts on.
CODE_CONVERSATION_NOT_FOUND = "30013"
MESSAGES_PAGE_SIZE = 100  # api-conversation-messages.md: default 50, at most 100
_CODE_KEYS = ("errorcode", "error_code", "code", "errorid", "subcode")
_CODE_IN_TEXT = re.compile(r"\b(300\d\d)\b")
_HEADERS = {"Accept": "application/json", "Content-Type": "application/json; charset=utf-8"}


@dataclass(frozen=True)
class MessagingResponse(HttpResult):
    """The common answer, with the Messaging API's fields read in any case."""

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
    def messages(self) -> list[dict[str, Any]]:
        """`GET .../messages`: the page's activities (api-conversation-messages.md)."""
        value = _get_folded(self.body, "messages")
        if value is None:
            value = _get_folded(self.body, "value")  # a bare JSON array is wrapped as {"value": [...]}
        return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []

    @property
    def continuation_token(self) -> str | None:
        value = _get_folded(self.body, "continuationtoken")
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


def read_messaging_error(body: dict[str, Any]) -> tuple[str | None, str | None]:
    return _error_code(body), _error_message(body)


class MessagingClient(CredentialClient):
    """One per process, on the common pooled client (transport, inline retries, request log)."""

    system = "messaging"
    result_type = MessagingResponse

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
        super().__init__(
            base_url.rstrip("/") + API_PREFIX,
            credential_factory,
            scope,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            inline_retry_pauses=inline_retry_pauses,
            pool_size=pool_size,
            read_error=read_messaging_error,
            default_headers={**_HEADERS, "channel-id": channel_id, "organization-id": organization_id},
        )
        self.channel_id = channel_id
        self.organization_id = organization_id

    def file_credential(self) -> Credential:
        """This service's token for a file it hosts, sent only to its own origin (shared/media/fetch.py)."""
        return Credential.of(self.base_url, self.auth_headers)

    def create_conversation(self, body: dict[str, Any]) -> MessagingResponse:
        """Create (or, for an active `customerid`, get back) a conversation; safe to retry inline."""
        return self._call("POST", "conversation/create", "create", body, retry_drops=True)

    def send_activity(self, conversation_id: str, activity: dict[str, Any]) -> MessagingResponse:
        """Send one activity. A dropped answer is NOT retried here: the service may have stored it."""
        path = f"conversation/{quote(conversation_id, safe='')}"
        return self._call(
            "POST", path, f"send_{activity.get('type', 'activity')}", activity, retry_drops=False
        )

    def end_conversation(self, conversation_id: str) -> MessagingResponse:
        """Send endOfConversation; a 404/30013 answer (already closed) counts as done for callers."""
        activity = build_end_activity(conversation_id, self.channel_id)
        path = f"conversation/{quote(conversation_id, safe='')}"
        return self._call("POST", path, "end", activity, retry_drops=True)

    def list_messages(
        self, conversation_id: str, *, start: str | None = None, continuation: str | None = None
    ) -> MessagingResponse:
        """One page of the conversation's messages (api-conversation-messages.md). Microsoft asks not
        to poll this: the relay reads it only to reconcile (docs/messaging.md, "Reconciliation")."""
        params = {"PageSize": str(MESSAGES_PAGE_SIZE)}
        if start:
            params["StartTimeStamp"] = start
        if continuation:
            params["ContinuationToken"] = continuation
        path = f"conversation/{quote(conversation_id, safe='')}/messages"
        result = self.request("GET", path, "list_messages", params=params)
        assert isinstance(result, MessagingResponse)
        return result

    def _call(
        self, method: str, path: str, operation: str, payload: Any, *, retry_drops: bool
    ) -> MessagingResponse:
        result = self.request(method, path, operation, json=payload, retry_drops=retry_drops)
        assert isinstance(result, MessagingResponse)
        return result
