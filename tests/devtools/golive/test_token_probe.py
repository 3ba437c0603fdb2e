"""token_probe keeps identifiers only, once per conversation, and can be cleared."""

from __future__ import annotations

from devtools.messaging_sim.keys import TokenMinter
from shared.messaging import token_probe
from shared.messaging.token import TokenClaims
from shared.platform.settings import load_settings


def settings(azurite):  # type: ignore[no-untyped-def]
    return load_settings({
        "DATAVERSE_URL": "http://127.0.0.1:9", "DEFAULT_QUEUE_ID": "5b3c9a1e-2f4d-4e8a-9c6b-0d1e2f3a4b5c",
        "OPENCX_API_KEY": "k", "AzureWebJobsStorage": azurite.connection_string, "MESSAGING_TABLE": "tokenprobetest",
    })  # fmt: skip


def test_record_read_clear(azurite) -> None:  # type: ignore[no-untyped-def]
    s = settings(azurite)
    token_probe.forget_written()
    token_probe.clear_claims(s)
    claims = TokenClaims("https://login.microsoftonline.com/t/v2.0", "api://a", "app", "t")
    token_probe.record_claims(claims, "conv-1", settings=s)
    got = token_probe.read_claims(s)
    assert got is not None and (got.audience, got.verified, got.conversation_id) == (
        "api://a",
        True,
        "conv-1",
    )
    token_probe.clear_claims(s)
    token_probe.record_claims(claims, "conv-1", settings=s)  # same conversation, same process: no write
    assert token_probe.read_claims(s) is None


def test_rejection_keeps_unverified_claims_never_the_token(azurite) -> None:  # type: ignore[no-untyped-def]
    s = settings(azurite)
    token_probe.forget_written()
    token = TokenMinter("tid-1", "api://other", "app-1").mint()
    token_probe.record_rejection({"Authorization": f"Bearer {token}"}, "wrong_audience", "conv-2", settings=s)
    got = token_probe.read_claims(s)
    assert got is not None
    assert (got.audience, got.tenant_id, got.verified, got.reason) == (
        "api://other",
        "tid-1",
        False,
        "wrong_audience",
    )
    from azure.data.tables import TableClient

    table = TableClient.from_connection_string(azurite.connection_string, "tokenprobetest")
    entity = table.get_entity(token_probe.PARTITION, token_probe.ROW)
    assert token not in str(dict(entity))
    token_probe.clear_claims(s)
