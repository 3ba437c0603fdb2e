"""The OpenCX API client (contract section 4): a Bearer key, bounded timeouts, `Retry-After` honoured.

The key is sent in a header and never logged; requests are logged by operation, never by URL.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from shared.media.fetch import Credential
from shared.platform.failure import Upstream
from shared.platform.http import HttpResult, JsonHttpClient
from shared.platform.process import shared
from shared.platform.settings import Settings

OPENCX_INLINE_RETRY_PAUSES = (0.3, 1.0)


def read_opencx_error(body: dict[str, Any]) -> tuple[str | None, str | None]:
    """OpenCX's error bodies are not documented field by field: read the usual places."""
    error = body.get("error")
    if isinstance(error, dict):
        return (
            str(error.get("code")) if error.get("code") else None,
            str(error.get("message") or "") or None,
        )
    code = body.get("code") or body.get("statusCode")
    message = body.get("message") or (error if isinstance(error, str) else None)
    return (str(code) if code else None, str(message) if message else None)


def session_path(conversation_id: str) -> str:
    return "/chat/sessions/" + quote(conversation_id, safe="")


class OpenCXClient(JsonHttpClient):
    system = Upstream.OPENCX

    def __init__(self, base_url: str, api_key: str, *, read_timeout: float = 10.0, **options: Any) -> None:
        super().__init__(
            base_url.rstrip("/"),
            read_timeout=read_timeout,
            read_error=read_opencx_error,
            default_headers={"Accept": "application/json"},
            **options,
        )
        self._api_key = api_key

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._api_key}"}

    def file_credential(self) -> Credential:
        """This service's token for a file it hosts, sent only to its own origin (shared/media/fetch.py)."""
        return Credential.of(self.base_url, self.auth_headers)

    def get_session(self, conversation_id: str) -> HttpResult:
        return self.get(session_path(conversation_id), "get_session")

    def get_history(self, conversation_id: str, cursor: str | None = None) -> HttpResult:
        params = {"cursor": cursor} if cursor else None
        return self.get(session_path(conversation_id) + "/history", "list_history", params)

    def send_message(self, conversation_id: str, body: dict[str, Any]) -> HttpResult:
        """Not repeated inline after a lost answer: the send has no idempotency key, and the
        customer may already have the message (the relay's outbox decides)."""
        return self.post(session_path(conversation_id) + "/send", "send", body, retry_drops=False)

    def update_session(self, conversation_id: str, body: dict[str, Any]) -> HttpResult:
        return self.patch(session_path(conversation_id), "update_session", body)


def opencx_client() -> OpenCXClient:
    """The process-wide client, built on first use so the HTTP function never pays for it."""
    return shared(("opencx",), _build)


def _build(settings: Settings) -> OpenCXClient:
    return OpenCXClient(
        settings.opencx_api_url,
        settings.opencx_api_key,
        read_timeout=settings.opencx_timeout,
        inline_retry_pauses=OPENCX_INLINE_RETRY_PAUSES,
    )
