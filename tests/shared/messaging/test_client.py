"""The Messaging API client against the simulator, over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from devtools.messaging_sim import FaultRule, MessagingSimulator
from shared.messaging.bodies import build_create_body, build_message_activity
from shared.messaging.client import MessagingClient, MessagingResponse, _error_code
from shared.messaging.credentials import messaging_credential


@dataclass
class _Token:
    token: str
    expires_on: int


class SimCredential:
    """An azure-identity-shaped credential whose tokens the simulator issues; cached like the real ones."""

    def __init__(self, sim: MessagingSimulator) -> None:
        self.sim = sim
        self.cached: _Token | None = None

    def get_token(self, scope: str) -> _Token:
        if self.cached is None:
            self.cached = _Token(*self.sim.issue_token(scope))
        return self.cached


@pytest.fixture
def sim() -> Iterator[MessagingSimulator]:
    with MessagingSimulator() as simulator:
        simulator.rep.auto_accept = False
        simulator.rep.auto_reply = False
        yield simulator


def make_client(sim: MessagingSimulator, **kwargs: object) -> MessagingClient:
    return MessagingClient(
        sim.url,
        lambda: SimCredential(sim),
        sim.token_scope,
        sim.channel_id,
        sim.organization_id,
        inline_retry_pauses=(0.01, 0.01),
        **kwargs,  # type: ignore[arg-type]
    )


def test_create_then_the_same_customer_gets_the_same_conversation(sim: MessagingSimulator) -> None:
    client = make_client(sim)
    body = build_create_body("opencx-conv-1", phone="+14155550123", start_message="Summary")
    first = client.create_conversation(body)
    again = client.create_conversation(body)
    assert first.ok and first.is_new is True and first.message_id is not None
    assert again.ok and again.is_new is False
    assert again.conversation_id == first.conversation_id
    assert sim.store.count() == 1
    sent = sim.requests[0]
    assert sent.headers["channel-id"] == sim.channel_id
    assert sent.headers["organization-id"] == sim.organization_id
    assert sent.headers["authorization"] == "<redacted>"
    assert sent.body["customercontext"]["phonenumber"] == "+14155550123"


def test_any_2xx_is_success(sim: MessagingSimulator) -> None:
    sim.create_status = 201
    result = make_client(sim).create_conversation(build_create_body("c-201"))
    assert result.status == 201 and result.ok and result.conversation_id


def test_send_message_and_end(sim: MessagingSimulator) -> None:
    client = make_client(sim)
    conversation_id = client.create_conversation(build_create_body("c-send")).conversation_id
    assert conversation_id
    activity = build_message_activity(
        conversation_id, sim.channel_id, text="Friday works", sender_name="Dana"
    )
    sent = client.send_activity(conversation_id, activity)
    assert sent.ok and sent.message_id
    assert sim.conversation(conversation_id)["messages"][0]["text"] == "Friday works"  # type: ignore[index]
    ended = client.end_conversation(conversation_id)
    assert ended.ok
    assert sim.conversation(conversation_id)["active"] is False  # type: ignore[index]
    again = client.end_conversation(conversation_id)
    assert again.status == 404 and again.error_code == "30013" and again.conversation_gone
    assert again.correlation_id


@pytest.mark.parametrize(
    ("activity", "code"),
    [
        ({"type": "message", "text": "x" * 6001}, "30011"),
        ({"type": "message", "text": ""}, "30016"),
        ({"type": "event", "name": "Whatever"}, "30003"),
    ],
)
def test_documented_send_errors_come_back_as_codes(
    sim: MessagingSimulator, activity: dict, code: str
) -> None:
    client = make_client(sim)
    conversation_id = client.create_conversation(build_create_body("c-err")).conversation_id or ""
    result = client.send_activity(conversation_id, {**activity, "conversation": {"id": conversation_id}})
    assert result.status == 400 and result.error_code == code and not result.ok
    assert result.error_message


def test_context_over_100_entries_is_30010(sim: MessagingSimulator) -> None:
    body = build_create_body("c-ctx")
    body["conversationcontext"] = {f"k{i}": {"isDisplayable": True, "value": i} for i in range(101)}
    result = make_client(sim).create_conversation(body)
    assert (result.status, result.error_code) == (400, "30010")


def test_wrong_channel_or_org_is_401(sim: MessagingSimulator) -> None:
    other = MessagingClient(
        sim.url,
        lambda: SimCredential(sim),
        sim.token_scope,
        sim.channel_id,
        "6d7b1c52-1111-4222-8333-444455556666",
    )
    result = other.create_conversation(build_create_body("c-401"))
    assert result.status == 401
    assert sim.store.count() == 0


def test_a_rejected_token_is_refreshed_once(sim: MessagingSimulator) -> None:
    client = make_client(sim)
    assert client.create_conversation(build_create_body("c-a")).ok
    sim.expire_tokens()
    assert client.create_conversation(build_create_body("c-b")).ok
    statuses = [r.status for r in sim.requests]
    assert statuses == [200, 401, 200]


def test_429_returns_retry_after_without_inline_retry(sim: MessagingSimulator) -> None:
    sim.add_fault(FaultRule(kind="status", operation="create", status=429, retry_after=7, times=1))
    result = make_client(sim).create_conversation(build_create_body("c-429"))
    assert result.status == 429 and result.retry_after == 7.0
    assert len(sim.requests) == 1


def test_bare_503_is_retried_inline(sim: MessagingSimulator) -> None:
    sim.add_fault(FaultRule(kind="status", operation="create", status=503, times=1))
    result = make_client(sim).create_conversation(build_create_body("c-503"))
    assert result.ok and [r.status for r in sim.requests] == [503, 200]


def test_create_retries_a_dropped_answer_and_stays_one_conversation(sim: MessagingSimulator) -> None:
    sim.add_fault(FaultRule(kind="drop_after_commit", operation="create", times=1))
    result = make_client(sim).create_conversation(build_create_body("c-drop"))
    assert result.ok and result.is_new is False
    assert sim.store.count() == 1


def test_send_does_not_retry_a_dropped_answer(sim: MessagingSimulator) -> None:
    client = make_client(sim)
    conversation_id = client.create_conversation(build_create_body("c-nodup")).conversation_id or ""
    sim.add_fault(FaultRule(kind="drop_after_commit", operation="send", times=1))
    result = client.send_activity(
        conversation_id, build_message_activity(conversation_id, sim.channel_id, text="once")
    )
    assert result.status is None and result.transport_error
    assert len(sim.conversation(conversation_id)["messages"]) == 1  # type: ignore[index]


def test_a_slow_service_hits_the_read_timeout(sim: MessagingSimulator) -> None:
    sim.add_fault(FaultRule(kind="slow", operation="create", delay=1.0))
    client = make_client(sim, read_timeout=0.2)
    client.inline_retry_pauses = ()
    result = client.create_conversation(build_create_body("c-slow"))
    assert result.status is None and result.transport_error == "ReadTimeout"


def test_the_real_azure_identity_credential_gets_its_token_from_the_simulator(
    sim: MessagingSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in sim.env().items():
        monkeypatch.setenv(name, value)
    for name in ("AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_TENANT_ID", "AZURE_FEDERATED_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    client = MessagingClient(
        sim.url, lambda: messaging_credential(), sim.token_scope, sim.channel_id, sim.organization_id
    )
    assert client.create_conversation(build_create_body("c-identity")).ok
    assert client.create_conversation(build_create_body("c-identity-2")).ok
    assert sim.token_requests == 1  # cached by the credential between calls


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"errorCode": 30013}, "30013"),
        ({"ErrorCode": "30010"}, "30010"),
        ({"error": {"code": 30011, "message": "too long"}}, "30011"),
        ({"title": "Bad", "detail": "Error 30016: no text"}, "30016"),
        ({"extensions": {"errorcode": "30014"}}, "30014"),
        ({"title": "Bad", "detail": "nothing here 12"}, None),
        ({}, None),
    ],
)
def test_error_codes_are_read_leniently(body: dict, code: str | None) -> None:
    assert _error_code(body) == code


def test_response_fields_in_any_case() -> None:
    response = MessagingResponse(status=200, body={"ConversationId": "abc", "IsNew": "false", "MessageId": 1})
    assert (response.conversation_id, response.is_new, response.message_id) == ("abc", False, "1")
