"""Mode messaging in the worker: failures of create go through the same act() as Dataverse's."""

from __future__ import annotations

import json

import requests
from helpers import queue_messages
from messaging_helpers import FUNCTION_KEY, MessagingBridge, messaging_bridge_fixture, wait_for  # noqa: F401

from devtools.messaging_sim import FaultRule as MessagingFault
from devtools.opencx_sim import EMAIL_SESSION_ID, SMS_SESSION_ID


def _rows(bridge: MessagingBridge, session_id: str) -> list[dict]:
    answer = requests.get(
        f"{bridge.url}/api/handoffs/{session_id}", headers={"x-functions-key": FUNCTION_KEY}, timeout=10
    )
    return answer.json().get("handoffs", []) if answer.status_code == 200 else []


def test_a_channel_without_a_workstream_is_dead_lettered_with_its_code(
    messaging_bridge: MessagingBridge,
) -> None:
    bridge = messaging_bridge
    bridge.sim.workstream_linked = False
    assert bridge.post_event(bridge.opencx.handoff_event(SMS_SESSION_ID)).status_code == 202
    wait_for(
        lambda: [r["status"] for r in _rows(bridge, SMS_SESSION_ID)] == ["dead_lettered"], 20, "dead letter"
    )
    row = _rows(bridge, SMS_SESSION_ID)[0]
    assert (row["lastErrorTarget"], row["lastErrorStatus"], row["lastErrorCode"]) == (
        "messaging",
        400,
        "30014",
    )
    records = [
        json.loads(text)
        for text in queue_messages(bridge.storage, bridge.env["HANDOFF_QUEUE"] + "-deadletter")
    ]
    assert [(r["reason"], r["target"]) for r in records] == [("permanent_error", "messaging")]
    assert bridge.sim.conversations == []


def test_a_429_waits_and_the_handoff_still_gets_its_conversation(messaging_bridge: MessagingBridge) -> None:
    bridge = messaging_bridge
    bridge.sim.add_fault(
        MessagingFault(kind="status", operation="create", status=429, retry_after=1, times=1)
    )
    conversation_id = bridge.handoff(SMS_SESSION_ID)
    wait_for(lambda: [r["status"] for r in _rows(bridge, SMS_SESSION_ID)] == ["created"], 20, "created")
    row = _rows(bridge, SMS_SESSION_ID)[0]
    assert row["dynamics365_chat_id"] == conversation_id and row["throttled"] == 1


def test_channels_that_are_not_live_chats_still_become_incidents(messaging_bridge: MessagingBridge) -> None:
    bridge = messaging_bridge
    assert bridge.post_event(bridge.opencx.handoff_event(EMAIL_SESSION_ID)).status_code == 202
    wait_for(lambda: _rows(bridge, EMAIL_SESSION_ID) and _rows(bridge, EMAIL_SESSION_ID)[0]["status"] != "accepted",
             20, "an outcome")  # fmt: skip
    assert bridge.sim.conversations == []
    assert _rows(bridge, EMAIL_SESSION_ID)[0]["lastErrorTarget"] in (None, "dataverse")
