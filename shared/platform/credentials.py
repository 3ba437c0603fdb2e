"""One Azure credential per process, shared by the storage clients, Dataverse and health.

DefaultAzureCredential caches tokens per instance: one instance means one token cache and one
managed-identity probe, however many clients ask.
"""

from __future__ import annotations

import threading
from typing import Any

_lock = threading.Lock()
_credentials: dict[str | None, Any] = {}


def _build(client_id: str | None) -> Any:
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential(
        managed_identity_client_id=client_id, exclude_interactive_browser_credential=True
    )


def shared_credential(client_id: str | None, *, fresh: bool = False) -> Any:
    """The process's credential for this identity. `fresh` replaces it (after a 401, its cached
    token is no good) and returns the new one."""
    with _lock:
        if fresh or client_id not in _credentials:
            _credentials[client_id] = _build(client_id)
        return _credentials[client_id]


def reset() -> None:
    """Forget every credential (tests that change the identity settings)."""
    with _lock:
        _credentials.clear()
