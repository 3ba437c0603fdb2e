"""The OpenCX simulator's issue-17 behaviours over real HTTP: send's documented attachment fields, history
pages in either order with a cursor that only moves forward, and media seeded into history."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from devtools.opencx_sim import SMS_SESSION_ID, OpenCXSimulator, seed_demo
from devtools.opencx_sim.__main__ import parse_args

TIMEOUT = 10.0


@pytest.fixture
def sim() -> Iterator[OpenCXSimulator]:
    with OpenCXSimulator(seed=3) as simulator:
        seed_demo(simulator)
        yield simulator
        assert simulator.errors == []


def send(sim: OpenCXSimulator, attachments: Any, text: str = "") -> requests.Response:
    body = {"sender": "agent", "agent": {"name": "Alex"}, "message": {"type": "text", "text": text}}
    body["message"]["attachments"] = attachments
    return requests.post(
        f"{sim.url}/chat/sessions/{SMS_SESSION_ID}/send",
        json=body,
        headers={"Authorization": f"Bearer {sim.api_key}"},
        timeout=TIMEOUT,
    )


def pages(sim: OpenCXSimulator, session_id: str) -> list[list[str]]:
    """Follow `next` until null; the ids of each page."""
    out: list[list[str]] = []
    params: dict[str, str] = {}
    while True:
        answer = requests.get(
            f"{sim.url}/chat/sessions/{session_id}/history",
            params=params,
            headers={"Authorization": f"Bearer {sim.api_key}"},
            timeout=TIMEOUT,
        )
        assert answer.status_code == 200, answer.text
        body = answer.json()
        out.append([item["id"] for item in body["items"]])
        if body["next"] is None:
            return out
        params = {"cursor": body["next"]}


def long_session(sim: OpenCXSimulator, count: int = 8) -> str:
    session_id = sim.add_session(channel="web", email="x@example.com")
    for index in range(count):
        sim.add_message(session_id, f"line {index}")
    return session_id


def ids(sim: OpenCXSimulator, session_id: str) -> list[str]:
    return [item["id"] for item in sim.history(session_id)]


# ---------------------------------------------------------------------------------------- send


@pytest.mark.parametrize(
    "attachment",
    [
        {"url": "https://cdn.example.com/a.png", "name": "a.png", "mime_type": "image/png"},
        {"base64": "aGVsbG8=", "mime_type": "text/plain", "name": "hello.txt"},
        {"name": "a.png", "url": "https://cdn.example.com/a.png", "base64": "aGk=", "mime_type": "image/png"},
    ],
)
def test_documented_attachments_are_accepted_and_reach_history(
    sim: OpenCXSimulator, attachment: dict[str, str]
) -> None:
    answer = send(sim, [attachment])
    assert answer.status_code == 201, answer.text
    (stored,) = sim.history(SMS_SESSION_ID)[-1]["event"]["attachments"]
    assert set(stored) == {"id", "name", "size", "type", "url"}
    assert stored["type"] == attachment["mime_type"] and stored["name"] == attachment["name"]
    if "url" in attachment:  # a URL is kept as given; base64 content is hosted here, by URL
        assert stored["url"] == attachment["url"]
    else:
        assert sim.files.file(stored["url"]).data == b"hello" and stored["size"] == 5


@pytest.mark.parametrize(
    ("attachments", "message"),
    [
        (
            [{"url": "https://cdn.example.com/a.png", "name": "a.png", "type": "image/png"}],
            "body/message/attachments/0 must NOT have additional properties: type",
        ),
        ([{"name": "a.png", "mime_type": "image/png"}], "must have required property 'url' or 'base64'"),
        (
            [{"url": "https://x/a.png", "mime_type": "image/png"}],
            "attachments/0 must have required property 'name'",
        ),
        ([{"url": "https://x/a.png", "name": "a.png"}], "must have required property 'mime_type'"),
        (
            [{"base64": "not base64!", "name": "a.png", "mime_type": "image/png"}],
            "body/message/attachments/0/base64 must be base64-encoded content",
        ),
        ([{"url": 5}], "body/message/attachments/0/url must be string"),
        (
            [{"url": "https://x", "name": "x.png", "mime_type": "image/png"}, "https://y"],
            "body/message/attachments/1 must be object",
        ),
        ({"url": "https://x"}, "body/message/attachments must be array"),
    ],
)
def test_undocumented_attachment_fields_are_a_400_naming_the_field(
    sim: OpenCXSimulator, attachments: Any, message: str
) -> None:
    before = len(sim.history(SMS_SESSION_ID))
    answer = send(sim, attachments, text="see attached")
    assert answer.status_code == 400
    body = answer.json()
    assert body["statusCode"] == 400 and message in body["message"]
    assert len(sim.history(SMS_SESSION_ID)) == before and sim.sent_messages == []


# ---------------------------------------------------------------------------------------- history order


def test_oldest_first_is_the_default_and_pages_forward(sim: OpenCXSimulator) -> None:
    session_id = long_session(sim)
    assert sim.history_order == "oldest_first"
    sim.page_size = 3
    every = ids(sim, session_id)
    assert pages(sim, session_id) == [every[0:3], every[3:6], every[6:8]]


def test_newest_first_pages_backwards_in_time(sim: OpenCXSimulator) -> None:
    session_id = long_session(sim)
    config = requests.post(
        f"{sim.url}/_sim/config", json={"history_order": "newest_first", "page_size": 3}, timeout=TIMEOUT
    )
    assert config.status_code == 200 and config.json()["history_order"] == "newest_first"
    every = ids(sim, session_id)
    newest = every[::-1]
    assert pages(sim, session_id) == [newest[0:3], newest[3:6], newest[6:8]]


@pytest.mark.parametrize("order", ["oldest_first", "newest_first"])
def test_the_cursor_only_moves_forward_while_messages_arrive(sim: OpenCXSimulator, order: str) -> None:
    session_id = long_session(sim, 5)
    sim.history_order = order
    sim.page_size = 2
    headers = {"Authorization": f"Bearer {sim.api_key}"}
    url = f"{sim.url}/chat/sessions/{session_id}/history"
    first = requests.get(url, headers=headers, timeout=TIMEOUT).json()
    late = sim.add_message(session_id, "arrived while paging")["id"]
    seen = [item["id"] for item in first["items"]]
    cursor = first["next"]
    while cursor:
        page = requests.get(url, params={"cursor": cursor}, headers=headers, timeout=TIMEOUT).json()
        seen.extend(item["id"] for item in page["items"])
        cursor = page["next"]
    before = ids(sim, session_id)[:5]
    if order == "oldest_first":
        assert seen == [*before, late]  # forward in time: the new item is at the end
    else:
        assert seen == before[::-1]  # forward means older: the new item is on a fresh first page
    assert len(seen) == len(set(seen))


def test_a_cursor_from_the_other_order_is_400(sim: OpenCXSimulator) -> None:
    session_id = long_session(sim, 4)
    sim.page_size = 2
    headers = {"Authorization": f"Bearer {sim.api_key}"}
    url = f"{sim.url}/chat/sessions/{session_id}/history"
    cursor = requests.get(url, headers=headers, timeout=TIMEOUT).json()["next"]
    sim.history_order = "newest_first"
    answer = requests.get(url, params={"cursor": cursor}, headers=headers, timeout=TIMEOUT)
    assert answer.status_code == 400 and answer.json()["message"] == "Invalid cursor"


def test_history_order_is_checked_everywhere_it_is_set() -> None:
    with pytest.raises(ValueError):
        OpenCXSimulator(history_order="random")
    with OpenCXSimulator() as other:
        bad = requests.post(f"{other.url}/_sim/config", json={"history_order": "sideways"}, timeout=TIMEOUT)
        assert bad.status_code == 400 and other.history_order == "oldest_first"
    assert parse_args(["--history-order", "newest_first"]).history_order == "newest_first"
    assert parse_args([]).history_order == "oldest_first"
    refused = subprocess.run(
        [sys.executable, "-m", "devtools.opencx_sim", "--history-order", "sideways"],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert refused.returncode == 2


# ---------------------------------------------------------------------------------------- media


def test_history_can_be_seeded_with_media(sim: OpenCXSimulator) -> None:
    photo = {
        "name": "damage.jpg",
        "size": 48211,
        "type": "image/jpeg",
        "url": "https://cdn.example.com/d.jpg",
    }
    item = sim.add_message(SMS_SESSION_ID, "here is the box", attachments=[photo])
    (stored,) = item["event"]["attachments"]
    assert stored["id"].startswith("att_") and {k: stored[k] for k in photo} == photo
    over_http = requests.post(
        f"{sim.url}/_sim/sessions/{SMS_SESSION_ID}/messages",
        json={"text": "", "attachments": [{**photo, "id": "att_fixed"}]},
        timeout=TIMEOUT,
    )
    assert over_http.status_code == 201
    assert sim.history(SMS_SESSION_ID)[-1]["event"]["attachments"] == [{**photo, "id": "att_fixed"}]
    wrong = requests.post(
        f"{sim.url}/_sim/sessions/{SMS_SESSION_ID}/messages",
        json={"text": "x", "attachments": [{"mime_type": "image/png", "url": "https://x"}]},
        timeout=TIMEOUT,
    )
    assert wrong.status_code == 400 and "mime_type" in wrong.json()["error"]
