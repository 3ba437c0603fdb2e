"""Hostile OpenCX deliveries over HTTP (the local runner in mode messaging, so customer events are
live too): Unicode tricks in ids are 422 naming the field, malformed bodies are 4xx, never a 5xx."""

from __future__ import annotations

import json

import pytest
import requests
from helpers import queue_messages, sample_event
from messaging_helpers import FUNCTION_KEY, MessagingBridge, messaging_bridge_fixture  # noqa: F401

# Every character str.splitlines() splits on beyond \n and \r, bidi overrides and isolates, other
# format characters, and a lone surrogate (which a JSON escape can carry).
TRICKS = ["\u2028", "\u2029", "\x85", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e",
          "\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069",
          "\u200e", "\u200f", "\u061c", "\u200b", "\u2060", "\ufeff", "\u00ad", "\ud800", "\U000e0041"]  # fmt: skip


def _post(bridge: MessagingBridge, data: bytes, headers: dict[str, str] | None = None) -> requests.Response:
    sent = {"x-functions-key": FUNCTION_KEY, "Content-Type": "application/json", **(headers or {})}
    return requests.post(f"{bridge.url}/api/handoffs", data=data, headers=sent, timeout=15)


def _queued(bridge: MessagingBridge) -> list[str]:
    return queue_messages(bridge.storage, bridge.env["HANDOFF_QUEUE"])


@pytest.mark.parametrize("trick", TRICKS, ids=[f"U+{ord(t):04X}" for t in TRICKS])
def test_unicode_tricks_in_the_conversation_id_are_422(messaging_bridge: MessagingBridge, trick: str) -> None:
    bridge = messaging_bridge
    forged = f"conv{trick}handoff.accepted forged=1"
    answer = _post(bridge, json.dumps(sample_event(conversation_id=forged)).encode())
    assert answer.status_code == 422, answer.text
    assert [e["field"] for e in answer.json()["errors"]] == ["data.conversation_id"]
    assert "format or line-separator" in answer.json()["errors"][0]["message"]
    assert _queued(bridge) == []


@pytest.mark.parametrize("trick", ["\x85", "\x0b", "\x1c"])
def test_unicode_tricks_in_the_webhook_id_header_are_422(
    messaging_bridge: MessagingBridge, trick: str
) -> None:
    bridge = messaging_bridge
    answer = _post(bridge, json.dumps(sample_event()).encode(), {"webhook-id": f"msg{trick}forged"})
    assert answer.status_code == 422
    assert [e["field"] for e in answer.json()["errors"]] == ["header:webhook-id"]


@pytest.mark.parametrize(
    "data",
    [
        b"[" * 5000,
        b'{"a":' * 5000 + b"1" + b"}" * 5000,
        json.dumps(
            {"event": "conversation.handoff_to_human", "data": json.loads("[" * 100 + "]" * 100)}
        ).encode(),
        json.dumps(
            {
                "event": "conversation.contact_response",
                "data": {"conversation_id": "c", "x": json.loads("[" * 100 + "]" * 100)},
            }
        ).encode(),
        b'{"event": "conversation.contact_response", "data": {"conversation_id": 1' + b"0" * 5000 + b"}}",
        b'{"event": "\\ud800", "data": {}}',
        b'{"event": ["x"], "data": {}}',
        b'{"event": "conversation.handoff_to_human", "data": {"conversation_id": {"a": 1}, "timestamp": []}}',
        b'{"event": "conversation.handoff_to_human", "organization_id": {"a": [1]}, "data": []}',
    ],
)
def test_malformed_bodies_are_4xx_never_5xx(messaging_bridge: MessagingBridge, data: bytes) -> None:
    answer = _post(messaging_bridge, data)
    assert 400 <= answer.status_code < 500 or answer.status_code == 200, (answer.status_code, answer.text)
    assert answer.headers["Content-Type"].startswith("application/problem+json") or answer.status_code == 200


@pytest.mark.parametrize(
    "conversation_id",
    ["c\ud800", "c\u2028forged", "a/b", "a\\b", "a#b", "a?b", "nul\x00", "x" * 300, "\u202e", "..", " "],
)
def test_customer_events_with_unusable_ids_are_never_5xx(
    messaging_bridge: MessagingBridge, conversation_id: str
) -> None:
    for event in ("conversation.contact_response", "conversation.closed"):
        body = {"event": event, "data": {"conversation_id": conversation_id, "message": "hi \ud800",
                                         "timestamp": "2026-01-01T00:00:00Z"}}  # fmt: skip
        answer = _post(messaging_bridge, json.dumps(body).encode())
        assert answer.status_code < 500, (event, answer.status_code, answer.text)


def test_a_lone_surrogate_in_a_customer_message_is_repaired(messaging_bridge: MessagingBridge) -> None:
    from devtools.opencx_sim import SMS_SESSION_ID
    from shared.messaging.outbox import Direction

    bridge = messaging_bridge
    conversation_id = bridge.handoff(SMS_SESSION_ID)
    body = {"event": "conversation.contact_response", "data": {"conversation_id": SMS_SESSION_ID,
            "message": "half \ud83d emoji", "timestamp": "2026-01-01T00:00:00Z"}}  # fmt: skip
    answer = _post(bridge, json.dumps(body).encode())
    assert answer.status_code in (200, 202), answer.text
    texts = [entry.text for entry in bridge.deps.outbox.entries(conversation_id, Direction.TO_REP)]
    assert "half \ufffd emoji" in texts
