"""Mode messaging end to end, in process over real HTTP: handoff -> conversation, the rep's greeting
reaching the customer's OpenCX session, the customer's reply reaching the rep, ending both ways."""

from __future__ import annotations

import requests
from messaging_helpers import FUNCTION_KEY, MessagingBridge, messaging_bridge_fixture, wait_for  # noqa: F401

from devtools.messaging_sim import FaultRule as MessagingFault
from devtools.opencx_sim import SMS_SESSION_ID, WHATSAPP_SESSION_ID


def _texts(bridge: MessagingBridge, session_id: str) -> list[str]:
    return [sent.text or "" for sent in bridge.opencx.sent_to(session_id)]


def test_the_full_loop(messaging_bridge: MessagingBridge) -> None:
    bridge = messaging_bridge
    conversation_id = bridge.handoff(SMS_SESSION_ID)
    conversation = bridge.sim.conversation(conversation_id)
    assert conversation is not None and conversation["customerId"] == SMS_SESSION_ID

    greeting = bridge.sim.rep.greeting
    wait_for(lambda: greeting in _texts(bridge, SMS_SESSION_ID), 15, "the greeting at OpenCX")
    sent = bridge.opencx.sent_to(SMS_SESSION_ID)[0]
    assert sent.sender == "agent" and sent.agent_name == bridge.sim.rep.name

    answer = bridge.post_event(bridge.opencx.customer_reply(SMS_SESSION_ID, "Friday works for me"))
    assert answer.status_code == 202, answer.text
    wait_for(
        lambda: any(
            m.get("text") == "Friday works for me"
            for m in bridge.sim.store.get(conversation_id).customer_messages()
        ),
        15,
        "the reply at the rep",
    )
    # The scripted rep answers that reply; it reaches the customer after the greeting.
    wait_for(lambda: len(_texts(bridge, SMS_SESSION_ID)) == 2, 15, "the rep's answer")

    bridge.sim.rep.end(conversation_id)
    wait_for(
        lambda: any(u.body.get("status") == "closed_resolved" for u in bridge.opencx.updates),
        15,
        "the OpenCX session closed",
    )

    def status_now() -> dict:
        return requests.get(
            f"{bridge.url}/api/handoffs/{SMS_SESSION_ID}",
            headers={"x-functions-key": FUNCTION_KEY},
            timeout=10,
        ).json()

    # The relay records the end just after OpenCX answered the close: wait for that write.
    wait_for(lambda: status_now()["handoffs"][0]["messaging"]["state"] == "closed", 15, "the mapping closed")
    status = status_now()
    assert status["handoffs"][0]["dynamics365_chat_id"] == conversation_id
    counts = dict(status["handoffs"][0]["messaging"])
    # What the last look at the conversation's messages met before closing: read, or already gone
    # (the simulator keeps a closed conversation's messages unreadable by default).
    assert counts.pop("endReconcile") in ("checked", "conversation_gone")
    assert counts == {
        "conversationId": conversation_id,
        "state": "closed",
        "messagesToCustomer": 2,
        "messagesToRep": 1,
    }


def test_health_checks_the_messaging_token_channel_and_table(messaging_bridge: MessagingBridge) -> None:
    bridge = messaging_bridge
    health = requests.get(
        f"{bridge.url}/api/health", headers={"x-functions-key": FUNCTION_KEY}, timeout=20
    ).json()
    checks = {check["name"]: check for check in health["checks"]}
    assert checks["messaging_token"]["ok"] is True
    assert checks["messaging_channel"]["ok"] is True
    assert checks[f"table:{bridge.env['MESSAGING_TABLE']}"]["ok"] is True
    bridge.sim.channel_configured = False
    health = requests.get(
        f"{bridge.url}/api/health", headers={"x-functions-key": FUNCTION_KEY}, timeout=20
    ).json()
    channel = next(check for check in health["checks"] if check["name"] == "messaging_channel")
    assert channel["ok"] is False and "30004" in channel["fix"]


def test_health_shows_when_the_reconcile_timer_last_swept(messaging_bridge: MessagingBridge) -> None:
    bridge = messaging_bridge

    def reconcile_check() -> dict:
        health = requests.get(
            f"{bridge.url}/api/health", headers={"x-functions-key": FUNCTION_KEY}, timeout=20
        ).json()
        return next(check for check in health["checks"] if check["name"] == "messaging_reconcile")

    assert reconcile_check()["ok"] is True  # no sweep yet, or the runner's own minute tick
    assert bridge.host.fire_timer("reconcile_timer") == "ok"  # the timer, invoked as its schedule would
    assert reconcile_check()["ok"] is True and "last sweep" in reconcile_check()["detail"]
    from shared.messaging.reconcile import SWEEP_PK, SWEEP_RK

    bridge.deps.store.merge({"PartitionKey": SWEEP_PK, "RowKey": SWEEP_RK, "at": 1_000_000_000.0})
    stale = reconcile_check()
    assert stale["ok"] is False and "reconcile_timer" in stale["fix"]


def test_one_conversation_per_session_through_redeliveries_and_create_faults(
    messaging_bridge: MessagingBridge,
) -> None:
    bridge = messaging_bridge
    bridge.sim.add_fault(MessagingFault(kind="status", operation="create", status=503, times=3))
    bridge.sim.add_fault(MessagingFault(kind="drop_after_commit", operation="create", times=1))
    first = bridge.post_event(bridge.opencx.handoff_event(WHATSAPP_SESSION_ID))
    again = bridge.post_event(bridge.opencx.handoff_event(WHATSAPP_SESSION_ID))
    assert first.status_code == 202 and again.status_code in (200, 202)
    conversation_id = bridge.wait_conversation(WHATSAPP_SESSION_ID, timeout=30)
    # A second handoff of the same session (another handoff id) meets the same conversation.
    third = bridge.post_event(
        bridge.opencx.handoff_event(WHATSAPP_SESSION_ID, timestamp="2030-01-01T00:00:00.000Z")
    )
    assert third.status_code == 202, third.text

    def both_created() -> bool:
        rows = (
            requests.get(
                f"{bridge.url}/api/handoffs/{WHATSAPP_SESSION_ID}",
                headers={"x-functions-key": FUNCTION_KEY},
                timeout=10,
            )
            .json()
            .get("handoffs", [])
        )
        return len(rows) == 2 and all(row["status"] == "created" for row in rows)

    wait_for(both_created, 30, "both handoffs recorded")
    rows = requests.get(
        f"{bridge.url}/api/handoffs/{WHATSAPP_SESSION_ID}",
        headers={"x-functions-key": FUNCTION_KEY},
        timeout=10,
    ).json()["handoffs"]
    assert {row["dynamics365_chat_id"] for row in rows} == {conversation_id}
    assert [c["conversationId"] for c in bridge.sim.conversations] == [conversation_id]
    assert bridge.sim.stats()["operations"]["create"].get("503") == 3
