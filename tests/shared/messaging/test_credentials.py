"""Token out: which credential each configuration builds, and the assertion path's token exchange."""

from __future__ import annotations

import pytest
from azure.identity import (
    ClientAssertionCredential,
    ClientSecretCredential,
    DefaultAzureCredential,
)

from shared.messaging import credentials
from shared.messaging.credentials import TOKEN_EXCHANGE_SCOPE, messaging_credential, messaging_scope


def test_scope_follows_the_configure_page() -> None:
    scope = messaging_scope("1A2B3C4D-0000-1111-2222-333344445555", "crm4")
    assert scope == "https://1a2b3c4d000011112222333344445555-c.crm4.dynamics.com/.default"


def test_no_client_id_is_default_azure_credential() -> None:
    assert isinstance(messaging_credential(managed_identity_client_id="mi"), DefaultAzureCredential)


def test_client_id_without_secret_uses_the_managed_identity_assertion() -> None:
    credential = messaging_credential(tenant_id="t", client_id="app", managed_identity_client_id="mi")
    assert isinstance(credential, ClientAssertionCredential)


def test_a_configured_secret_is_the_fallback() -> None:
    credential = messaging_credential(tenant_id="t", client_id="app", client_secret="s3cret")
    assert isinstance(credential, ClientSecretCredential)


def test_client_id_needs_a_tenant() -> None:
    with pytest.raises(ValueError):
        messaging_credential(client_id="app")


def test_the_assertion_is_the_managed_identity_token_for_the_exchange_audience(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The app token itself needs Entra; what we can check locally is the assertion callback."""
    seen: list[str] = []

    class FakeIdentity:
        def __init__(self, client_id: str | None = None) -> None:
            self.client_id = client_id

        def get_token(self, scope: str) -> object:
            seen.append(f"{self.client_id}:{scope}")
            return type("T", (), {"token": "mi-token"})()

    captured: dict[str, object] = {}

    class CaptureAssertion:
        def __init__(self, tenant_id: str, client_id: str, func: object) -> None:
            captured.update(tenant=tenant_id, client=client_id, func=func)

    import azure.identity

    monkeypatch.setattr(azure.identity, "ManagedIdentityCredential", FakeIdentity)
    monkeypatch.setattr(azure.identity, "ClientAssertionCredential", CaptureAssertion)
    credentials.messaging_credential(tenant_id="t1", client_id="app1", managed_identity_client_id="mi1")
    assert captured["tenant"] == "t1" and captured["client"] == "app1"
    assert captured["func"]() == "mi-token"  # type: ignore[operator]
    assert seen == [f"mi1:{TOKEN_EXCHANGE_SCOPE}"]
