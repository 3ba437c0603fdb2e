"""POST /api/messaging/v3/conversations/{id}/activities: the token first, nothing stored unless valid."""

from __future__ import annotations

import json
import uuid

import pytest
import requests
from helpers import queue_messages
from messaging_helpers import MessagingBridge, messaging_bridge_fixture, reset_messaging_caches  # noqa: F401

from shared.messaging.outbox import Direction

REFUSED = ["forged", "unknown_kid", "expired", "not_yet_valid", "wrong_audience", "wrong_issuer",
           "wrong_tenant", "unsigned", "hs256_public_key", "other_app", "no_app"]  # fmt: skip


def _activity(conversation_id: str, text: str = "Hello from the rep", **extra: object) -> dict:
    return {
        "id": extra.pop("id", uuid.uuid4().hex),
        "type": "message",
        "channelId": "MessagingApi",
        "from": {"id": "rep-1", "name": "Rep One"},
        "conversation": {"id": conversation_id},
        "text": text,
        **extra,
    }


def _post(bridge: MessagingBridge, conversation_id: str, body: dict | bytes, token: str | None,
          header: str = "Authorization") -> requests.Response:  # fmt: skip
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers[header] = f"Bearer {token}"
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return requests.post(bridge.activity_url(conversation_id), data=data, headers=headers, timeout=10)


def _stored(conversation_id: str) -> int:
    from shared.messaging.deps import process_deps

    return len(process_deps().outbox.entries(conversation_id, Direction.TO_CUSTOMER))


@pytest.mark.parametrize("kind", REFUSED)
def test_a_bad_token_is_refused_and_nothing_is_stored(messaging_bridge: MessagingBridge, kind: str) -> None:
    bridge = messaging_bridge
    conversation_id = str(uuid.uuid4())
    answer = _post(bridge, conversation_id, _activity(conversation_id), bridge.sim.minter.mint(kind))
    assert answer.status_code == 401
    assert "Bearer" in answer.headers.get("WWW-Authenticate", "")
    assert _stored(conversation_id) == 0
    assert queue_messages(bridge.storage, bridge.env["MESSAGING_QUEUE"]) == []


def test_no_token_or_another_scheme_is_refused(messaging_bridge: MessagingBridge) -> None:
    bridge = messaging_bridge
    conversation_id = str(uuid.uuid4())
    assert _post(bridge, conversation_id, _activity(conversation_id), None).status_code == 401
    basic = requests.post(
        bridge.activity_url(conversation_id), json=_activity(conversation_id),
        headers={"Authorization": "Basic dXNlcjpwYXNz"}, timeout=10,
    )  # fmt: skip
    assert basic.status_code == 401
    assert _stored(conversation_id) == 0
    assert queue_messages(bridge.storage, bridge.env["MESSAGING_QUEUE"]) == []


def test_a_valid_token_is_accepted_also_in_the_legacy_header_and_v1_form(
    messaging_bridge: MessagingBridge,
) -> None:
    bridge = messaging_bridge
    conversation_id = str(uuid.uuid4())
    valid = _post(bridge, conversation_id, _activity(conversation_id, "one"), bridge.sim.minter.mint("valid"))
    legacy = _post(bridge, conversation_id, _activity(conversation_id, "two"), bridge.sim.minter.mint("valid"),
                   header="x-ms-token")  # fmt: skip
    v1 = _post(
        bridge, conversation_id, _activity(conversation_id, "three"), bridge.sim.minter.mint("v1_issuer")
    )
    assert [valid.status_code, legacy.status_code, v1.status_code] == [200, 200, 200]
    assert _stored(conversation_id) == 3


def test_a_redelivery_answers_200_and_is_stored_once(messaging_bridge: MessagingBridge) -> None:
    bridge = messaging_bridge
    conversation_id = str(uuid.uuid4())
    body = _activity(conversation_id, id="fixed-id")
    first = _post(bridge, conversation_id, body, bridge.sim.minter.mint("valid"))
    again = _post(bridge, conversation_id, body, bridge.sim.minter.mint("valid"))
    assert (first.status_code, first.json()["status"]) == (200, "accepted")
    assert (again.status_code, again.json()["status"]) == (200, "duplicate")
    # Without an id, the same body is the same activity (PascalCase keys fold to the same body).
    no_id = {k: v for k, v in _activity(conversation_id, "same words").items() if k != "id"}
    pascal = {"Type": "message", "ChannelId": "MessagingApi", "From": {"Id": "rep-1", "Name": "Rep One"},
              "Conversation": {"Id": conversation_id}, "Text": "same words"}  # fmt: skip
    assert (
        _post(bridge, conversation_id, no_id, bridge.sim.minter.mint("valid")).json()["status"] == "accepted"
    )
    assert (
        _post(bridge, conversation_id, pascal, bridge.sim.minter.mint("valid")).json()["status"]
        == "duplicate"
    )
    assert _stored(conversation_id) == 2


@pytest.mark.parametrize(
    "body",
    [
        {"type": "typing", "conversation": {"id": "x"}},
        {"type": "message", "name": "AgentAccepted", "text": "EventName: **_AgentAccepted_**"},
        {"type": "message", "text": "EventName: **_TransferToAgentInitiated_**"},
        {"type": "event", "name": "CustomerDisconnected"},
        {"type": "conversationUpdate"},
    ],
)
def test_ignorable_activities_answer_200_and_store_nothing(
    messaging_bridge: MessagingBridge, body: dict
) -> None:
    bridge = messaging_bridge
    conversation_id = str(uuid.uuid4())
    answer = _post(bridge, conversation_id, body, bridge.sim.minter.mint("valid"))
    assert (answer.status_code, answer.json()["status"]) == (200, "ignored")
    assert _stored(conversation_id) == 0


def test_an_end_event_is_stored_as_an_end(messaging_bridge: MessagingBridge) -> None:
    bridge = messaging_bridge
    conversation_id = str(uuid.uuid4())
    body = {"type": "message", "name": "AgentEndSession", "text": "EventName: **_AgentEndSession_**",
            "conversation": {"id": conversation_id}}  # fmt: skip
    assert _post(bridge, conversation_id, body, bridge.sim.minter.mint("valid")).status_code == 200
    stored = bridge.deps.outbox.entries(conversation_id, Direction.TO_CUSTOMER)
    assert [entry.kind for entry in stored] == ["end"]


def test_a_body_that_is_not_json_is_400_after_the_token(messaging_bridge: MessagingBridge) -> None:
    bridge = messaging_bridge
    conversation_id = str(uuid.uuid4())
    assert _post(bridge, conversation_id, b"not json", None).status_code == 401
    assert _post(bridge, conversation_id, b"not json", bridge.sim.minter.mint("valid")).status_code == 400


def test_unreachable_keys_answer_503_so_microsoft_retries(
    messaging_bridge: MessagingBridge, monkeypatch: pytest.MonkeyPatch
) -> None:
    from devtools.azurite import free_port

    bridge = messaging_bridge
    monkeypatch.setenv("MESSAGING_JWKS_URL", f"http://127.0.0.1:{free_port()}/keys")
    reset_messaging_caches()
    conversation_id = str(uuid.uuid4())
    answer = _post(bridge, conversation_id, _activity(conversation_id), bridge.sim.minter.mint("valid"))
    assert answer.status_code == 503
    assert _stored(conversation_id) == 0


def test_the_webhook_is_closed_in_mode_work_item(
    messaging_bridge: MessagingBridge, monkeypatch: pytest.MonkeyPatch
) -> None:
    bridge = messaging_bridge
    monkeypatch.setenv("DELIVERY_MODE", "work_item")
    reset_messaging_caches()
    conversation_id = str(uuid.uuid4())
    answer = _post(bridge, conversation_id, _activity(conversation_id), bridge.sim.minter.mint("valid"))
    assert answer.status_code == 404
