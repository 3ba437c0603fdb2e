"""The OpenCX simulator over real HTTP: auth and scopes, 404s, cursor paging, send and PATCH, the per-key
limit, every fault kind, counts, the admin API, the demo seed and the webhook envelopes.

The bridge's OpenCX client, the demo, the benchmarks and the soak all run against this simulator, so
each test pins a behaviour they rely on, as OpenCX documents it (devtools/opencx_sim/contract.py).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from devtools.opencx_sim import (
    DEMO_SESSIONS,
    EMAIL_SESSION_ID,
    PHONE_SESSION_ID,
    SCOPE_READ,
    SCOPE_WRITE,
    SMS_SESSION_ID,
    WEB_SESSION_ID,
    WHATSAPP_SESSION_ID,
    FaultRule,
    OpenCXSimulator,
    demo_handoff_event,
    history_item,
    seed_demo,
)

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 10.0


@pytest.fixture
def sim() -> Iterator[OpenCXSimulator]:
    with OpenCXSimulator(seed=3) as simulator:
        seed_demo(simulator)
        yield simulator
        assert simulator.errors == []


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def get(sim: OpenCXSimulator, path: str, key: str | None = None, **kwargs: Any) -> requests.Response:
    headers = auth(key or sim.api_key)
    return requests.get(f"{sim.url}{path}", headers=headers, timeout=TIMEOUT, **kwargs)


def send(
    sim: OpenCXSimulator, session_id: str, body: dict[str, Any], key: str | None = None
) -> requests.Response:
    return requests.post(
        f"{sim.url}/chat/sessions/{session_id}/send",
        json=body,
        headers=auth(key or sim.api_key),
        timeout=TIMEOUT,
    )


def patch(
    sim: OpenCXSimulator, session_id: str, body: dict[str, Any], key: str | None = None
) -> requests.Response:
    return requests.patch(
        f"{sim.url}/chat/sessions/{session_id}", json=body, headers=auth(key or sim.api_key), timeout=TIMEOUT
    )


def agent_message(text: str, name: str = "Alex Morgan") -> dict[str, Any]:
    return {"sender": "agent", "message": {"type": "text", "text": text}, "agent": {"name": name}}


def all_history(sim: OpenCXSimulator, session_id: str) -> tuple[list[dict[str, Any]], int]:
    """Follow `next` until null, as the bridge does; returns the items and how many pages it took."""
    items: list[dict[str, Any]] = []
    params: dict[str, str] = {}
    pages = 0
    while True:
        response = get(sim, f"/chat/sessions/{session_id}/history", params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        pages += 1
        items.extend(page["items"])
        if page["next"] is None:
            return items, pages
        params = {"cursor": page["next"]}


# ------------------------------------------------------------------------------------------ auth


def test_the_documented_401_shape_for_a_missing_malformed_or_unknown_key(sim: OpenCXSimulator) -> None:
    path = f"{sim.url}/chat/sessions/{SMS_SESSION_ID}"
    answers = [
        requests.get(path, timeout=TIMEOUT),
        requests.get(path, headers={"Authorization": sim.api_key}, timeout=TIMEOUT),
        requests.get(path, headers={"Authorization": f"Basic {sim.api_key}"}, timeout=TIMEOUT),
        requests.get(path, headers=auth(sim.api_key + "x"), timeout=TIMEOUT),
    ]
    for answer in answers:
        assert answer.status_code == 401
        assert answer.json() == {"statusCode": 401, "message": "Unauthorized", "error": "Unauthorized"}
    assert get(sim, f"/chat/sessions/{SMS_SESSION_ID}").status_code == 200


def test_a_revoked_key_is_refused_from_then_on(sim: OpenCXSimulator) -> None:
    key = sim.add_key(scopes=[SCOPE_READ], name="rotating")
    assert get(sim, f"/chat/sessions/{SMS_SESSION_ID}", key).status_code == 200
    sim.remove_key(key)
    assert get(sim, f"/chat/sessions/{SMS_SESSION_ID}", key).status_code == 401


def test_scopes_read_for_gets_write_for_send_and_patch(sim: OpenCXSimulator) -> None:
    reader = sim.add_key(scopes=[SCOPE_READ], name="reader")
    writer = sim.add_key(scopes=[SCOPE_WRITE], name="writer")
    full = sim.add_key(scopes=None, name="full")

    assert get(sim, f"/chat/sessions/{SMS_SESSION_ID}", reader).status_code == 200
    assert get(sim, f"/chat/sessions/{SMS_SESSION_ID}/history", reader).status_code == 200
    refused = send(sim, SMS_SESSION_ID, agent_message("hi"), reader)
    assert refused.status_code == 403
    assert refused.json()["statusCode"] == 403 and SCOPE_WRITE in refused.json()["message"]
    assert patch(sim, SMS_SESSION_ID, {"status": "closed_resolved"}, reader).status_code == 403

    assert get(sim, f"/chat/sessions/{SMS_SESSION_ID}", writer).status_code == 403
    assert get(sim, f"/chat/sessions/{SMS_SESSION_ID}/history", writer).status_code == 403
    assert send(sim, SMS_SESSION_ID, agent_message("from writer"), writer).status_code == 201

    assert get(sim, f"/chat/sessions/{SMS_SESSION_ID}", full).status_code == 200
    assert send(sim, SMS_SESSION_ID, agent_message("from full"), full).status_code == 201
    assert [m.text for m in sim.sent_messages] == ["from writer", "from full"]
    assert sim.session(SMS_SESSION_ID)["status"] == "open"  # the refused PATCH changed nothing


def test_the_key_never_appears_in_records(sim: OpenCXSimulator) -> None:
    get(sim, f"/chat/sessions/{SMS_SESSION_ID}")
    send(sim, SMS_SESSION_ID, agent_message("hello"))
    text = json.dumps([r._asdict() for r in sim.requests]) + json.dumps(sim.stats())
    assert sim.api_key not in text
    assert all(r.headers.get("authorization") == "<redacted>" for r in sim.requests)
    assert {r.key for r in sim.requests} == {"default"}


# ------------------------------------------------------------------------------------------ 404


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("GET", "", None),
        ("GET", "/history", None),
        ("POST", "/send", {"sender": "agent", "message": {"type": "text", "text": "hi"}}),
        ("PATCH", "", {"status": "closed_resolved"}),
    ],
)
def test_unknown_session_is_404_in_the_documented_error_shape(
    sim: OpenCXSimulator, method: str, suffix: str, body: dict[str, Any] | None
) -> None:
    response = requests.request(
        method,
        f"{sim.url}/chat/sessions/00000000-0000-4000-8000-00000000dead{suffix}",
        json=body,
        headers=auth(sim.api_key),
        timeout=TIMEOUT,
    )
    assert response.status_code == 404
    assert response.json() == {"statusCode": 404, "message": "Chat session not found", "error": "Not Found"}
    assert sim.sent_messages == [] and sim.updates == []


def test_unknown_routes_are_404(sim: OpenCXSimulator) -> None:
    assert get(sim, "/contacts").status_code == 404
    assert get(sim, f"/chat/sessions/{SMS_SESSION_ID}/transcript").status_code == 404
    deleted = requests.delete(
        f"{sim.url}/chat/sessions/{SMS_SESSION_ID}", headers=auth(sim.api_key), timeout=5
    )
    assert deleted.status_code == 404
    assert sim.session(SMS_SESSION_ID) is not None


# ------------------------------------------------------------------------------------------ read


def test_get_session_returns_the_documented_object(sim: OpenCXSimulator) -> None:
    body = get(sim, f"/chat/sessions/{SMS_SESSION_ID}").json()
    assert body["id"] == SMS_SESSION_ID
    assert body["status"] == "open"
    assert body["channel"] == {"type": "sms"}
    assert body["contact"]["phone_number"] == "+14155550123"
    assert body["contact"]["name"] == "Dana Reyes"
    assert body["handoff"]["summary"].startswith("Customer wants to move delivery of order 1182")
    assert body["language"] == "en"
    for field in ("ai_closure_type", "sentiment", "ticket_number", "assist_mode", "created_at", "updated_at"):
        assert field in body  # required by the GET page


@pytest.mark.parametrize(("page_size", "pages"), [(1, 4), (2, 2), (3, 2), (4, 1), (50, 1)])
def test_history_pages_oldest_first_until_next_is_null(
    sim: OpenCXSimulator, page_size: int, pages: int
) -> None:
    sim.page_size = page_size
    items, seen = all_history(sim, SMS_SESSION_ID)
    assert seen == pages
    assert [item["id"] for item in items] == ["m1", "m2", "m3", "m4"]
    assert items == sim.history(SMS_SESSION_ID)
    assert [i["created_at"] for i in items] == sorted(i["created_at"] for i in items)
    first = items[0]["event"]
    assert first["type"] == "message" and first["sender"] == {"type": "contact", "name": "Dana Reyes"}
    assert first["content"]["text"].startswith("Hi, my order 1182")
    assert sim.count("list_history") == pages


def test_history_of_a_session_with_no_events_is_one_empty_page(sim: OpenCXSimulator) -> None:
    session_id = sim.add_session(channel="web", email="x@example.com")
    assert get(sim, f"/chat/sessions/{session_id}/history").json() == {"items": [], "next": None}


@pytest.mark.parametrize("cursor", ["garbage", "e30", ""])
def test_a_cursor_that_is_not_ours_is_400(sim: OpenCXSimulator, cursor: str) -> None:
    sim.page_size = 2
    response = get(sim, f"/chat/sessions/{SMS_SESSION_ID}/history", params={"cursor": cursor})
    if cursor == "":  # an empty cursor is no cursor: the first page
        assert response.status_code == 200 and response.json()["items"][0]["id"] == "m1"
    else:
        assert response.status_code == 400 and response.json()["message"] == "Invalid cursor"


def test_a_cursor_from_another_session_is_400(sim: OpenCXSimulator) -> None:
    sim.page_size = 2
    next_cursor = get(sim, f"/chat/sessions/{SMS_SESSION_ID}/history").json()["next"]
    assert next_cursor
    other = get(sim, f"/chat/sessions/{WEB_SESSION_ID}/history", params={"cursor": next_cursor})
    assert other.status_code == 400


# ------------------------------------------------------------------------------------------ send


def test_send_as_agent_is_recorded_and_appended_to_history(sim: OpenCXSimulator) -> None:
    response = send(sim, SMS_SESSION_ID, agent_message("Hi Dana, Friday works.", "Alex Morgan"))
    assert response.status_code == 201
    message_id = response.json()["data"]["message"]["id"]
    assert response.json()["success"] is True

    [sent] = sim.sent_messages
    assert (sent.session_id, sent.sender, sent.text, sent.agent_name) == (
        SMS_SESSION_ID,
        "agent",
        "Hi Dana, Friday works.",
        "Alex Morgan",
    )
    assert sent.message_id == message_id and sent.key == "default"
    last = get(sim, f"/chat/sessions/{SMS_SESSION_ID}/history").json()["items"][-1]
    assert last["id"] == message_id
    assert last["event"]["sender"] == {"type": "human_agent", "name": "Alex Morgan"}
    assert last["event"]["content"]["text"] == "Hi Dana, Friday works."


def test_send_as_contact_is_a_contact_event(sim: OpenCXSimulator) -> None:
    body = {"sender": "contact", "message": {"type": "text", "text": "Thanks!"}}
    assert send(sim, SMS_SESSION_ID, body).status_code == 201
    assert sim.history(SMS_SESSION_ID)[-1]["event"]["sender"] == {"type": "contact", "name": "Dana Reyes"}


def test_send_takes_every_documented_field(sim: OpenCXSimulator) -> None:
    body = {
        "sender": "human_agent",
        "message": {
            "type": "text",
            "text": "Here is the label",
            "attachments": [
                {"name": "label.pdf", "url": "https://example.com/l.pdf", "mime_type": "application/pdf"}
            ],
        },
        "contact": {"name": "Dana Reyes", "custom_data": {"tier": "gold"}},
        "agent": {"id": 42, "name": "Alex Morgan", "avatar_url": "https://example.com/a.png"},
        "custom_data": {"dynamics_conversation": "c-1", "priority": 2, "vip": True},
        "should_take_over_session_from_ai": True,
    }
    assert send(sim, SMS_SESSION_ID, body).status_code == 201
    session = get(sim, f"/chat/sessions/{SMS_SESSION_ID}").json()
    assert session["custom_data"] == {"dynamics_conversation": "c-1", "priority": 2, "vip": True}
    assert session["contact"]["custom_data"] == {"tier": "gold"}
    attachment = sim.history(SMS_SESSION_ID)[-1]["event"]["attachments"][0]
    assert attachment["name"] == "label.pdf" and attachment["type"] == "application/pdf"
    assert sim.sent_messages[0].body == body


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"message": {"type": "text", "text": "no sender"}}, "sender"),
        ({"sender": "agent"}, "message"),
        ({"sender": "agent", "message": {"type": "text", "text": "  "}}, "text"),
        (
            {"sender": "agent", "message": {"type": "text", "text": "x"}, "agent": {"id": "a-guid"}},
            "agent/id",
        ),
        (
            {"sender": "agent", "message": {"type": "text", "text": "x"}, "custom_data": {"a": {"b": 1}}},
            "custom_data",
        ),
        ({"sender": "agent", "message": {"type": "text", "text": "x"}, "senderName": "typo"}, "additional"),
        ({"sender": "bot", "message": {"type": "text", "text": "x"}}, "sender"),
    ],
)
def test_send_refuses_bodies_the_docs_do_not_allow(
    sim: OpenCXSimulator, body: dict[str, Any], fragment: str
) -> None:
    response = send(sim, SMS_SESSION_ID, body)
    assert response.status_code == 400
    assert response.json()["statusCode"] == 400 and fragment in response.json()["message"]
    assert sim.sent_messages == []
    assert len(sim.history(SMS_SESSION_ID)) == 4


def test_send_refuses_a_body_that_is_not_json(sim: OpenCXSimulator) -> None:
    url = f"{sim.url}/chat/sessions/{SMS_SESSION_ID}/send"
    as_text = requests.post(
        url, data="hello", headers={**auth(sim.api_key), "Content-Type": "text/plain"}, timeout=5
    )
    assert as_text.status_code == 415
    broken = requests.post(
        url, data="{not json", headers={**auth(sim.api_key), "Content-Type": "application/json"}, timeout=5
    )
    assert broken.status_code == 400
    assert sim.sent_messages == []


def test_a_refused_sender_value_is_400_and_the_next_form_is_accepted(sim: OpenCXSimulator) -> None:
    """The go-live probe tries the documented sender forms in turn; the sim can refuse any of them."""
    sim.accepted_senders = frozenset({"human_agent"})
    first = send(sim, SMS_SESSION_ID, agent_message("probe"))
    assert first.status_code == 400 and "sender" in first.json()["message"]
    second = send(sim, SMS_SESSION_ID, {**agent_message("probe"), "sender": "human_agent"})
    assert second.status_code == 201
    assert [m.sender for m in sim.sent_messages] == ["human_agent"]


def test_concurrent_sends_keep_history_and_sent_list_in_the_same_order(sim: OpenCXSimulator) -> None:
    threads = [
        threading.Thread(target=send, args=(sim, SMS_SESSION_ID, agent_message(f"m{i}"))) for i in range(20)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sent_ids = [m.message_id for m in sim.sent_to(SMS_SESSION_ID)]
    assert len(sent_ids) == 20
    assert [item["id"] for item in sim.history(SMS_SESSION_ID)[4:]] == sent_ids


# ------------------------------------------------------------------------------------------ update


def test_patch_closes_the_session(sim: OpenCXSimulator) -> None:
    response = patch(sim, SMS_SESSION_ID, {"status": "closed_resolved"})
    assert response.status_code == 200 and response.content == b""
    assert get(sim, f"/chat/sessions/{SMS_SESSION_ID}").json()["status"] == "closed_resolved"
    assert patch(sim, SMS_SESSION_ID, {"status": "open", "reflect_status_change_for_integration": False}).ok
    assert get(sim, f"/chat/sessions/{SMS_SESSION_ID}").json()["status"] == "open"
    assert [(u.session_id, u.body["status"]) for u in sim.updates] == [
        (SMS_SESSION_ID, "closed_resolved"),
        (SMS_SESSION_ID, "open"),
    ]


@pytest.mark.parametrize(
    "body",
    [
        {"status": "closed"},
        {"status": "resolved"},
        {"generate_summary_and_sentiment_on_resolve": "yes"},
        {"state": "x"},
    ],
)
def test_patch_refuses_undocumented_values(sim: OpenCXSimulator, body: dict[str, Any]) -> None:
    response = patch(sim, SMS_SESSION_ID, body)
    assert response.status_code == 400 and response.json()["statusCode"] == 400
    assert sim.session(SMS_SESSION_ID)["status"] == "open" and sim.updates == []


# ------------------------------------------------------------------------------------------ rate limit


def test_over_the_limit_is_429_with_a_retry_after_that_frees_a_slot(sim: OpenCXSimulator) -> None:
    now = [1000.0]
    sim.clock = lambda: now[0]
    sim.rate_limit, sim.rate_window = 3, 0.5  # times in binary fractions, so the sums are exact
    statuses = []
    for _ in range(3):
        statuses.append(get(sim, f"/chat/sessions/{SMS_SESSION_ID}").status_code)
        now[0] += 0.125
    refused = get(sim, f"/chat/sessions/{SMS_SESSION_ID}")
    assert statuses == [200, 200, 200]
    assert refused.status_code == 429
    assert refused.json()["statusCode"] == 429
    # the oldest admitted request leaves the window 0.5 s after it came, 0.125 s from now
    assert refused.headers["Retry-After"] == "0.125"
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    # a refused request costs nothing: waiting exactly Retry-After is enough, and a moment less is not
    now[0] += 0.0625
    assert get(sim, f"/chat/sessions/{SMS_SESSION_ID}").status_code == 429
    now[0] += 0.0625
    assert get(sim, f"/chat/sessions/{SMS_SESSION_ID}").status_code == 200
    assert sim.stats()["rate_limited"] == 2
    assert sim.count("get_session", status=429) == 2


def test_retry_after_is_whole_seconds_for_a_minute_window(sim: OpenCXSimulator) -> None:
    sim.rate_limit, sim.rate_window = 2, 60.0
    for _ in range(2):
        assert get(sim, f"/chat/sessions/{SMS_SESSION_ID}").status_code == 200
    refused = get(sim, f"/chat/sessions/{SMS_SESSION_ID}/history")
    assert refused.status_code == 429
    assert refused.headers["Retry-After"].isdigit() and 1 <= int(refused.headers["Retry-After"]) <= 60
    # every operation shares the key's budget, sends included
    assert send(sim, SMS_SESSION_ID, agent_message("x")).status_code == 429
    assert sim.sent_messages == []


def test_the_limit_is_per_key(sim: OpenCXSimulator) -> None:
    sim.rate_limit, sim.rate_window = 2, 60.0
    other = sim.add_key(scopes=[SCOPE_READ], name="other")
    for _ in range(2):
        get(sim, f"/chat/sessions/{SMS_SESSION_ID}")
    assert get(sim, f"/chat/sessions/{SMS_SESSION_ID}").status_code == 429
    assert get(sim, f"/chat/sessions/{SMS_SESSION_ID}", other).status_code == 200
    assert sim.count(key="default", status=429) == 1 and sim.count(key="other", status=200) == 1
    sim.reset_rate_limits()
    assert get(sim, f"/chat/sessions/{SMS_SESSION_ID}").status_code == 200


def test_the_default_limit_is_100_a_minute(sim: OpenCXSimulator) -> None:
    session = requests.Session()
    statuses = [
        session.get(
            f"{sim.url}/chat/sessions/{SMS_SESSION_ID}", headers=auth(sim.api_key), timeout=5
        ).status_code
        for _ in range(101)
    ]
    assert statuses.count(200) == 100 and statuses[-1] == 429


def test_unauthenticated_calls_do_not_use_a_keys_budget(sim: OpenCXSimulator) -> None:
    sim.rate_limit, sim.rate_window = 1, 60.0
    for _ in range(3):
        assert requests.get(f"{sim.url}/chat/sessions/{SMS_SESSION_ID}", timeout=5).status_code == 401
    assert get(sim, f"/chat/sessions/{SMS_SESSION_ID}").status_code == 200


# ------------------------------------------------------------------------------------------ faults


@pytest.mark.parametrize("status", [500, 502, 503])
def test_status_faults_answer_in_the_error_shape_then_stop(sim: OpenCXSimulator, status: int) -> None:
    sim.add_fault(FaultRule("status", operation="get_session", status=status, times=2))
    answers = [get(sim, f"/chat/sessions/{SMS_SESSION_ID}") for _ in range(3)]
    assert [a.status_code for a in answers] == [status, status, 200]
    assert answers[0].json()["statusCode"] == status
    assert (
        get(sim, f"/chat/sessions/{SMS_SESSION_ID}/history").status_code == 200
    )  # other operations unharmed
    assert sim.stats()["faults_fired"] == 2
    assert [r.fault for r in sim.requests[:2]] == ["status", "status"]


def test_a_429_fault_carries_retry_after(sim: OpenCXSimulator) -> None:
    sim.add_fault(FaultRule("status", operation="send", status=429, retry_after=7, times=1))
    refused = send(sim, SMS_SESSION_ID, agent_message("x"))
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "7"
    assert sim.sent_messages == []
    assert send(sim, SMS_SESSION_ID, agent_message("x")).status_code == 201


def test_drop_before_resets_the_connection_and_commits_nothing(sim: OpenCXSimulator) -> None:
    sim.add_fault(FaultRule("drop_before", operation="send", times=1))
    with pytest.raises(requests.ConnectionError):
        send(sim, SMS_SESSION_ID, agent_message("lost"))
    assert sim.sent_messages == []
    assert sim.requests[-1].status == 0 and sim.requests[-1].fault == "drop_before"
    assert send(sim, SMS_SESSION_ID, agent_message("again")).status_code == 201


def test_drop_after_commit_sends_the_message_but_never_answers(sim: OpenCXSimulator) -> None:
    """The "did it send?" case: a client that retries will send the message twice (OpenCX has no
    idempotency key), so the bridge's relay has to live with it."""
    sim.add_fault(FaultRule("drop_after_commit", operation="send", times=1))
    with pytest.raises(requests.ConnectionError):
        send(sim, SMS_SESSION_ID, agent_message("committed"))
    assert [m.text for m in sim.sent_messages] == ["committed"]
    assert sim.requests[-1].status == 201 and sim.requests[-1].fault == "drop_after_commit"


def test_drop_on_a_read(sim: OpenCXSimulator) -> None:
    sim.add_fault(FaultRule("drop_before", operation="list_history", times=1))
    with pytest.raises(requests.ConnectionError):
        get(sim, f"/chat/sessions/{SMS_SESSION_ID}/history")
    assert get(sim, f"/chat/sessions/{SMS_SESSION_ID}/history").status_code == 200


def test_slow_answers_and_wait_idle(sim: OpenCXSimulator) -> None:
    sim.add_fault(FaultRule("slow", operation="update_session", delay=0.4, times=1))
    result: dict[str, int] = {}

    def slow_patch() -> None:
        result["status"] = patch(sim, SMS_SESSION_ID, {"status": "closed_unresolved"}).status_code

    started = time.monotonic()
    thread = threading.Thread(target=slow_patch)
    thread.start()
    deadline = time.monotonic() + 2
    while sim.in_flight == 0 and time.monotonic() < deadline:
        time.sleep(0.005)
    assert sim.in_flight == 1
    assert sim.wait_idle(timeout=5)
    thread.join()
    assert time.monotonic() - started >= 0.4
    assert result["status"] == 200 and sim.session(SMS_SESSION_ID)["status"] == "closed_unresolved"
    assert sim.requests[-1].duration_ms >= 400


def test_a_slow_answer_times_out_a_client(sim: OpenCXSimulator) -> None:
    sim.add_fault(FaultRule("slow", operation="get_session", delay=1.0, times=1))
    with pytest.raises(requests.Timeout):
        requests.get(f"{sim.url}/chat/sessions/{SMS_SESSION_ID}", headers=auth(sim.api_key), timeout=0.2)
    assert sim.wait_idle(timeout=5)


def test_faults_by_probability_are_seeded_and_by_every_nth(sim: OpenCXSimulator) -> None:
    def run(rule: FaultRule, seed: int) -> list[int]:
        with OpenCXSimulator(seed=seed) as other:
            seed_demo(other)
            other.add_fault(rule)
            return [get(other, f"/chat/sessions/{SMS_SESSION_ID}").status_code for _ in range(40)]

    first = run(FaultRule("status", rate=0.3, status=502), seed=11)
    again = run(FaultRule("status", rate=0.3, status=502), seed=11)
    assert first == again  # replayable
    assert 0 < first.count(502) < 40
    every = run(FaultRule("status", every=4, status=500), seed=1)
    assert [i for i, s in enumerate(every) if s == 500] == [3, 7, 11, 15, 19, 23, 27, 31, 35, 39]


def test_a_fault_can_target_one_session(sim: OpenCXSimulator) -> None:
    sim.add_fault(FaultRule("status", session_id=WEB_SESSION_ID, status=503))
    assert get(sim, f"/chat/sessions/{WEB_SESSION_ID}").status_code == 503
    assert get(sim, f"/chat/sessions/{SMS_SESSION_ID}").status_code == 200
    sim.clear_faults()
    assert get(sim, f"/chat/sessions/{WEB_SESSION_ID}").status_code == 200


@pytest.mark.parametrize(
    "fields",
    [
        {"kind": "explode"},
        {"kind": "status", "operation": "create"},
        {"kind": "slow"},
        {"kind": "status", "status": 42},
        {"kind": "status", "rate": 2.0},
    ],
)
def test_a_mistyped_fault_fails_loudly(fields: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="invalid FaultRule"):
        FaultRule(**fields)


# ------------------------------------------------------------------------------------------ counts


def test_stats_count_per_operation_status_and_key(sim: OpenCXSimulator) -> None:
    reader = sim.add_key(scopes=[SCOPE_READ], name="reader")
    get(sim, f"/chat/sessions/{SMS_SESSION_ID}")
    get(sim, f"/chat/sessions/{SMS_SESSION_ID}/history")
    send(sim, SMS_SESSION_ID, agent_message("x"))
    send(sim, SMS_SESSION_ID, agent_message("y"), reader)
    patch(sim, SMS_SESSION_ID, {"status": "closed_resolved"})
    requests.get(f"{sim.url}/chat/sessions/{SMS_SESSION_ID}", timeout=5)
    stats = sim.stats()
    assert stats["operations"] == {
        "get_session": {"200": 1, "401": 1},
        "list_history": {"200": 1},
        "send": {"201": 1, "403": 1},
        "update_session": {"200": 1},
    }
    assert stats["keys"] == {"(none)": 1, "default": 4, "reader": 1}
    assert stats["requests"] == 6 and stats["sent_messages"] == 1 and stats["updates"] == 1
    assert sim.count() == 6 and sim.count("send") == 2 and sim.count(key="reader") == 1


def test_reset_empties_state_but_keeps_keys(sim: OpenCXSimulator) -> None:
    send(sim, SMS_SESSION_ID, agent_message("x"))
    sim.add_fault(FaultRule("status"))
    sim.reset()
    assert sim.requests == [] and sim.sent_messages == [] and sim.faults == [] and sim.session_ids == []
    assert get(sim, f"/chat/sessions/{SMS_SESSION_ID}").status_code == 404  # the key still works


# ------------------------------------------------------------------------------------------ demo and events


class _ContactRecorder:
    """Stands in for the Dataverse simulator, to read the demo contacts its seed creates."""

    def __init__(self) -> None:
        self.contacts: list[dict[str, Any]] = []

    def add_workstream(self, *args: Any, **kwargs: Any) -> str:
        return "w"

    def add_queue(self, *args: Any, **kwargs: Any) -> str:  # the incident path's demo rows
        return "q"

    def add_systemuser(self, *args: Any, **kwargs: Any) -> str:
        return "u"

    def add_team(self, *args: Any, **kwargs: Any) -> str:
        return "t"

    def add_contact(self, **fields: Any) -> str:
        if fields.get("statecode", 0) == 0:  # only active contacts link
            self.contacts.append(fields)
        return str(fields.get("contactid"))


def test_demo_sessions_tell_the_dataverse_demos_linkage_stories(sim: OpenCXSimulator) -> None:
    from devtools.dataverse_sim.demo import seed_demo as seed_dataverse

    recorder = _ContactRecorder()
    seed_dataverse(recorder)  # type: ignore[arg-type]
    contacts = recorder.contacts

    def matches(field: str, value: str | None) -> list[str]:
        return [c["fullname"] for c in contacts if value is not None and c.get(field) == value]

    sessions = {name: sim.session(session_id) for name, session_id in DEMO_SESSIONS.items()}
    assert {s["channel"]["type"] for s in sessions.values()} == {
        "sms",
        "whatsapp",
        "web",
        "email",
        "phone_voice",
    }
    sms, whatsapp, web = (sessions[n]["contact"] for n in ("sms", "whatsapp", "web"))
    assert matches("mobilephone", sms["phone_number"]) == ["Dana Reyes"]
    assert matches("email", whatsapp["email"]) == []
    assert len(matches("telephone1", whatsapp["phone_number"])) == 2  # ambiguous
    assert matches("email", web["email"]) == ["Priya N"] and web["phone_number"] is None
    phone = sessions["phone_voice"]["contact"]
    assert (
        phone["email"] is None and phone["phone_number"] and not matches("telephone1", phone["phone_number"])
    )
    assert sessions["email"]["handoff"]["summary"].startswith("Customer disputes a refund")


def test_seeding_is_idempotent_and_ids_are_stable(sim: OpenCXSimulator) -> None:
    send(sim, SMS_SESSION_ID, agent_message("x"))
    assert seed_demo(sim) == DEMO_SESSIONS
    assert len(sim.history(SMS_SESSION_ID)) == 4  # the seed replaced the session
    assert set(sim.session_ids) == {
        SMS_SESSION_ID,
        WHATSAPP_SESSION_ID,
        WEB_SESSION_ID,
        EMAIL_SESSION_ID,
        PHONE_SESSION_ID,
    }


def test_the_sms_handoff_event_is_the_real_samples(sim: OpenCXSimulator) -> None:
    event = sim.handoff_event(SMS_SESSION_ID)
    assert event == {  # handoff-sms.json
        "event": "conversation.handoff_to_human",
        "organization_id": "org_8f1c2a",
        "data": {
            "conversation_id": "6f1d0c2e-2b8a-4a53-9a51-0c6f3f0e7b21",
            "timestamp": "2026-11-25T09:59:42.118Z",
            "customer_id": "c_41d9e0",
            "reason": "ai_decided_to_handoff_the_conversation",
            "summary": "Customer wants to move delivery of order 1182 from Wednesday to Friday and asked for a human agent.",
            "contact_reason": "Delivery change",
            "user_sentiment": "neutral",
            "was_handedoff_to_third_party": True,
            "third_party_name": None,
            "language": "en",
            "message_count": 4,
        },
    }
    assert demo_handoff_event("sms") == event
    email = sim.handoff_event(EMAIL_SESSION_ID, as_array=True)
    assert (
        isinstance(email["data"], list)
        and email["data"][0]["reason"] == "ai_is_forbidden_from_handling_this_topic"
    )
    assert email["data"][0]["message_count"] == 3


def test_the_handoff_event_keeps_its_identity_after_the_conversation_goes_on(sim: OpenCXSimulator) -> None:
    before = sim.handoff_event(WHATSAPP_SESSION_ID)
    send(sim, WHATSAPP_SESSION_ID, agent_message("Hallo Jonas"))
    sim.customer_reply(WHATSAPP_SESSION_ID, "Danke")
    assert sim.handoff_event(WHATSAPP_SESSION_ID) == before
    later = sim.handoff_event(WHATSAPP_SESSION_ID, timestamp="2026-11-26T08:00:00.000Z")
    assert later["data"]["timestamp"] == "2026-11-26T08:00:00.000Z"


def test_customer_reply_records_the_message_and_returns_the_contact_response(sim: OpenCXSimulator) -> None:
    event = sim.customer_reply(SMS_SESSION_ID, "Friday after 2pm would be perfect, thanks")
    assert event["event"] == "conversation.contact_response"
    assert event["data"]["conversation_id"] == SMS_SESSION_ID
    assert event["data"]["message"] == "Friday after 2pm would be perfect, thanks"
    last = get(sim, f"/chat/sessions/{SMS_SESSION_ID}/history").json()["items"][-1]
    assert last["event"]["sender"]["type"] == "contact"
    assert last["created_at"] == event["data"]["timestamp"]
    without = sim.customer_reply(SMS_SESSION_ID, "still there?", include_text=False)
    assert "message" not in without["data"]


def test_close_session_sets_the_status_and_returns_conversation_closed(sim: OpenCXSimulator) -> None:
    event = sim.close_session(WEB_SESSION_ID, "closed_unresolved")
    assert event["event"] == "conversation.closed"
    assert event["data"]["conversation_id"] == WEB_SESSION_ID
    assert event["data"]["human_resolution_status"] == "not_resolved"
    assert get(sim, f"/chat/sessions/{WEB_SESSION_ID}").json()["status"] == "closed_unresolved"
    with pytest.raises(ValueError):
        sim.close_session(WEB_SESSION_ID, "open")


def test_add_session_builds_a_documented_session(sim: OpenCXSimulator) -> None:
    session_id = sim.add_session(
        channel="whatsapp",
        name="Ana",
        phone_number="+34600000001",
        history=[history_item("hola"), history_item("one moment", sender_type="ai", name="Assistant")],
        contact_reason="Refund",
    )
    body = get(sim, f"/chat/sessions/{session_id}").json()
    assert body["channel"]["type"] == "whatsapp" and body["contact"]["phone_number"] == "+34600000001"
    event = sim.handoff_event(session_id)
    assert event["data"]["message_count"] == 2 and event["data"]["contact_reason"] == "Refund"
    with pytest.raises(ValueError):
        sim.add_session(channel="fax")


# ------------------------------------------------------------------------------------------ admin API


def test_the_admin_api_drives_a_simulator_in_another_process(sim: OpenCXSimulator) -> None:
    admin = f"{sim.url}/_sim"
    assert requests.post(f"{admin}/reset", timeout=5).status_code == 204
    assert requests.post(f"{admin}/seed-demo", timeout=5).json() == DEMO_SESSIONS
    created = requests.post(f"{admin}/sessions", json={"channel": "web", "email": "a@example.com"}, timeout=5)
    assert created.status_code == 201 and sim.session(created.json()["id"]) is not None
    key = requests.post(f"{admin}/keys", json={"scopes": [SCOPE_READ], "name": "ops"}, timeout=5).json()[
        "key"
    ]
    assert get(sim, f"/chat/sessions/{SMS_SESSION_ID}", key).status_code == 200

    config = requests.post(f"{admin}/config", json={"page_size": 1, "accepted_senders": ["agent"]}, timeout=5)
    assert config.json()["page_size"] == 1 and config.json()["accepted_senders"] == ["agent"]
    assert requests.post(f"{admin}/config", json={"page_size": "big"}, timeout=5).status_code == 400
    assert get(sim, f"/chat/sessions/{SMS_SESSION_ID}/history").json()["next"] is not None

    fault = {"kind": "status", "operation": "send", "status": 502, "times": 1}
    assert requests.post(f"{admin}/faults", json=fault, timeout=5).status_code == 201
    assert requests.post(f"{admin}/faults", json={"kind": "status", "oops": 1}, timeout=5).status_code == 400
    assert send(sim, SMS_SESSION_ID, agent_message("x")).status_code == 502
    assert send(sim, SMS_SESSION_ID, agent_message("y")).status_code == 201
    sent = requests.get(f"{admin}/sent", timeout=5).json()["value"]
    assert [m["text"] for m in sent] == ["y"]

    event = requests.get(f"{admin}/sessions/{SMS_SESSION_ID}/handoff-event", timeout=5).json()
    assert event == sim.handoff_event(SMS_SESSION_ID)
    reply = requests.post(f"{admin}/sessions/{SMS_SESSION_ID}/customer-reply", json={"text": "ok"}, timeout=5)
    assert reply.json()["event"] == "conversation.contact_response"
    closed = requests.post(f"{admin}/sessions/{SMS_SESSION_ID}/close", json={}, timeout=5).json()
    assert (
        closed["event"] == "conversation.closed"
        and sim.session(SMS_SESSION_ID)["status"] == "closed_resolved"
    )
    shown = requests.get(f"{admin}/sessions/{SMS_SESSION_ID}", timeout=5).json()
    assert (
        shown["session"]["id"] == SMS_SESSION_ID and shown["history"][-1]["event"]["content"]["text"] == "ok"
    )
    assert requests.get(f"{admin}/sessions/nope", timeout=5).status_code == 404

    stats = requests.get(f"{admin}/stats", timeout=5).json()
    assert stats["operations"]["send"] == {"502": 1, "201": 1}
    records = requests.get(f"{admin}/requests", timeout=5).json()["value"]
    assert len(records) == stats["requests"] and sim.api_key not in json.dumps(records)
    unknown = requests.get(f"{admin}/nothing", timeout=5)
    assert unknown.status_code == 404 and "known" in unknown.json()["error"]


# ------------------------------------------------------------------------------------------ standalone


def test_python_m_runs_it_standalone_with_a_seed_and_a_key() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "devtools.opencx_sim",
            "--seed-demo",
            "--key",
            "ocx_test_cli",
            "--page-size",
            "2",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        info = json.loads(process.stdout.readline())
        assert info["api_key"] == "ocx_test_cli" and info["demo"] == DEMO_SESSIONS
        page = requests.get(
            f"{info['url']}/chat/sessions/{SMS_SESSION_ID}/history", headers=auth("ocx_test_cli"), timeout=5
        ).json()
        assert len(page["items"]) == 2 and page["next"]
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0


def test_a_session_stored_as_given_may_lack_documented_fields(sim: OpenCXSimulator) -> None:
    """put_session keeps odd shapes (no contact, no handoff), so the bridge's tolerance can be tested."""
    session_id = sim.put_session(
        {"id": "bare-1", "status": "open", "channel": {"type": "api"}, "contact": None}, []
    )
    assert get(sim, "/chat/sessions/bare-1").json() == {
        "id": "bare-1",
        "status": "open",
        "channel": {"type": "api"},
        "contact": None,
    }
    assert (
        send(sim, session_id, {"sender": "contact", "message": {"type": "text", "text": "hi"}}).status_code
        == 201
    )
    assert sim.customer_reply(session_id, "again")["data"]["customer_id"] is None
