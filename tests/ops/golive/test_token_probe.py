"""token_probe keeps identifiers only, only while a go-live check armed it, within a budget."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devtools.messaging_sim.rep import TokenMinter
from shared.messaging import token_probe
from shared.messaging.token import TokenClaims
from shared.platform.settings import load_settings

CLAIMS = TokenClaims("https://login.microsoftonline.com/t/v2.0", "api://a", "app", "t")


def settings(azurite):  # type: ignore[no-untyped-def]
    return load_settings({
        "DATAVERSE_URL": "http://127.0.0.1:9", "DEFAULT_QUEUE_ID": "5b3c9a1e-2f4d-4e8a-9c6b-0d1e2f3a4b5c",
        "OPENCX_API_KEY": "k", "AzureWebJobsStorage": azurite.connection_string, "MESSAGING_TABLE": "tokenprobetest",
    })  # fmt: skip


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    fake = Clock()
    monkeypatch.setattr(token_probe, "memory", token_probe.Memory(clock=fake))  # a fresh process's memory
    yield fake


def _rows(azurite) -> list[dict]:  # type: ignore[no-untyped-def]
    from azure.data.tables import TableClient

    table = TableClient.from_connection_string(azurite.connection_string, "tokenprobetest")
    try:
        return [dict(e) for e in table.query_entities(f"PartitionKey eq '{token_probe.PARTITION}'")]
    finally:
        table.close()


def test_record_read_clear(azurite, clock: Clock) -> None:  # type: ignore[no-untyped-def]
    s = settings(azurite)
    token_probe.clear_claims(s)
    token_probe.arm(s, 60)
    token_probe.record_claims(CLAIMS, "conv-1", settings=s)
    got = token_probe.read_claims(s)
    assert got is not None and (got.audience, got.verified, got.conversation_id) == (
        "api://a",
        True,
        "conv-1",
    )
    token_probe.clear_claims(s)
    assert _rows(azurite) == []  # the record and the arming are both gone
    clock.now += token_probe.ARM_CACHE_SECONDS
    token_probe.record_claims(CLAIMS, "conv-2", settings=s)  # disarmed: nothing written
    assert token_probe.read_claims(s) is None


def test_nothing_is_recorded_unless_armed(azurite, clock: Clock) -> None:  # type: ignore[no-untyped-def]
    s = settings(azurite)
    token_probe.clear_claims(s)
    token = TokenMinter("tid-1", "api://other", "app-1").mint()
    for n in range(30):  # a flood of refused tokens, each for a new conversation
        token_probe.record_rejection(
            {"Authorization": f"Bearer {token}"}, "wrong_audience", f"c{n}", settings=s
        )
        token_probe.record_claims(CLAIMS, f"a{n}", settings=s)
    assert token_probe.read_claims(s) is None and _rows(azurite) == []
    # Armed now, but this process read "not armed" a moment ago: the read is cached, no new read.
    token_probe.arm(s, 60)
    token_probe.record_claims(CLAIMS, "conv-late", settings=s)
    assert token_probe.read_claims(s) is None
    clock.now += token_probe.ARM_CACHE_SECONDS  # the check pauses this long after arming
    token_probe.record_claims(CLAIMS, "conv-late", settings=s)
    assert (got := token_probe.read_claims(s)) is not None and got.conversation_id == "conv-late"
    token_probe.clear_claims(s)


def test_an_expired_arming_records_nothing(azurite, clock: Clock) -> None:  # type: ignore[no-untyped-def]
    s = settings(azurite)
    token_probe.clear_claims(s)
    token_probe.arm(s, -1)
    token_probe.record_claims(CLAIMS, "conv-x", settings=s)
    assert token_probe.read_claims(s) is None
    token_probe.clear_claims(s)


def test_refused_tokens_are_bounded_per_arming(azurite, clock: Clock) -> None:  # type: ignore[no-untyped-def]
    from unittest import mock

    s = settings(azurite)
    token_probe.clear_claims(s)
    token_probe.arm(s, 60)
    token = TokenMinter("tid-1", "api://other", "app-1").mint()
    with mock.patch.object(token_probe, "_write", wraps=token_probe._write) as writes:
        for n in range(token_probe.MAX_RECORDS_PER_ARM + 30):
            token_probe.record_rejection({"Authorization": f"Bearer {token}"}, "wrong_audience", f"c{n}",
                                         settings=s)  # fmt: skip
    assert writes.call_count == token_probe.MAX_RECORDS_PER_ARM
    token_probe.clear_claims(s)


def test_a_named_conversation_narrows_the_arming(azurite, clock: Clock) -> None:  # type: ignore[no-untyped-def]
    s = settings(azurite)
    token_probe.clear_claims(s)
    arm_id = token_probe.arm(s, 60)
    token_probe.arm(s, 60, "the-probe", arm_id)
    token = TokenMinter("tid-1", "api://other", "app-1").mint()
    token_probe.record_rejection(
        {"Authorization": f"Bearer {token}"}, "wrong_audience", "another", settings=s
    )
    assert token_probe.read_claims(s) is None
    token_probe.record_rejection(
        {"Authorization": f"Bearer {token}"}, "wrong_audience", "the-probe", settings=s
    )
    assert (got := token_probe.read_claims(s)) is not None and got.conversation_id == "the-probe"
    token_probe.clear_claims(s)


def test_rejection_keeps_unverified_claims_never_the_token(azurite, clock: Clock) -> None:  # type: ignore[no-untyped-def]
    s = settings(azurite)
    token_probe.clear_claims(s)
    token_probe.arm(s, 60)
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
    assert token not in str(_rows(azurite))
    token_probe.clear_claims(s)
