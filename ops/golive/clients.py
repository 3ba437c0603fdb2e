"""The clients the check talks through: the app's own classes, with short timeouts and no long retries."""

from __future__ import annotations

from shared.dynamics.dataverse import DataverseClient
from shared.messaging.client import MessagingClient
from shared.opencx.client import OpenCXClient
from shared.platform.credentials import shared_credential
from shared.platform.settings import Settings


def dataverse(settings: Settings) -> DataverseClient:
    """As the app signs in (DefaultAzureCredential); on an admin's machine that is their `az login`."""
    return DataverseClient(
        settings.dataverse_url,
        lambda: shared_credential(settings.azure_client_id, fresh=True),
        connect_timeout=3.0,
        read_timeout=15.0,
        inline_retry_pauses=(0.5,),
        pool_size=2,
    )


def opencx(settings: Settings) -> OpenCXClient:
    """No inline retries: `send` has no idempotency key, a repeat would be a second message."""
    return OpenCXClient(
        settings.opencx_api_url, settings.opencx_api_key, read_timeout=10.0, inline_retry_pauses=()
    )


def messaging(settings: Settings) -> MessagingClient:
    from shared.messaging.credentials import messaging_credential

    m = settings.messaging
    return MessagingClient(
        m.api_url,
        lambda: messaging_credential(
            tenant_id=m.tenant_id or None,
            client_id=m.client_id,
            client_secret=m.client_secret,
            managed_identity_client_id=settings.azure_client_id,
        ),
        m.token_scope,
        m.channel_id,
        m.organization_id,
        inline_retry_pauses=(0.5,),
        pool_size=2,
    )
