"""Media through the OpenCX simulator, over real HTTP: history items whose files it hosts (behind the API
key by default), a customer's photo, and `send` attachments held to the channel's carrier limits."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from devtools.opencx_sim import SMS_SESSION_ID, WHATSAPP_SESSION_ID, OpenCXSimulator, seed_demo
from devtools.opencx_sim.contract import MMS_MAX_BYTES, WHATSAPP_MAX_BYTES

TIMEOUT = 30
PHOTO = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 20


@pytest.fixture
def sim() -> Iterator[OpenCXSimulator]:
    with OpenCXSimulator(rate_limit=None) as simulator:
        seed_demo(simulator)
        yield simulator
        assert simulator.errors == []


def auth(sim: OpenCXSimulator) -> dict[str, str]:
    return {"Authorization": f"Bearer {sim.api_key}"}


def history(sim: OpenCXSimulator, session_id: str) -> list[dict[str, Any]]:
    answer = requests.get(f"{sim.url}/chat/sessions/{session_id}/history", headers=auth(sim), timeout=TIMEOUT)
    assert answer.status_code == 200
    return list(answer.json()["items"])


def test_a_seeded_file_is_a_history_medium_served_only_with_the_api_key(sim: OpenCXSimulator) -> None:
    sim.add_message(SMS_SESSION_ID, "the meter", files=[("meter.jpg", "image/jpeg", PHOTO)])
    (medium,) = history(sim, SMS_SESSION_ID)[-1]["event"]["attachments"]
    assert set(medium) == {"id", "name", "size", "type", "url"}
    assert (medium["name"], medium["type"], medium["size"]) == ("meter.jpg", "image/jpeg", len(PHOTO))
    assert requests.get(medium["url"], timeout=TIMEOUT).status_code == 401
    assert requests.get(medium["url"], headers=auth(sim), timeout=TIMEOUT).content == PHOTO
    sim.remove_key(sim.api_key)
    assert requests.get(medium["url"], headers=auth(sim), timeout=TIMEOUT).status_code == 401


def test_open_files_need_no_key(sim: OpenCXSimulator) -> None:
    assert requests.post(f"{sim.url}/_sim/config", json={"open_files": True}, timeout=TIMEOUT).ok
    body = {
        "text": "",
        "files": [{"name": "a.png", "type": "image/png", "base64": base64.b64encode(b"png").decode()}],
    }
    item = requests.post(
        f"{sim.url}/_sim/sessions/{SMS_SESSION_ID}/messages", json=body, timeout=TIMEOUT
    ).json()
    assert requests.get(item["event"]["attachments"][0]["url"], timeout=TIMEOUT).content == b"png"
    bad = requests.post(f"{sim.url}/_sim/config", json={"open_files": "yes"}, timeout=TIMEOUT)
    assert bad.status_code == 400


@pytest.mark.parametrize(("caption", "message"), [("", None), ("the box", "the box")])
def test_a_customer_photo_lands_in_history_and_the_event_carries_no_attachments(
    sim: OpenCXSimulator, caption: str, message: str | None
) -> None:
    event = sim.customer_reply(SMS_SESSION_ID, caption, [("box.jpg", "image/jpeg", PHOTO)])
    assert event["event"] == "conversation.contact_response"
    assert event["data"].get("message") == message and "attachments" not in event["data"]
    item = history(sim, SMS_SESSION_ID)[-1]
    assert item["event"]["sender"]["type"] == "contact" and item["event"]["content"]["text"] == caption
    (medium,) = item["event"]["attachments"]
    assert requests.get(medium["url"], headers=auth(sim), timeout=TIMEOUT).content == PHOTO


def test_the_admin_customer_reply_takes_files(sim: OpenCXSimulator) -> None:
    body = {"files": [{"name": "a.jpg", "type": "image/jpeg", "base64": base64.b64encode(PHOTO).decode()}]}
    url = f"{sim.url}/_sim/sessions/{SMS_SESSION_ID}/customer-reply"
    answer = requests.post(url, json=body, timeout=TIMEOUT)
    assert answer.status_code == 201 and "message" not in answer.json()["data"]
    assert sim.history(SMS_SESSION_ID)[-1]["event"]["attachments"][0]["size"] == len(PHOTO)
    bad = requests.post(
        url, json={"files": [{"name": "a", "type": "image/png", "base64": "%%"}]}, timeout=TIMEOUT
    )
    assert bad.status_code == 400


def send(sim: OpenCXSimulator, session_id: str, attachments: list[dict[str, str]]) -> requests.Response:
    body = {
        "sender": "agent",
        "agent": {"name": "Alex"},
        "message": {"type": "text", "attachments": attachments},
    }
    return requests.post(
        f"{sim.url}/chat/sessions/{session_id}/send", json=body, headers=auth(sim), timeout=TIMEOUT
    )


def medium(size: int, name: str = "a.jpg") -> dict[str, str]:
    return {"name": name, "mime_type": "image/jpeg", "base64": base64.b64encode(b"\0" * size).decode()}


def test_sent_attachments_are_recorded_with_their_decoded_size_or_url(sim: OpenCXSimulator) -> None:
    by_url = {"name": "label.pdf", "mime_type": "application/pdf", "url": "https://x.example/l.pdf"}
    answer = send(sim, SMS_SESSION_ID, [medium(1000), by_url])
    assert answer.status_code == 201, answer.text
    (sent,) = sim.sent_messages
    assert sent.attachments == (
        {"name": "a.jpg", "mime_type": "image/jpeg", "size": 1000},
        {"name": "label.pdf", "mime_type": "application/pdf", "url": "https://x.example/l.pdf"},
    )
    hosted, linked = sim.history(SMS_SESSION_ID)[-1]["event"]["attachments"]
    assert sim.files.file(hosted["url"]).data == b"\0" * 1000 and linked["url"] == by_url["url"]


def test_mms_takes_ten_media_and_five_mb_in_all_and_no_more(sim: OpenCXSimulator) -> None:
    assert send(sim, SMS_SESSION_ID, [medium(100)] * 10).status_code == 201
    eleven = send(sim, SMS_SESSION_ID, [medium(100)] * 11)
    assert eleven.status_code == 400 and "more than 10 items" in eleven.json()["message"]
    half = MMS_MAX_BYTES // 2
    assert send(sim, SMS_SESSION_ID, [medium(half), medium(MMS_MAX_BYTES - half)]).status_code == 201
    over = send(sim, SMS_SESSION_ID, [medium(half), medium(MMS_MAX_BYTES - half + 1)])
    assert over.status_code == 400 and "body/message/attachments" in over.json()["message"]
    assert len(sim.sent_messages) == 2


def test_whatsapp_takes_sixteen_mb_a_medium_and_no_more(sim: OpenCXSimulator) -> None:
    assert send(sim, WHATSAPP_SESSION_ID, [medium(6 * 1024 * 1024)] * 2).status_code == 201
    over = send(sim, WHATSAPP_SESSION_ID, [medium(WHATSAPP_MAX_BYTES + 1)])
    assert over.status_code == 400 and "body/message/attachments/0" in over.json()["message"]
    assert len(sim.sent_messages) == 1
