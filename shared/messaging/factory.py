"""How the clients of mode `messaging` are built from the settings (deps.py builds them once per
process), and the webhook's token validator."""

from __future__ import annotations

from typing import Any

from shared.messaging.client import MessagingClient
from shared.messaging.credentials import messaging_credential
from shared.messaging.token import WebhookTokenValidator
from shared.opencx.client import OpenCXClient
from shared.platform.process import shared
from shared.platform.settings import Settings


def credential_for(settings: Settings) -> Any:
    """Token out (docs/messaging.md, "tokens out"): DefaultAzureCredential, or the app registration."""
    messaging = settings.messaging
    return messaging_credential(
        tenant_id=messaging.tenant_id or None,
        client_id=messaging.client_id,
        client_secret=messaging.client_secret,
        managed_identity_client_id=settings.azure_client_id,
    )


def build_messaging_client(settings: Settings) -> MessagingClient:
    messaging = settings.messaging
    return MessagingClient(
        messaging.api_url,
        lambda: credential_for(settings),
        messaging.token_scope,
        messaging.channel_id,
        messaging.organization_id,
    )


def build_relay_opencx_client(settings: Settings) -> OpenCXClient:
    """OpenCX without inline retries: `send` has no idempotency key, so a dropped answer is never
    repeated at once; the relay's own backoff retries it (and says so in docs/messaging.md)."""
    return OpenCXClient(
        settings.opencx_api_url,
        settings.opencx_api_key,
        read_timeout=settings.opencx_timeout,
        inline_retry_pauses=(),
    )


def token_validator() -> WebhookTokenValidator:
    """The process's validator: its JWKS cache is worth keeping between deliveries."""
    return shared(("webhook-token-validator",), _validator)


def _validator(settings: Settings) -> WebhookTokenValidator:
    messaging = settings.messaging
    return WebhookTokenValidator(
        messaging.tenant_id,
        messaging.webhook_audience,
        jwks_url=messaging.jwks_url,
        allowed_app_ids=messaging.webhook_app_ids,
    )
