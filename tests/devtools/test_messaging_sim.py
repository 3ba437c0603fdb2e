"""The Messaging API simulator: API checks over real HTTP, and the scripted rep's webhook deliveries."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from msgsim_support import API, Webhook, activities, create, headers, send, webhook_fixture  # noqa: F401

from devtools.dataverse_sim import DataverseSimulator
from devtools.messaging_sim import FaultRule, MessagingSimulator
from shared.messaging.activity import ActivityKind, parse_activity
from shared.messaging.token import TokenRejected, WebhookTokenValidator


@pytest.fixture
def sim(webhook: Webhook) -> Iterator[MessagingSimulator]:
    with MessagingSimulator(webhook_url=webhook.url) as simulator:
        simulator.rep.accept_delay = 0.0
        simulator.webhook_retry_pause = 0.05
        webhook.validator = WebhookTokenValidator(
            simulator.tenant_id, simulator.audience, jwks_url=simulator.jwks_url
        )
        yield simulator


# ---------------------------------------------------------------------------------------- API


@pytest.mark.parametrize(
    ("override", "status"),
    [
        ({"Authorization": ""}, 401),
        ({"Authorization": "Bearer not-issued"}, 401),
        ({"channel-id": ""}, 401),
        ({"organization-id": ""}, 401),
        ({"channel-id": "0f0f0f0f-0000-4000-8000-000000000000"}, 401),
        ({"organization-id": "not-a-guid"}, 400),
    ],
)
def test_requests_without_the_right_token_channel_or_org_are_refused(
    sim: MessagingSimulator, override: dict[str, str], status: int
) -> None:
    url = sim.url + API + "conversation/create"
    answer = requests.post(url, json={"customercontext": {}}, headers=headers(sim, **override), timeout=5)
    assert answer.status_code == status
    assert answer.headers["x-ms-correlation-id"]
    assert sim.store.count() == 0


def test_expired_tokens_are_refused(sim: MessagingSimulator) -> None:
    token_headers = headers(sim)
    sim.expire_tokens()
    url = sim.url + API + "conversation/create"
    assert requests.post(url, json={}, headers=token_headers, timeout=5).status_code == 401


def test_customerid_idempotency_until_the_conversation_closes(sim: MessagingSimulator) -> None:
    sim.rep.auto_accept = False
    first = create(sim, start_message="hi").json()
    again = create(sim).json()
    assert first["isNew"] is True and again == {"conversationId": first["conversationId"], "isNew": False}
    other = create(sim, "conv-2").json()
    assert other["conversationId"] != first["conversationId"]
    assert send(sim, first["conversationId"], {"type": "endOfConversation"}).status_code == 200
    fresh = create(sim).json()
    assert fresh["isNew"] is True and fresh["conversationId"] != first["conversationId"]


def test_documented_limits(sim: MessagingSimulator) -> None:
    sim.rep.auto_accept = False
    too_big = {f"k{i}": {"isDisplayable": True, "value": i} for i in range(101)}
    answer = create(sim, "c-ctx", conversationcontext=too_big)
    assert (answer.status_code, answer.json()["errorCode"]) == (400, 30010)
    conversation_id = create(sim).json()["conversationId"]
    cases = [
        ({"type": "message", "text": "x" * 6001}, 400, 30011),
        ({"type": "message"}, 400, 30016),
        ({"type": "message", "text": "ok", "channelId": "other"}, 400, 30002),
        ({"type": "bogus"}, 400, 30003),
    ]
    for activity, status, code in cases:
        answer = send(sim, conversation_id, activity)
        assert (answer.status_code, answer.json()["errorCode"]) == (status, code), activity
    assert send(sim, conversation_id, {"type": "message", "text": "x" * 6000}).status_code == 200
    unknown = send(sim, "6b1d2c3e-0000-4000-8000-000000000000", {"type": "message", "text": "hi"})
    assert (unknown.status_code, unknown.json()["errorCode"]) == (404, 30013)
    malformed = requests.post(
        sim.url + API + "conversation/create", data=b"{nope", headers=headers(sim), timeout=5
    )
    assert (malformed.status_code, malformed.json()["errorCode"]) == (400, 30012)


def test_channel_configuration_errors(sim: MessagingSimulator) -> None:
    sim.workstream_linked = False
    assert create(sim).json()["errorCode"] == 30014
    sim.channel_configured = False
    answer = create(sim)
    assert (answer.status_code, answer.json()["errorCode"]) == (404, 30004)


def test_faults_429_with_retry_after_and_drops(sim: MessagingSimulator) -> None:
    sim.add_fault(FaultRule(kind="status", operation="create", status=429, retry_after=3, times=1))
    throttled = create(sim)
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "3"
    sim.add_fault(FaultRule(kind="drop_before", operation="create", times=1))
    with pytest.raises(requests.ConnectionError):
        create(sim)
    assert sim.store.count() == 0
    assert create(sim).status_code == 200
    assert [r.status for r in sim.requests] == [429, 0, 200]
    assert sim.stats()["faults_fired"] == 2
    with pytest.raises(ValueError):
        FaultRule(kind="status", operation="nope")


def test_reads_messages_context_and_list(sim: MessagingSimulator) -> None:
    sim.rep.auto_accept = False
    sim.rep.auto_reply = False
    context = {"channel": {"isDisplayable": True, "value": "sms"}}
    conversation_id = create(sim, conversationcontext=context).json()["conversationId"]
    send(sim, conversation_id, {"type": "message", "text": "one"})
    read = requests.get(
        sim.url + API + f"conversation/{conversation_id}/messages", headers=headers(sim), timeout=5
    )
    assert [m["text"] for m in read.json()["messages"]] == ["one"]
    ctx = requests.get(
        sim.url + API + f"conversation/{conversation_id}/context", headers=headers(sim), timeout=5
    )
    assert ctx.json() == {"context": [{"name": "channel", "value": "sms"}]}
    listed = requests.get(sim.url + API + "conversations", headers=headers(sim), timeout=5).json()
    assert [c["conversationid"] for c in listed["conversations"]] == [conversation_id]


@pytest.mark.parametrize(
    ("header", "query", "status"),
    [
        (None, {"api-version": "2019-08-01"}, 400),  # no X-IDENTITY-HEADER
        ("wrong", {"api-version": "2019-08-01"}, 401),
        ("{secret}", {"api-version": "2017-09-01"}, 400),  # the one api-version App Service answers here
        (
            "{secret}",
            {"api-version": "2019-08-01", "resource": "https://elsewhere.example"},
            400,
        ),  # no upstream
    ],
)
def test_identity_endpoint_checks_as_the_dataverse_one_does(
    header: str | None, query: dict, status: int
) -> None:
    """One identity endpoint (devtools/simkit/identity.py) behind both simulators: the same refusals."""
    with MessagingSimulator() as sim:
        query = {"resource": sim.token_resource, **query}
        sent = (
            {} if header is None else {"X-IDENTITY-HEADER": header.replace("{secret}", sim.identity_header)}
        )
        answer = requests.get(sim.identity_endpoint, params=query, headers=sent, timeout=5)
        assert answer.status_code == status, answer.text
        assert set(answer.json()) == {"statusCode", "message", "correlationId"}
        assert sim.token_requests == 1


def test_identity_endpoint_issues_accepted_tokens_and_proxies_other_resources() -> None:
    with DataverseSimulator() as dataverse:
        upstream = (dataverse.identity_endpoint, dataverse.identity_header)
        with MessagingSimulator(upstream_identity=upstream) as sim:
            params = {"api-version": "2019-08-01", "resource": sim.token_resource}
            own = requests.get(
                sim.identity_endpoint,
                params=params,
                headers={"X-IDENTITY-HEADER": sim.identity_header},
                timeout=5,
            )
            token = own.json()["access_token"]
            sim.check_request(f"Bearer {token}", sim.channel_id, sim.organization_id)
            params["resource"] = dataverse.url
            proxied = requests.get(
                sim.identity_endpoint,
                params=params,
                headers={"X-IDENTITY-HEADER": sim.identity_header},
                timeout=5,
            )
            assert proxied.status_code == 200 and dataverse.token_requests == 1
            wrong = requests.get(
                sim.identity_endpoint, params=params, headers={"X-IDENTITY-HEADER": "x"}, timeout=5
            )
            assert wrong.status_code == 401


# ---------------------------------------------------------------------------------------- the rep


def test_the_rep_accepts_greets_and_replies_with_signed_tokens(
    sim: MessagingSimulator, webhook: Webhook
) -> None:
    conversation_id = create(sim).json()["conversationId"]
    assert sim.rep.wait_delivered()
    send(sim, conversation_id, {"type": "message", "text": "Friday please"})
    assert sim.rep.wait_delivered()
    bodies = activities(webhook)
    kinds = [parse_activity(body).kind for body in bodies]
    assert kinds == [ActivityKind.SYSTEM_EVENT, ActivityKind.REP_MESSAGE, ActivityKind.REP_MESSAGE]
    assert parse_activity(bodies[0]).event_name == "AgentAccepted"
    assert bodies[1]["text"] == sim.rep.greeting and bodies[1]["from"]["name"] == sim.rep.name
    paths = {path for path, _ in webhook.accepted}
    assert paths == {f"/api/messaging/v3/conversations/{conversation_id}/activities"}
    assert webhook.refused == []


def test_end_closes_the_conversation_and_announces_it(sim: MessagingSimulator, webhook: Webhook) -> None:
    conversation_id = create(sim).json()["conversationId"]
    sim.rep.end(conversation_id, "SupervisorForceClosedConversation")
    assert sim.rep.wait_delivered()
    last = parse_activity(activities(webhook)[-1])
    assert last.kind is ActivityKind.END and last.event_name == "SupervisorForceClosedConversation"
    assert send(sim, conversation_id, {"type": "message", "text": "hello?"}).status_code == 404


def test_twenty_rep_messages_arrive_in_order(sim: MessagingSimulator, webhook: Webhook) -> None:
    sim.rep.auto_accept = False
    conversation_id = create(sim).json()["conversationId"]
    for index in range(20):
        sim.rep.say(conversation_id, f"message {index}")
    assert sim.rep.wait_delivered()
    assert [body["text"] for body in activities(webhook)] == [f"message {i}" for i in range(20)]


def test_failures_are_retried_then_given_up_like_microsoft(sim: MessagingSimulator, webhook: Webhook) -> None:
    sim.rep.auto_accept = False
    conversation_id = create(sim).json()["conversationId"]
    webhook.statuses = [500, 503]
    sim.rep.say(conversation_id, "third time lucky")
    assert sim.rep.wait_delivered()
    assert sim.rep.deliveries[-1].statuses == [500, 503, 200]
    webhook.statuses = [500, 500, 500]
    sim.rep.say(conversation_id, "lost")
    assert sim.rep.wait_delivered()
    assert sim.rep.deliveries[-1].statuses == [500, 500, 500] and not sim.rep.deliveries[-1].delivered
    assert [body["text"] for body in activities(webhook)] == ["third time lucky"]


def test_a_slow_webhook_times_out_and_is_retried(sim: MessagingSimulator, webhook: Webhook) -> None:
    sim.rep.auto_accept = False
    sim.webhook_timeout = 0.2
    sim.webhook_attempts = 2
    conversation_id = create(sim).json()["conversationId"]
    webhook.delay = 0.5
    sim.rep.say(conversation_id, "slow")
    assert sim.rep.wait_delivered()
    assert sim.rep.deliveries[-1].statuses == [0, 0]


def test_redelivery_sends_the_same_bytes_again(sim: MessagingSimulator, webhook: Webhook) -> None:
    sim.rep.auto_accept = False
    sim.rep.include_ids = False
    conversation_id = create(sim).json()["conversationId"]
    index = sim.rep.say(conversation_id, "once")
    assert sim.rep.wait_delivered()
    again = sim.rep.redeliver(index)
    assert sim.rep.wait_delivered()
    first, second = activities(webhook)
    assert first == second and "id" not in first
    assert parse_activity(first).dedup_key == parse_activity(second).dedup_key
    assert sim.rep.deliveries[again].redelivery_of == index


def test_duplicate_every_redelivers_automatically(sim: MessagingSimulator, webhook: Webhook) -> None:
    sim.rep.auto_accept = False
    sim.rep.duplicate_every = 2
    conversation_id = create(sim).json()["conversationId"]
    for index in range(4):
        sim.rep.say(conversation_id, f"m{index}")
    assert sim.rep.wait_delivered()
    keys = [parse_activity(body).dedup_key for body in activities(webhook)]
    assert len(keys) == 6 and len(set(keys)) == 4


@pytest.mark.parametrize("kind", ["forged", "expired", "wrong_audience", "unsigned", "hs256_public_key"])
def test_bad_tokens_from_the_rep_are_refused_by_a_validating_webhook(
    sim: MessagingSimulator, webhook: Webhook, kind: str
) -> None:
    sim.rep.auto_accept = False
    sim.webhook_attempts = 1
    sim.rep.token_kind = kind
    conversation_id = create(sim).json()["conversationId"]
    sim.rep.say(conversation_id, "should not pass")
    assert sim.rep.wait_delivered()
    assert activities(webhook) == [] and len(webhook.refused) == 1
    assert sim.rep.deliveries[-1].statuses == [401]


def test_pascal_case_and_the_legacy_header(sim: MessagingSimulator, webhook: Webhook) -> None:
    sim.rep.auto_accept = False
    sim.rep.pascal_case = True
    sim.rep.token_header = "x-ms-token"
    conversation_id = create(sim).json()["conversationId"]
    sim.rep.say(conversation_id, "Hello")
    assert sim.rep.wait_delivered()
    (body,) = activities(webhook)
    assert body["Type"] == "message" and body["Conversation"]["Id"] == conversation_id
    assert parse_activity(body).kind is ActivityKind.REP_MESSAGE


def test_admin_api_drives_a_simulator_in_another_process(sim: MessagingSimulator, webhook: Webhook) -> None:
    admin = sim.url + "/_sim/"
    assert requests.post(admin + "config", json={"rep": {"auto_accept": False}}, timeout=5).status_code == 200
    conversation_id = create(sim).json()["conversationId"]
    said = requests.post(
        admin + "rep/say", json={"conversation_id": conversation_id, "text": "via admin"}, timeout=5
    )
    assert said.status_code == 201
    assert sim.rep.wait_delivered()
    assert activities(webhook)[0]["text"] == "via admin"
    deliveries = requests.get(admin + "deliveries", timeout=5).json()["value"]
    assert deliveries[0]["delivered"] is True
    token = requests.post(admin + "token", json={"kind": "expired"}, timeout=5).json()["token"]
    assert webhook.validator is not None
    with pytest.raises(TokenRejected):
        webhook.validator.validate(token)
    fault = {"kind": "status", "operation": "send", "status": 503, "times": 1}
    assert requests.post(admin + "faults", json=fault, timeout=5).status_code == 201
    assert send(sim, conversation_id, {"type": "message", "text": "x"}).status_code == 503
    assert requests.post(admin + "config", json={"bogus": 1}, timeout=5).status_code == 400
    assert requests.post(admin + "config", json={"webhook_attempts": "3"}, timeout=5).status_code == 400
    assert requests.get(admin + "nope", timeout=5).status_code == 404
    assert requests.post(admin + "reset", timeout=5).status_code == 204
    assert sim.store.count() == 0 and sim.requests == []
    assert sim.errors == []
