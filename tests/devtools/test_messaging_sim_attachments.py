"""Files through the Messaging API simulator, over real HTTP: the rep sends them (hosted behind the API's
bearer token), and attachments the bridge sends are checked against the org's file settings."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from msgsim_support import API, Webhook, activities, create, headers, send, webhook_fixture  # noqa: F401

from devtools.messaging_sim import MessagingSimulator
from shared.messaging.token import WebhookTokenValidator

PDF = b"%PDF-1.7\n" + bytes(range(256)) * 40


@pytest.fixture
def sim(webhook: Webhook) -> Iterator[MessagingSimulator]:
    with MessagingSimulator(webhook_url=webhook.url) as simulator:
        simulator.rep.auto_accept = simulator.rep.auto_reply = False
        webhook.validator = WebhookTokenValidator(
            simulator.tenant_id, simulator.audience, jwks_url=simulator.jwks_url
        )
        yield simulator
        assert simulator.errors == []


def conversation(sim: MessagingSimulator) -> str:
    answer = create(sim)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["conversationId"])


# ---------------------------------------------------------------------------------------- the rep sends


def test_a_rep_file_reaches_the_webhook_as_the_documented_sample_behind_the_api_token(
    sim: MessagingSimulator, webhook: Webhook
) -> None:
    conversation_id = conversation(sim)
    index, url = sim.rep.send_file(conversation_id, PDF, "application/pdf", "returns label.pdf")
    assert sim.rep.wait_delivered()
    (activity,) = activities(webhook)
    assert activity["textFormat"] == "markdown" and "text" not in activity
    assert activity["attachments"] == [
        {
            "contentType": "application/pdf",
            "contentUrl": url,
            "content": None,
            "name": "returns label.pdf",
            "thumbnailUrl": None,
        }
    ]
    assert sim.rep.deliveries[index].delivered
    assert requests.get(url, timeout=5).status_code == 401
    token, _ = sim.issue_token()
    fetched = requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=5)
    assert fetched.status_code == 200 and fetched.content == PDF
    assert sim.files.file(url).statuses == [401, 200]


def test_an_open_rep_file_with_a_caption_is_kept_in_the_conversation_messages(
    sim: MessagingSimulator, webhook: Webhook
) -> None:
    conversation_id = conversation(sim)
    _, url = sim.rep.send_file(
        conversation_id, b"\x89PNG", "image/png", "label.png", text="Here", open_url=True
    )
    assert sim.rep.wait_delivered()
    assert activities(webhook)[0]["text"] == "Here"
    assert requests.get(url, timeout=5).content == b"\x89PNG"
    listed = requests.get(
        sim.url + API + f"conversation/{conversation_id}/messages", headers=headers(sim), timeout=5
    ).json()["messages"]
    assert listed[-1]["text"] == "Here"
    assert [a["contentUrl"] for a in listed[-1]["attachments"]] == [url]


def test_the_admin_api_sends_a_file_and_lists_hosted_files(sim: MessagingSimulator) -> None:
    conversation_id = conversation(sim)
    body = {
        "conversation_id": conversation_id,
        "base64": base64.b64encode(PDF).decode(),
        "content_type": "application/pdf",
        "name": "form.pdf",
        "lie_length": 10,
    }
    answer = requests.post(sim.url + "/_sim/rep/send-file", json=body, timeout=5)
    assert answer.status_code == 201, answer.text
    (listed,) = requests.get(sim.url + "/_sim/files", timeout=5).json()["value"]
    assert listed["size"] == len(PDF) and listed["lie_length"] == 10 and listed["needs_token"] is True
    assert sim.files.file(answer.json()["url"]).data == PDF


# ---------------------------------------------------------------------------------------- the bridge sends


def message(*attachments: dict[str, Any], text: str | None = None) -> dict[str, Any]:
    activity: dict[str, Any] = {"type": "message", "attachments": list(attachments)}
    if text is not None:
        activity["text"] = text
    return activity


def inline(data: bytes, name: str = "photo.jpg", kind: str = "image/jpeg") -> dict[str, str]:
    encoded = base64.b64encode(data).decode()
    return {"contentType": kind, "contentUrl": f"data:{kind};base64,{encoded}", "name": name}


def test_inline_and_url_attachments_are_accepted_and_recorded(sim: MessagingSimulator) -> None:
    conversation_id = conversation(sim)
    photo = bytes(range(200)) * 50
    by_url = {
        "contentType": "application/pdf",
        "contentUrl": "https://files.example.com/a.pdf",
        "name": "a.pdf",
    }
    answer = send(sim, conversation_id, message(inline(photo), by_url, text="the parcel"))
    assert answer.status_code == 200, answer.text
    first, second = sim.received_attachments(conversation_id)
    assert (first.name, first.content_type, first.inline, first.size) == (
        "photo.jpg",
        "image/jpeg",
        True,
        len(photo),
    )
    assert (
        first.sha256 == hashlib.sha256(photo).hexdigest() and first.message_id == answer.json()["messageId"]
    )
    assert (second.inline, second.url, second.size) == (False, "https://files.example.com/a.pdf", None)
    shown = requests.get(sim.url + "/_sim/attachments", timeout=5).json()["value"]
    assert [a["name"] for a in shown] == ["photo.jpg", "a.pdf"]
    assert sim.stats()["attachments_received"] == 2
    recorded = sim.requests[-1].body["attachments"][0]["contentUrl"]
    assert recorded.startswith("data:image/jpeg;base64,<") and len(recorded) < 100  # no megabytes kept


def test_a_file_at_the_default_5120_kb_limit_passes_and_one_byte_more_is_refused(
    sim: MessagingSimulator,
) -> None:
    conversation_id = conversation(sim)
    limit = 5120 * 1024
    assert send(sim, conversation_id, message(inline(b"\0" * limit))).status_code == 200
    refused = send(sim, conversation_id, message(inline(b"\0" * (limit + 1))))
    assert refused.status_code == 400 and "5120 KB" in refused.json()["detail"]
    assert refused.json()["errorCode"] == 30012
    assert len(sim.received_attachments()) == 1


@pytest.mark.parametrize(
    ("attachment", "detail"),
    [
        (
            inline(b"MZ", name="setup.exe", kind="application/octet-stream"),
            "attachments[0].name: files of type .exe",
        ),
        (
            {"contentType": "image/png", "contentUrl": "data:image/png;base64,%%%", "name": "a.png"},
            "not valid base64",
        ),
        (
            {"contentType": "image/png", "contentUrl": "data:image/png,abc", "name": "a.png"},
            "data:<type>;base64",
        ),
        (
            {"contentType": "image/png", "contentUrl": "http://files.example.com/a.png", "name": "a.png"},
            "https URL",
        ),
        ({"contentType": "image/png", "contentUrl": "ftp://x/a.png", "name": "a.png"}, "https URL"),
        ({"contentType": "image/png", "contentUrl": "https://x/a.png"}, "attachments[0].name is required"),
        ({"contentUrl": "https://x/a.png", "name": "a.png"}, "attachments[0].contentType is required"),
        ({"contentType": "image/png", "name": "a.png"}, "attachments[0].contentUrl is required"),
        ({"contentType": "x" * 257, "contentUrl": "https://x/a.png", "name": "a.png"}, "over 256 characters"),
        (
            {"contentType": "image/png", "contentUrl": "https://x/a.png", "name": "n" * 257},
            "over 256 characters",
        ),
        ("https://x/a.png", "attachments[0] must be an object"),
    ],
)
def test_attachments_the_org_would_refuse_are_a_400_naming_the_field(
    sim: MessagingSimulator, attachment: Any, detail: str
) -> None:
    conversation_id = conversation(sim)
    answer = send(sim, conversation_id, message(attachment, text="see attached"))
    assert answer.status_code == 400 and detail in answer.json()["detail"], answer.text
    assert sim.received_attachments() == []
    assert [m["direction"] for m in sim.conversation(conversation_id)["messages"]] == []


def test_settings_narrow_what_is_accepted(sim: MessagingSimulator) -> None:
    conversation_id = conversation(sim)
    sim.blocked_extensions = frozenset({"pdf"})
    blocked = send(sim, conversation_id, message(inline(b"%PDF", name="a.PDF", kind="application/pdf")))
    assert blocked.status_code == 400 and ".pdf are blocked" in blocked.json()["detail"]
    config = requests.post(sim.url + "/_sim/config", json={"customer_attachments": False}, timeout=5)
    assert config.status_code == 200
    refused = send(sim, conversation_id, message(inline(b"ok", name="a.jpg")))
    assert refused.status_code == 400 and "not enabled" in refused.json()["detail"]
    assert send(sim, conversation_id, message(text="text still passes")).status_code == 200


def test_a_loopback_http_url_is_accepted_for_the_simulators(sim: MessagingSimulator) -> None:
    conversation_id = conversation(sim)
    local = {"contentType": "image/png", "contentUrl": "http://127.0.0.1:9/a.png", "name": "a.png"}
    assert send(sim, conversation_id, message(local)).status_code == 200
    assert sim.received_attachments()[0].url == "http://127.0.0.1:9/a.png"
