"""The credential for tokens OUT to the Messaging API (docs/messaging.md, "Token out without a secret").

Microsoft's `configure-custom-messaging-channel.md` asks for a client-credentials token of a
confidential-client app registration, scope `https://{org id without dashes}-c.{zone}.dynamics.com/.default`.
Three ways to get one, chosen from plain arguments (the caller maps settings onto them):
1. no `client_id`: `DefaultAzureCredential` (the managed identity in Azure, the simulator's identity
   endpoint locally) asks for the scope directly;
2. `client_id` and no secret: the app registration through `ClientAssertionCredential`, whose
   assertion is the managed identity's token for `api://AzureADTokenExchange` (a federated
   credential on the app trusts the identity: no secret anywhere);
3. `client_id` and `client_secret`: `ClientSecretCredential`, the fallback for tenants that cannot
   add a federated credential. A configured secret wins: an operator sets it only on purpose.
"""

from __future__ import annotations

from typing import Any

TOKEN_EXCHANGE_SCOPE = "api://AzureADTokenExchange/.default"  # noqa: S105 - a scope, not a secret


def messaging_scope(organization_id: str, zone: str) -> str:
    """`https://{org id without dashes}-c.{zone}.dynamics.com/.default` (configure page)."""
    return f"https://{organization_id.replace('-', '').lower()}-c.{zone}.dynamics.com/.default"


def messaging_credential(
    *,
    tenant_id: str | None = None,
    client_id: str | None = None,
    client_secret: str | None = None,
    managed_identity_client_id: str | None = None,
) -> Any:
    """A TokenCredential (`get_token(scope)`) for the Messaging API; see the module docstring."""
    if not client_id:
        from azure.identity import DefaultAzureCredential

        return DefaultAzureCredential(
            managed_identity_client_id=managed_identity_client_id,
            exclude_interactive_browser_credential=True,
        )
    if not tenant_id:
        raise ValueError("MESSAGING_TENANT_ID is required with MESSAGING_CLIENT_ID")
    if client_secret:
        from azure.identity import ClientSecretCredential

        return ClientSecretCredential(tenant_id, client_id, client_secret)
    from azure.identity import ClientAssertionCredential, ManagedIdentityCredential

    identity = ManagedIdentityCredential(client_id=managed_identity_client_id)

    def assertion() -> str:
        # Called by the credential whenever it needs a new app token; the identity caches its own.
        return str(identity.get_token(TOKEN_EXCHANGE_SCOPE).token)

    return ClientAssertionCredential(tenant_id, client_id, assertion)
