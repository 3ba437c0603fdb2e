"""One Azure credential per process, shared by the storage clients, Dataverse and health.

DefaultAzureCredential caches tokens per instance: one instance means one token cache and one
managed-identity probe, however many clients ask.
"""

from __future__ import annotations

from typing import Any

from shared.platform.process import shared_plain


def _build(client_id: str | None) -> Any:
    """The identity's DefaultAzureCredential (its client id from the settings that asked)."""
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential(
        managed_identity_client_id=client_id, exclude_interactive_browser_credential=True
    )


def shared_credential(client_id: str | None, *, fresh: bool = False) -> Any:
    """The process's credential for this identity. `fresh` replaces it (after a 401, its cached
    token is no good) and returns the new one."""
    return shared_plain(("credential", client_id), lambda: _build(client_id), fresh=fresh)
