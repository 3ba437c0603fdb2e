"""The Messaging API simulator follows Microsoft's pages by default (issue 17): activities without ids,
silent ends, lost webhook deliveries, and GET .../messages with paging. Over real loopback HTTP, with
the simulator's clock injected so no test waits for time to pass."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any
from urllib.parse import quote

import pytest
import requests
from msgsim_support import API, Webhook, activities, create, headers, send, webhook_fixture  # noqa: F401

from devtools.messaging_sim import FaultRule, MessagingSimulator
from shared.messaging.token import WebhookTokenValidator


class Clock:
    """Epoch seconds that move only when the test says so."""

    def __init__(self, now: float = 1_765_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sim(webhook: Webhook, clock: Clock) -> Iterator[MessagingSimulator]:
    with MessagingSimulator(webhook_url=webhook.url, clock=clock) as simulator:
        simulator.rep.accept_delay = 0.0
        simulator.rep.auto_accept = False
        simulator.rep.auto_reply = False
        simulator.webhook_retry_pause = 0.01
        webhook.validator = WebhookTokenValidator(
            simulator.tenant_id, simulator.audience, jwks_url=simulator.jwks_url
        )
        yield simulator


def read(sim: MessagingSimulator, conversation_id: str, **params: str) -> requests.Response:
    query = "&".join(f"{k}={quote(v, safe='')}" for k, v in params.items())
    url = sim.url + API + f"conversation/{conversation_id}/messages" + (f"?{query}" if query else "")
    return requests.get(url, headers=headers(sim), timeout=5)


def texts(answer: requests.Response) -> list[Any]:
    return [m["text"] for m in answer.json()["messages"]]


# ---------------------------------------------------------------------------------------- webhook


def test_activities_carry_no_id_or_timestamp_by_default(sim: MessagingSimulator, webhook: Webhook) -> None:
    conversation_id = create(sim).json()["conversationId"]
    sim.rep.accept(conversation_id, delay=0.0)
    sim.rep.typing(conversation_id)
    sim.rep.end(conversation_id)
    assert sim.rep.wait_delivered()
    bodies = activities(webhook)
    assert len(bodies) == 4  # AgentAccepted, greeting, typing, AgentEndSession
    assert all("id" not in body and "timestamp" not in body for body in bodies)
    accepted, greeting, typing, end = bodies[0], bodies[1], bodies[2], bodies[3]
    assert "from" not in accepted and accepted["name"] == "AgentAccepted"  # as the webhook page's sample
    assert greeting["from"] == {"id": sim.rep.rep_id, "name": sim.rep.name}
    assert typing["recipient"] == {"id": "conv-1"} and "from" not in typing
    assert end["name"] == "AgentEndSession" and "from" not in end


def test_activity_ids_option_adds_id_and_timestamp(sim: MessagingSimulator, webhook: Webhook) -> None:
    admin = sim.url + "/_sim/config"
    assert requests.post(admin, json={"activity_ids": True}, timeout=5).json()["activity_ids"] is True
    conversation_id = create(sim).json()["conversationId"]
    sim.rep.say(conversation_id, "with id")
    assert sim.rep.wait_delivered()
    (body,) = activities(webhook)
    listed = read(sim, conversation_id).json()["messages"]
    assert body["id"] == listed[-1]["messageId"] and body["timestamp"] == listed[-1]["timestamp"]


def test_activity_ids_constructor_option(webhook: Webhook) -> None:
    with MessagingSimulator(webhook_url=webhook.url, activity_ids=True) as other:
        assert other.activity_ids and other.rep.include_ids


def test_the_same_text_twice_is_two_identical_deliveries(sim: MessagingSimulator, webhook: Webhook) -> None:
    conversation_id = create(sim).json()["conversationId"]
    sim.rep.say(conversation_id, "ok")
    sim.rep.say(conversation_id, "ok")
    assert sim.rep.wait_delivered()
    first, second = activities(webhook)
    assert first == second
    assert [m["text"] for m in read(sim, conversation_id).json()["messages"]] == ["ok", "ok"]


def test_drop_webhook_loses_deliveries_but_the_conversation_keeps_them(
    sim: MessagingSimulator, webhook: Webhook
) -> None:
    conversation_id = create(sim).json()["conversationId"]
    assert requests.post(sim.url + "/_sim/config", json={"drop_webhook": 2}, timeout=5).status_code == 200
    sim.rep.say(conversation_id, "lost 1")
    sim.rep.say(conversation_id, "lost 2")
    sim.rep.say(conversation_id, "delivered")
    said = requests.post(
        sim.url + "/_sim/rep/say",
        json={"conversation_id": conversation_id, "text": "lost 3", "drop": True},
        timeout=5,
    )
    assert said.status_code == 201
    assert sim.rep.wait_delivered()
    assert [body["text"] for body in activities(webhook)] == ["delivered"]
    dropped = [d for d in sim.rep.deliveries if d.dropped]
    assert len(dropped) == 3 and all(d.statuses == [] and not d.delivered for d in dropped)
    assert sim.drop_webhook == 0
    assert texts(read(sim, conversation_id)) == ["lost 1", "lost 2", "delivered", "lost 3"]


def test_webhook_retries_are_unchanged_three_attempts(sim: MessagingSimulator, webhook: Webhook) -> None:
    assert (sim.webhook_attempts, sim.webhook_timeout) == (3, 10.0)
    conversation_id = create(sim).json()["conversationId"]
    webhook.statuses = [500, 500, 500]
    sim.rep.say(conversation_id, "given up")
    assert sim.rep.wait_delivered()
    assert sim.rep.deliveries[-1].statuses == [500, 500, 500]
    assert texts(read(sim, conversation_id)) == ["given up"]


# ---------------------------------------------------------------------------------------- silent ends


@pytest.mark.parametrize("reason", ["timeout", "waiting"])
def test_a_silent_end_calls_no_webhook_and_create_starts_anew(
    sim: MessagingSimulator, webhook: Webhook, reason: str
) -> None:
    first = create(sim).json()
    conversation_id = first["conversationId"]
    assert create(sim).json() == {"conversationId": conversation_id, "isNew": False}
    ended = requests.post(
        sim.url + "/_sim/end-silently",
        json={"conversation_id": conversation_id, "reason": reason},
        timeout=5,
    )
    assert ended.status_code == 204
    assert sim.rep.wait_delivered()
    assert activities(webhook) == [] and sim.rep.deliveries == []
    answer = send(sim, conversation_id, {"type": "message", "text": "anyone?"})
    body = answer.json()
    assert answer.status_code == 404 and body["errorCode"] == 30013
    assert body["status"] == 404 and body["title"] and body["detail"] and body["type"]
    fresh = create(sim).json()
    assert fresh["isNew"] is True and fresh["conversationId"] != conversation_id
    assert sim.conversation(conversation_id)["closedBy"] == reason  # type: ignore[index]


def test_end_silently_refuses_bad_reasons_and_unknown_conversations(sim: MessagingSimulator) -> None:
    conversation_id = create(sim).json()["conversationId"]
    with pytest.raises(ValueError):
        sim.end_silently(conversation_id, reason="bored")
    admin = sim.url + "/_sim/end-silently"
    assert requests.post(admin, json={"conversation_id": "nope"}, timeout=5).status_code == 400
    sim.end_silently(conversation_id)
    with pytest.raises(KeyError):
        sim.end_silently(conversation_id)


# ---------------------------------------------------------------------------------------- GET messages


def test_messages_list_every_message_in_order_with_empty_from(
    sim: MessagingSimulator, webhook: Webhook, clock: Clock
) -> None:
    created = create(sim, startmessage="Earlier: my order is late").json()
    conversation_id = created["conversationId"]
    clock.advance(1)
    sim.rep.accept(conversation_id, delay=0.0)  # AgentAccepted is an event, not a message; greeting is
    clock.advance(1)
    sent = send(sim, conversation_id, {"type": "message", "text": "still there?"})
    assert sent.status_code == 200
    assert sent.json()["message"] is None and len(sent.json()["messageId"]) == 13
    send(sim, conversation_id, {"type": "typing"})
    clock.advance(1)
    sim.rep.say(conversation_id, "yes", drop=True)
    assert sim.rep.wait_delivered()
    answer = read(sim, conversation_id)
    assert answer.status_code == 200
    body = answer.json()
    assert body["continuationToken"] is None
    messages = body["messages"]
    assert [m["text"] for m in messages] == [
        "Earlier: my order is late",
        sim.rep.greeting,
        "still there?",
        "yes",
    ]
    assert messages[0]["messageId"] == created["messageId"]
    assert messages[2]["messageId"] == sent.json()["messageId"]
    for message in messages:
        assert set(message) == {
            "type",
            "attachments",
            "text",
            "messageId",
            "timestamp",
            "from",
            "channelData",
        }
        assert message["from"] == {} and message["type"] == "message" and message["attachments"] == []
        assert len(message["messageId"]) == 13 and message["messageId"].isdigit()
        assert datetime.fromisoformat(message["timestamp"]).utcoffset() is not None
    ids = [int(m["messageId"]) for m in messages]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)


def test_messages_from_author_option_fills_from(sim: MessagingSimulator) -> None:
    sim.messages_from_author = True
    conversation_id = create(sim).json()["conversationId"]
    sim.rep.say(conversation_id, "hello")
    assert read(sim, conversation_id).json()["messages"][0]["from"]["name"] == sim.rep.name


def test_messages_page_by_continuation_token_and_start_timestamp(
    sim: MessagingSimulator, clock: Clock
) -> None:
    conversation_id = create(sim).json()["conversationId"]
    for index in range(7):
        clock.advance(0.5)
        send(sim, conversation_id, {"type": "message", "text": f"m{index}"})
    pages: list[list[Any]] = []
    token: str | None = None
    while True:
        params = {"PageSize": "3"} | ({"ContinuationToken": token} if token else {})
        body = read(sim, conversation_id, **params).json()
        pages.append([m["text"] for m in body["messages"]])
        token = body["continuationToken"]
        if token is None:
            break
        assert token == body["messages"][-1]["timestamp"]
    assert pages == [["m0", "m1", "m2"], ["m3", "m4", "m5"], ["m6"]]
    every = read(sim, conversation_id).json()["messages"]
    after = read(sim, conversation_id, StartTimeStamp=every[4]["timestamp"])
    assert texts(after) == ["m5", "m6"]
    lower_case = read(sim, conversation_id, pagesize="2", starttimestamp=every[4]["timestamp"])
    assert texts(lower_case) == ["m5", "m6"] and lower_case.json()["continuationToken"] is None
    assert texts(read(sim, conversation_id, StartTimeStamp=every[6]["timestamp"])) == []


def test_messages_of_an_empty_conversation_are_an_empty_list(sim: MessagingSimulator) -> None:
    conversation_id = create(sim).json()["conversationId"]
    assert read(sim, conversation_id).json() == {"messages": [], "continuationToken": None}


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"PageSize": "0"}, 30008),
        ({"PageSize": "101"}, 30008),
        ({"PageSize": "ten"}, 30008),
        ({"StartTimeStamp": "yesterday"}, 30006),
        ({"StartTimeStamp": "2025-04-15T12:37:00"}, 30006),  # no offset: not a DatetimeOffset
        ({"ContinuationToken": "abc"}, 30009),
    ],
)
def test_messages_bad_query_is_a_400_problem(
    sim: MessagingSimulator, params: dict[str, str], code: int
) -> None:
    conversation_id = create(sim).json()["conversationId"]
    answer = read(sim, conversation_id, **params)
    assert answer.status_code == 400 and answer.json()["errorCode"] == code
    assert answer.json()["status"] == 400 and answer.json()["detail"]


def test_messages_share_auth_throttling_and_faults(sim: MessagingSimulator) -> None:
    conversation_id = create(sim).json()["conversationId"]
    url = sim.url + API + f"conversation/{conversation_id}/messages"
    assert requests.get(url, headers=headers(sim, Authorization=""), timeout=5).status_code == 401
    sim.add_fault(FaultRule(kind="status", operation="messages", status=429, retry_after=7, times=1))
    throttled = read(sim, conversation_id)
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "7"
    assert throttled.headers["x-ms-correlation-id"]
    assert read(sim, conversation_id).status_code == 200
    assert [r.operation for r in sim.requests][-2:] == ["messages", "messages"]


def test_closed_conversations_are_unreadable_at_once_by_default(sim: MessagingSimulator) -> None:
    ended = create(sim, "c-end").json()["conversationId"]
    silent = create(sim, "c-silent").json()["conversationId"]
    send(sim, ended, {"type": "message", "text": "bye"})
    send(sim, ended, {"type": "endOfConversation"})
    sim.end_silently(silent, "waiting")
    for conversation_id in (ended, silent, "6b1d2c3e-0000-4000-8000-000000000000"):
        answer = read(sim, conversation_id)
        assert (answer.status_code, answer.json()["errorCode"]) == (404, 30013)


def test_closed_messages_readable_for_the_chosen_grace(sim: MessagingSimulator, clock: Clock) -> None:
    config = {"closed_messages_readable_seconds": 60}
    assert requests.post(sim.url + "/_sim/config", json=config, timeout=5).status_code == 200
    conversation_id = create(sim).json()["conversationId"]
    sim.rep.say(conversation_id, "last words")
    sim.rep.end(conversation_id)
    clock.advance(59)
    assert texts(read(sim, conversation_id)) == ["last words"]
    clock.advance(1)
    assert read(sim, conversation_id).status_code == 404
