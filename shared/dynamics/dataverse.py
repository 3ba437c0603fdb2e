"""The Dataverse Web API client (docs/contract.md section 5): OData headers and a fresh bearer token
per request from one shared credential, over the common pooled JSON client.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from shared.platform.credentials import shared_credential
from shared.platform.failure import Upstream
from shared.platform.http import CredentialClient, HttpResult
from shared.platform.process import shared
from shared.platform.settings import Settings

# Kept as a name of its own: every Dynamics module speaks of Dataverse answers.
DataverseResponse = HttpResult

INLINE_RETRY_PAUSES = (0.4, 1.5)
_ODATA_HEADERS = {
    "OData-Version": "4.0",
    "OData-MaxVersion": "4.0",
    "Accept": "application/json",
    "Content-Type": "application/json; charset=utf-8",
}


def read_odata_error(body: dict[str, Any]) -> tuple[str | None, str | None]:
    """`{"error": {"code": "0x...", "message": "..."}}`; Microsoft's own examples sometimes leave
    the code empty, so an empty code is None, never proof of anything."""
    error = body.get("error")
    if not isinstance(error, dict):
        return None, None
    code = str(error["code"]) if error.get("code") else None
    return code, str(error.get("message") or "") or None


class DataverseClient(CredentialClient):
    """One per process, OData headers on every request."""

    system = Upstream.DATAVERSE

    def __init__(
        self,
        base_url: str,
        credential_factory: Callable[[], Any],
        *,
        read_timeout: float = 15.0,
        connect_timeout: float = 3.05,
        inline_retry_pauses: tuple[float, ...] = INLINE_RETRY_PAUSES,
        pool_size: int = 64,
    ) -> None:
        root = base_url.rstrip("/")
        super().__init__(
            f"{root}/api/data/v9.2/",
            credential_factory,
            f"{root}/.default",
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            inline_retry_pauses=inline_retry_pauses,
            pool_size=pool_size,
            read_error=read_odata_error,
            default_headers=_ODATA_HEADERS,
        )


def dataverse_client() -> DataverseClient:
    """The process-wide client, built on first use so the HTTP function never pays for it."""
    return shared(("dataverse",), _build)


def _build(settings: Settings) -> DataverseClient:
    return DataverseClient(
        settings.dataverse_url,
        lambda: shared_credential(settings.azure_client_id, fresh=True),
        read_timeout=settings.dataverse_timeout,
        inline_retry_pauses=INLINE_RETRY_PAUSES,
    )


ClientT = TypeVar("ClientT", bound=DataverseClient)


def probe_client(settings: Settings, client_type: type[ClientT]) -> ClientT:
    """A short-lived client with tight timeouts and no inline retries: health answers within 10 s."""
    return client_type(
        settings.dataverse_url,
        lambda: shared_credential(settings.azure_client_id),
        connect_timeout=2.0,
        read_timeout=5.0,
        inline_retry_pauses=(),
        pool_size=2,
    )
