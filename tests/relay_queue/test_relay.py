"""The relay: rep -> customer in order and once each through redeliveries and OpenCX failures;
customer -> rep once each; ending relayed both ways; dead letters the replay tool re-drives."""

from __future__ import annotations

import io
import json

from helpers import queue_messages
from messaging_helpers import MessagingBridge, messaging_bridge_fixture, wait_for  # noqa: F401

from devtools.opencx_sim import SMS_SESSION_ID, WEB_SESSION_ID, FaultRule
from shared.messaging.outbox import Direction


def _texts(bridge: MessagingBridge, session_id: str) -> list[str]:
    return [sent.text or "" for sent in bridge.opencx.sent_to(session_id)]


def _customer_texts(bridge: MessagingBridge, conversation_id: str) -> list[str]:
    conversation = bridge.sim.store.get(conversation_id)
    return [str(m.get("text")) for m in conversation.customer_messages()] if conversation else []


def test_twenty_rep_messages_arrive_in_order_once_each_through_redeliveries_and_send_failures(
    messaging_bridge: MessagingBridge,
) -> None:
    bridge = messaging_bridge
    bridge.sim.rep.greeting = None
    conversation_id = bridge.handoff(SMS_SESSION_ID)
    bridge.sim.rep.duplicate_every = 3  # every third activity is delivered twice, as after a lost 200
    # 20% of sends fail (every 5th), one of them with a 429 first; one answer is lost after the send.
    bridge.opencx.add_fault(FaultRule(kind="status", operation="send", status=429, retry_after=1, times=1))
    bridge.opencx.add_fault(FaultRule(kind="status", operation="send", status=503, every=5))
    expected = [f"Rep message {n:02d}" for n in range(1, 21)]
    for text in expected:
        bridge.sim.rep.say(conversation_id, text)
    assert bridge.sim.rep.wait_delivered(30)
    wait_for(lambda: len(_texts(bridge, SMS_SESSION_ID)) >= 20, 90, "20 messages at OpenCX")
    wait_for(
        lambda: not bridge.deps.outbox.pending(conversation_id, Direction.TO_CUSTOMER), 30, "nothing pending"
    )
    assert _texts(bridge, SMS_SESSION_ID) == expected
    assert bridge.opencx.count(operation="send", status=503) >= 4, "the faults must have fired"
    assert sum(1 for d in bridge.sim.rep.deliveries if d.redelivery_of is not None) >= 6
    wait_for(lambda: bridge.deps.links.by_conversation(conversation_id).to_customer == 20, 5, "20 counted")


def test_the_customers_reply_reaches_the_conversation_once_and_from_history_without_text(
    messaging_bridge: MessagingBridge,
) -> None:
    bridge = messaging_bridge
    bridge.sim.rep.auto_reply = False
    conversation_id = bridge.handoff(WEB_SESSION_ID)
    event = bridge.opencx.customer_reply(WEB_SESSION_ID, "My order number is 4411")
    assert bridge.post_event(event).status_code == 202
    assert bridge.post_event(event).json()["status"] == "duplicate"
    wait_for(lambda: "My order number is 4411" in _customer_texts(bridge, conversation_id), 15, "the reply")
    # An event without the text: the history since the last forwarded message is read instead.
    silent = bridge.opencx.customer_reply(WEB_SESSION_ID, "It arrived broken", include_text=False)
    assert bridge.post_event(silent).status_code == 202
    wait_for(lambda: "It arrived broken" in _customer_texts(bridge, conversation_id), 15, "the history reply")
    texts = _customer_texts(bridge, conversation_id)
    assert texts.count("My order number is 4411") == 1 and texts.count("It arrived broken") == 1
    wait_for(
        lambda: bridge.deps.links.by_conversation(conversation_id).to_rep == 2, 5, "two counted to the rep"
    )


def test_an_unmapped_session_is_ignored(messaging_bridge: MessagingBridge) -> None:
    bridge = messaging_bridge
    answer = bridge.post_event(bridge.opencx.customer_reply(SMS_SESSION_ID, "hello?"))
    assert (answer.status_code, answer.json()["status"]) == (200, "ignored")
    assert queue_messages(bridge.storage, bridge.env["MESSAGING_QUEUE"]) == []


def test_ending_is_relayed_both_ways(messaging_bridge: MessagingBridge) -> None:
    bridge = messaging_bridge
    # The rep ends: the OpenCX session is closed.
    first = bridge.handoff(SMS_SESSION_ID)
    bridge.sim.rep.end(first, event="SupervisorForceClosedConversation")
    wait_for(
        lambda: (
            [u.session_id for u in bridge.opencx.updates if u.body.get("status") == "closed_resolved"]
            == [SMS_SESSION_ID]
        ),
        15,
        "the session closed",
    )
    wait_for(
        lambda: bridge.deps.links.by_session(SMS_SESSION_ID).state.value == "closed", 10, "the mapping closed"
    )
    # The customer's side closes: the Dynamics conversation is ended.
    second = bridge.handoff(WEB_SESSION_ID)
    closed = bridge.opencx.close_session(WEB_SESSION_ID)
    assert bridge.post_event(closed).status_code == 202
    wait_for(lambda: not bridge.sim.conversation(second)["active"], 15, "the conversation ended")
    assert bridge.sim.conversation(second)["closedBy"] == "customer"
    # Closed now: a late reply is not relayed.
    wait_for(
        lambda: bridge.deps.links.by_session(WEB_SESSION_ID).state.value == "closed", 10, "the mapping closed"
    )
    late = bridge.post_event(bridge.opencx.customer_reply(WEB_SESSION_ID, "one more thing"))
    assert late.json()["status"] == "ignored"


def test_a_refused_message_is_dead_lettered_and_the_replay_tool_redrives_it(
    messaging_bridge: MessagingBridge,
) -> None:
    from ops import replay

    bridge = messaging_bridge
    bridge.sim.rep.greeting = None
    conversation_id = bridge.handoff(SMS_SESSION_ID)
    bridge.opencx.add_fault(FaultRule(kind="status", operation="send", status=400, times=1))
    bridge.sim.rep.say(conversation_id, "refused once")
    bridge.sim.rep.say(conversation_id, "goes through")
    wait_for(lambda: _texts(bridge, SMS_SESSION_ID) == ["goes through"], 20, "the second message")
    storage = bridge.storage
    queue = bridge.env["MESSAGING_QUEUE"]
    records = [json.loads(text) for text in queue_messages(storage, queue + "-deadletter")]
    assert [(r["reason"], r["target"], r["lastStatus"]) for r in records] == [
        ("permanent_error", "opencx", 400)
    ]
    assert records[0]["sessionId"] == SMS_SESSION_ID
    listed = io.StringIO()
    replay.main(
        ["list", "--queue", queue, "--source", "deadletter", "--connection-string", storage], out=listed
    )
    assert json.loads(listed.getvalue().splitlines()[0])["replayable"] is True
    out = io.StringIO()
    replay.main(["redrive", "--all", "--queue", queue, "--source", "deadletter", "--connection-string", storage],
                out=out)  # fmt: skip
    assert json.loads(out.getvalue().splitlines()[0])["result"] == "re-driven"
    wait_for(
        lambda: _texts(bridge, SMS_SESSION_ID) == ["goes through", "refused once"], 20, "the re-driven one"
    )


def test_a_send_whose_answer_was_lost_reaches_the_customer_once(messaging_bridge: MessagingBridge) -> None:
    """OpenCX's send has no idempotency key. When the answer to a send is lost (OpenCX stored it,
    the connection dropped), the relay looks in the session's history before sending again, so the
    customer gets the message once, and the messages after it in order."""
    bridge = messaging_bridge
    bridge.sim.rep.greeting = None
    conversation_id = bridge.handoff(SMS_SESSION_ID)
    bridge.opencx.add_fault(FaultRule(kind="drop_after_commit", operation="send", times=1))
    expected = ["Checking your order now", "Friday works", "Anything else?"]
    for text in expected:
        bridge.sim.rep.say(conversation_id, text)
    assert bridge.sim.rep.wait_delivered(30)
    wait_for(
        lambda: not bridge.deps.outbox.pending(conversation_id, Direction.TO_CUSTOMER), 60, "nothing pending"
    )
    assert _texts(bridge, SMS_SESSION_ID) == expected
    assert bridge.opencx.count(operation="send") == len(expected)  # the lost one was not sent again
    assert bridge.opencx.count(operation="list_history") >= 1  # it was looked up instead
