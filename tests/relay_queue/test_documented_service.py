"""Mode messaging against the service Microsoft documents (issue 17): activities without ids, rep
messages the webhook lost, conversations that end without a word, long histories in either page
order. The whole bridge runs in process (runner, Azurite, simulators over HTTP); where time matters
a relay dependency set with a clock ahead of the wall clock plays "later" (no test sleeps a minute).
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from messaging_helpers import MessagingBridge, messaging_bridge_fixture, wait_for  # noqa: F401

from devtools.opencx_sim import SMS_SESSION_ID, WEB_SESSION_ID, history_item
from shared.messaging.deps import RelayDeps
from shared.messaging.links import LinkState
from shared.messaging.outbox import DEDUP_WINDOW_SECONDS, Direction
from shared.messaging.reconcile import sweep
from shared.platform.settings import get_settings


def _to_customer(bridge: MessagingBridge, session_id: str) -> list[str]:
    return [sent.text or "" for sent in bridge.opencx.sent_to(session_id)]


def _to_rep(bridge: MessagingBridge, conversation_id: str) -> list[str]:
    conversation = bridge.sim.store.get(conversation_id)
    return [str(m.get("text")) for m in conversation.customer_messages()] if conversation else []


def _later(seconds: float) -> RelayDeps:
    """The relay as it will be `seconds` from now (its own clients, the same table and queue)."""
    return RelayDeps.build(get_settings(), clock=lambda: time.time() + seconds)


def _settled(
    bridge: MessagingBridge, conversation_id: str, direction: Direction = Direction.TO_CUSTOMER
) -> None:
    wait_for(lambda: not bridge.deps.outbox.pending(conversation_id, direction), 30, "nothing pending")


# ---------------------------------------------------------------------------- no activity ids


def test_the_same_text_twice_a_minute_apart_reaches_the_customer_twice(
    messaging_bridge: MessagingBridge,
) -> None:
    bridge = messaging_bridge
    bridge.sim.rep.greeting = None
    conversation_id = bridge.handoff(SMS_SESSION_ID)
    first = bridge.sim.rep.say(conversation_id, "ok")
    assert bridge.sim.rep.wait_delivered(10)
    bridge.sim.rep.redeliver(first)  # Microsoft's retry of the same body within seconds: once
    assert bridge.sim.rep.wait_delivered(10)
    _settled(bridge, conversation_id)
    assert _to_customer(bridge, SMS_SESSION_ID).count("ok") == 1
    outbox = bridge.deps.outbox
    real_clock = outbox.clock
    outbox.clock = lambda: real_clock() + DEDUP_WINDOW_SECONDS + 1  # the rep types "ok" again, 61 s later
    try:
        bridge.sim.rep.say(conversation_id, "ok")
        assert bridge.sim.rep.wait_delivered(10)
        wait_for(lambda: _to_customer(bridge, SMS_SESSION_ID).count("ok") == 2, 20, "the second ok")
    finally:
        outbox.clock = real_clock
    assert all(d.activity.get("id") is None for d in bridge.sim.rep.deliveries)  # as documented: no ids


# ---------------------------------------------------------------------------- lost on the webhook


def test_rep_messages_lost_on_the_webhook_reach_the_customer_by_the_sweep_in_order_once(
    messaging_bridge: MessagingBridge,
) -> None:
    bridge = messaging_bridge
    bridge.sim.rep.greeting = None
    bridge.sim.rep.auto_reply = False
    conversation_id = bridge.handoff(SMS_SESSION_ID)
    bridge.sim.rep.say(conversation_id, "Your refund is approved", drop=True)
    bridge.sim.rep.say(conversation_id, "It takes 3 days", drop=True)
    bridge.sim.rep.say(conversation_id, "Anything else?")
    reply = bridge.opencx.customer_reply(SMS_SESSION_ID, "Thanks a lot")
    assert bridge.post_event(reply).status_code == 202
    wait_for(lambda: "Anything else?" in _to_customer(bridge, SMS_SESSION_ID), 15, "the delivered message")
    wait_for(lambda: "Thanks a lot" in _to_rep(bridge, conversation_id), 15, "the customer's reply")
    assert "Your refund is approved" not in _to_customer(bridge, SMS_SESSION_ID)

    later = _later(get_settings().messaging_reconcile_seconds + 60)
    try:
        report = sweep(later)
        assert report["added"] == 2, report
        wait_for(lambda: len(_to_customer(bridge, SMS_SESSION_ID)) >= 3, 20, "the lost messages")
        _settled(bridge, conversation_id)
        again = sweep(_later_by(later, get_settings().messaging_reconcile_seconds + 1))
    finally:
        later.close(5)
    assert again["added"] == 0
    texts = _to_customer(bridge, SMS_SESSION_ID)
    assert texts == ["Anything else?", "Your refund is approved", "It takes 3 days"]
    assert "Thanks a lot" not in texts  # the customer's own words are never echoed back
    assert "Customer asked" not in " ".join(texts)  # nor the start message


def _later_by(deps: RelayDeps, seconds: float) -> RelayDeps:
    deps.clock = (lambda base: lambda: base() + seconds)(deps.clock)
    deps.outbox.clock = deps.leases.clock = deps.clock
    return deps


def test_a_sweep_reads_each_conversation_at_most_once_and_only_when_due(
    messaging_bridge: MessagingBridge,
) -> None:
    bridge = messaging_bridge
    bridge.sim.rep.greeting = None
    conversation_id = bridge.handoff(WEB_SESSION_ID)
    reads = lambda: sum(1 for r in bridge.sim.requests if r.operation == "messages")  # noqa: E731
    assert sweep(bridge.deps)["due"] == 0  # just started: not due
    later = _later(get_settings().messaging_reconcile_seconds + 1)
    try:
        before = reads()
        assert sweep(later)["due"] == 1
        assert reads() == before + 1
        assert sweep(later)["due"] == 0  # read just now: not due again
    finally:
        later.close(5)
    assert bridge.deps.links.by_conversation(conversation_id).reconciled_at is not None


def test_lost_rep_messages_reach_the_customer_before_the_session_is_closed(
    messaging_bridge: MessagingBridge,
) -> None:
    bridge = messaging_bridge
    bridge.sim.rep.greeting = None
    bridge.sim.closed_messages_readable_seconds = 60  # the other reading: readable a while after the end
    conversation_id = bridge.handoff(SMS_SESSION_ID)
    bridge.sim.rep.say(conversation_id, "Here is your label", drop=True)
    bridge.sim.rep.say(conversation_id, "Goodbye", drop=True)
    bridge.sim.rep.end(conversation_id)
    wait_for(
        lambda: any(u.session_id == SMS_SESSION_ID for u in bridge.opencx.updates), 20, "the session closed"
    )
    assert _to_customer(bridge, SMS_SESSION_ID) == ["Here is your label", "Goodbye"]
    sends = [
        r for r in bridge.opencx.requests if r.operation in ("send", "update_session") and r.status == 200
    ]
    assert [r.operation for r in sends][-1] == "update_session"  # the close came after both messages
    wait_for(
        lambda: bridge.deps.links.by_conversation(conversation_id).state is LinkState.CLOSED, 10, "closed"
    )
    assert bridge.deps.links.by_conversation(conversation_id).end_reconcile == "checked"


def test_the_session_is_closed_anyway_when_the_ended_conversation_is_unreadable(
    messaging_bridge: MessagingBridge,
) -> None:
    bridge = messaging_bridge
    conversation_id = bridge.handoff(SMS_SESSION_ID)
    bridge.sim.rep.end(conversation_id)  # the default reading: an ended conversation answers 404 at once
    wait_for(
        lambda: any(u.session_id == SMS_SESSION_ID for u in bridge.opencx.updates), 20, "the session closed"
    )
    wait_for(
        lambda: bridge.deps.links.by_conversation(conversation_id).end_reconcile is not None, 10, "recorded"
    )
    assert bridge.deps.links.by_conversation(conversation_id).end_reconcile == "conversation_gone"


# ---------------------------------------------------------------------------- silent ends


def test_a_silently_ended_conversation_continues_in_a_new_one(messaging_bridge: MessagingBridge) -> None:
    bridge = messaging_bridge
    bridge.sim.rep.greeting = None
    bridge.sim.rep.auto_reply = False
    first = bridge.handoff(SMS_SESSION_ID)
    bridge.sim.rep.say(first, "Let me check")
    wait_for(lambda: "Let me check" in _to_customer(bridge, SMS_SESSION_ID), 15, "the rep's message")
    bridge.sim.end_silently(first, reason="timeout")  # no webhook call: nothing tells the bridge

    reply = bridge.opencx.customer_reply(SMS_SESSION_ID, "Are you still there?")
    assert bridge.post_event(reply).status_code == 202
    wait_for(lambda: (link := bridge.deps.links.by_session(SMS_SESSION_ID)) is not None
             and link.conversation_id != first, 20, "a new conversation")  # fmt: skip
    second = bridge.deps.links.by_session(SMS_SESSION_ID).conversation_id
    wait_for(
        lambda: "Are you still there?" in _to_rep(bridge, second), 20, "the message in the new conversation"
    )
    _settled(bridge, second, Direction.TO_REP)
    assert _to_rep(bridge, second).count("Are you still there?") == 1
    assert "Are you still there?" not in _to_rep(bridge, first)
    created = bridge.sim.store.get(second)
    start = created.start_message
    start_text = start.get("message") if isinstance(start, dict) else str(start)
    assert first in start_text and "Let me check" in start_text
    assert created.customer_id == SMS_SESSION_ID
    assert created.context.get("sessionId", {}).get("value") == SMS_SESSION_ID  # the same context

    bridge.sim.rep.say(second, "Yes, I am here")
    wait_for(lambda: "Yes, I am here" in _to_customer(bridge, SMS_SESSION_ID), 15, "the new rep's answer")
    assert not any(u.session_id == SMS_SESSION_ID for u in bridge.opencx.updates)  # never closed by a timeout
    old = bridge.deps.links.by_conversation(first)
    assert old.state is LinkState.REPLACED and old.replaced_by == second


def test_a_new_handoff_after_a_silent_end_has_one_live_conversation(
    messaging_bridge: MessagingBridge,
) -> None:
    bridge = messaging_bridge
    first = bridge.handoff(SMS_SESSION_ID)
    bridge.sim.end_silently(first, reason="waiting")
    later = (datetime.now(UTC) + timedelta(minutes=1)).isoformat().replace("+00:00", "Z")
    answer = bridge.post_event(bridge.opencx.handoff_event(SMS_SESSION_ID, timestamp=later))  # a new handoff
    assert answer.status_code in (200, 202), answer.text
    wait_for(lambda: bridge.deps.links.by_session(SMS_SESSION_ID).conversation_id != first, 20, "moved on")
    live = [c for c in bridge.sim.store.all() if c.customer_id == SMS_SESSION_ID and c.active]
    assert (
        len(live) == 1
        and live[0].conversation_id == bridge.deps.links.by_session(SMS_SESSION_ID).conversation_id
    )


# ---------------------------------------------------------------------------- long histories


def _long_session(bridge: MessagingBridge, order: str) -> tuple[str, list[str]]:
    bridge.opencx.history_order = order
    bridge.opencx.page_size = 5
    start = datetime.now(UTC) - timedelta(hours=1)
    texts = [f"line {n:02d}" for n in range(40)]  # 8 pages of 5
    history = [
        history_item(text, sender_type="contact" if n % 2 else "ai",
                     created_at=(start + timedelta(seconds=n)).isoformat().replace("+00:00", "Z"))
        for n, text in enumerate(texts)
    ]  # fmt: skip
    session_id = bridge.opencx.add_session(channel="web", name="Long Talker", email="long@example.com",
                                           history=history)  # fmt: skip
    return session_id, texts


@pytest.mark.parametrize("order", ["oldest_first", "newest_first"])
def test_a_long_history_in_either_order_gives_the_rep_its_newest_lines(
    messaging_bridge: MessagingBridge, order: str
) -> None:
    bridge = messaging_bridge
    bridge.sim.rep.greeting = None
    bridge.sim.rep.auto_reply = False
    session_id, _texts = _long_session(bridge, order)
    conversation_id = bridge.handoff(session_id)
    start = bridge.sim.store.get(conversation_id).start_message
    start_text: str = start.get("message") if isinstance(start, dict) else str(start)
    assert "line 39" in start_text and start_text.index("line 38") < start_text.index("line 39")

    # A contact_response without its text: the newest customer message is forwarded, once.
    silent = bridge.opencx.customer_reply(session_id, "The newest words", include_text=False)
    assert bridge.post_event(silent).status_code == 202
    wait_for(lambda: "The newest words" in _to_rep(bridge, conversation_id), 20, "the newest message")
    _settled(bridge, conversation_id, Direction.TO_REP)
    forwarded: list[Any] = _to_rep(bridge, conversation_id)
    assert forwarded == ["The newest words"]  # nothing older than the handoff, nothing twice


# ---------------------------------------------------------------------------- what can go wrong there


def test_a_sweep_that_finds_the_conversation_gone_never_reads_it_again(
    messaging_bridge: MessagingBridge,
) -> None:
    bridge = messaging_bridge
    bridge.sim.rep.greeting = None
    gone = bridge.handoff(WEB_SESSION_ID)
    bridge.sim.end_silently(gone, reason="timeout")
    later = _later(get_settings().messaging_reconcile_seconds + 1)
    try:
        report = sweep(later)
        assert (report["due"], report["gone"]) == (1, 1), report
        assert later.links.by_conversation(gone).reconcile_gone
        _later_by(later, get_settings().messaging_reconcile_seconds + 1)
        assert sweep(later)["due"] == 0
    finally:
        later.close(5)
    assert bridge.deps.links.by_session(WEB_SESSION_ID).open  # a silent end never closes the session


def test_a_sweep_that_cannot_read_says_so_and_reads_again_when_due(messaging_bridge: MessagingBridge) -> None:
    from devtools.messaging_sim import FaultRule as MessagingFault

    bridge = messaging_bridge
    bridge.sim.rep.greeting = None
    conversation_id = bridge.handoff(SMS_SESSION_ID)
    bridge.sim.add_fault(MessagingFault(kind="status", operation="messages", status=503, times=3))
    later = _later(get_settings().messaging_reconcile_seconds + 1)
    try:
        assert sweep(later)["failed"] == 1  # three tries (two inline retries), then it says so
        assert sweep(later)["due"] == 0  # not again at once: the next read waits its turn
        _later_by(later, get_settings().messaging_reconcile_seconds + 1)
        report = sweep(later)
        assert (report["due"], report["failed"]) == (1, 0)
    finally:
        later.close(5)
    assert bridge.deps.links.by_conversation(conversation_id).open


def test_a_continuation_whose_create_fails_is_retried_and_still_delivers_once(
    messaging_bridge: MessagingBridge,
) -> None:
    from devtools.messaging_sim import FaultRule as MessagingFault

    bridge = messaging_bridge
    bridge.sim.rep.greeting = None
    bridge.sim.rep.auto_reply = False
    first = bridge.handoff(SMS_SESSION_ID)
    bridge.sim.end_silently(first)
    bridge.sim.add_fault(MessagingFault(kind="status", operation="create", status=503, times=3))
    reply = bridge.opencx.customer_reply(SMS_SESSION_ID, "Hello again")
    assert bridge.post_event(reply).status_code == 202
    wait_for(lambda: bridge.deps.links.by_session(SMS_SESSION_ID).conversation_id != first, 40, "continued")
    second = bridge.deps.links.by_session(SMS_SESSION_ID).conversation_id
    wait_for(lambda: "Hello again" in _to_rep(bridge, second), 30, "the message in the new conversation")
    _settled(bridge, second, Direction.TO_REP)
    assert _to_rep(bridge, second).count("Hello again") == 1
    live = [c for c in bridge.sim.store.all() if c.customer_id == SMS_SESSION_ID and c.active]
    assert [c.conversation_id for c in live] == [second]


def test_a_reps_file_on_a_host_no_setting_names_is_neither_fetched_nor_linked(
    messaging_bridge: MessagingBridge,
) -> None:
    """A file URL on a host the allow-list does not name: the customer gets the words and a text
    saying a file was not forwarded, never the link."""
    bridge = messaging_bridge
    bridge.sim.rep.greeting = None
    conversation_id = bridge.handoff(SMS_SESSION_ID)
    label = {"contentType": "application/pdf", "contentUrl": "https://files.example.com/label.pdf",
             "content": None, "name": "return-label.pdf", "thumbnailUrl": None}  # fmt: skip
    bridge.sim.rep.say(conversation_id, "Your return label", attachments=[label])
    wait_for(lambda: bool(bridge.opencx.sent_to(SMS_SESSION_ID)), 15, "the message with its notice")
    [sent] = bridge.opencx.sent_to(SMS_SESSION_ID)
    assert "attachments" not in sent.body["message"]
    assert sent.body["message"]["text"] == "Your return label\n[file not forwarded: its host is not allowed]"
    assert "files.example.com" not in json.dumps(sent.body)


def test_a_late_webhook_copy_of_a_recovered_message_is_not_sent_twice(
    messaging_bridge: MessagingBridge,
) -> None:
    bridge = messaging_bridge
    bridge.sim.rep.greeting = None
    bridge.sim.rep.auto_reply = False
    conversation_id = bridge.handoff(SMS_SESSION_ID)
    dropped = bridge.sim.rep.say(conversation_id, "Your case is escalated", drop=True)
    later = _later(get_settings().messaging_reconcile_seconds + 1)
    try:
        assert sweep(later)["added"] == 1
    finally:
        later.close(5)
    wait_for(
        lambda: "Your case is escalated" in _to_customer(bridge, SMS_SESSION_ID), 15, "the recovered message"
    )
    bridge.sim.rep.redeliver(dropped)  # Microsoft's copy arrives after all
    assert bridge.sim.rep.wait_delivered(10)
    _settled(bridge, conversation_id)
    assert _to_customer(bridge, SMS_SESSION_ID).count("Your case is escalated") == 1


def test_the_same_text_lost_once_and_delivered_once_reaches_the_customer_twice(
    messaging_bridge: MessagingBridge,
) -> None:
    bridge = messaging_bridge
    bridge.sim.rep.greeting = None
    bridge.sim.rep.auto_reply = False
    conversation_id = bridge.handoff(SMS_SESSION_ID)
    bridge.sim.rep.say(conversation_id, "ok", drop=True)
    later = _later(get_settings().messaging_reconcile_seconds + 1)
    try:
        assert sweep(later)["added"] == 1  # the first "ok", lost on the webhook
    finally:
        later.close(5)
    wait_for(lambda: "ok" in _to_customer(bridge, SMS_SESSION_ID), 15, "the recovered ok")
    bridge.sim.rep.say(conversation_id, "ok")  # the rep says it again, delivered this time
    assert bridge.sim.rep.wait_delivered(10)
    wait_for(lambda: _to_customer(bridge, SMS_SESSION_ID).count("ok") == 2, 15, "the second ok")
    _settled(bridge, conversation_id)
    assert _to_customer(bridge, SMS_SESSION_ID).count("ok") == 2


def test_customer_words_forwarded_from_history_are_never_echoed_by_the_sweep(
    messaging_bridge: MessagingBridge,
) -> None:
    bridge = messaging_bridge
    bridge.sim.rep.greeting = None
    bridge.sim.rep.auto_reply = False
    conversation_id = bridge.handoff(WEB_SESSION_ID)
    silent = bridge.opencx.customer_reply(WEB_SESSION_ID, "Words only the history holds", include_text=False)
    assert bridge.post_event(silent).status_code == 202
    wait_for(lambda: "Words only the history holds" in _to_rep(bridge, conversation_id), 20, "forwarded")
    _settled(bridge, conversation_id, Direction.TO_REP)
    later = _later(get_settings().messaging_reconcile_seconds + 1)
    try:
        assert sweep(later)["added"] == 0
    finally:
        later.close(5)
    assert "Words only the history holds" not in _to_customer(bridge, WEB_SESSION_ID)


def test_waiting_events_reach_the_customer_once_through_the_outbox_with_the_concierge_on(
    messaging_bridge: MessagingBridge, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Mode messaging, CONCIERGE on: Dynamics' out-of-hours event becomes one message on the
    customer's thread (the availability call fails here: the message goes without a time), a
    redelivery sends nothing more, and AgentAccepted ends the waiting."""
    from helpers import reset_process_caches

    bridge = messaging_bridge
    monkeypatch.setenv("CONCIERGE", "true")
    reset_process_caches()
    bridge.sim.rep.greeting = None
    bridge.sim.rep.auto_reply = False
    bridge.sim.rep.auto_accept = False
    conversation_id = bridge.handoff(SMS_SESSION_ID)
    index = bridge.sim.rep.event(conversation_id, "OutOfOperatingHoursDueToNonWorkingHours")
    assert bridge.sim.rep.wait_delivered(10)
    bridge.sim.rep.redeliver(index)
    assert bridge.sim.rep.wait_delivered(10)
    wait_for(lambda: any("closed now" in t for t in _to_customer(bridge, SMS_SESSION_ID)), 15, "the notice")
    _settled(bridge, conversation_id)
    assert sum("closed now" in t for t in _to_customer(bridge, SMS_SESSION_ID)) == 1
    bridge.sim.rep.event(conversation_id, "AgentAccepted")
    assert bridge.sim.rep.wait_delivered(10)
    wait_for(
        lambda: bridge.deps.links.by_conversation(conversation_id).accepted_at is not None, 15, "accepted"
    )


def test_an_ended_conversations_dedup_rows_are_purged_once_a_day_on(
    messaging_bridge: MessagingBridge,
) -> None:
    from shared.messaging.links import PURGE_AFTER_END_SECONDS
    from shared.messaging.store import conversation_pk

    bridge = messaging_bridge
    bridge.sim.rep.greeting = None
    conversation_id = bridge.handoff(SMS_SESSION_ID)
    bridge.sim.rep.say(conversation_id, "All done")
    bridge.sim.rep.end(conversation_id)
    wait_for(
        lambda: bridge.deps.links.by_conversation(conversation_id).state is LinkState.CLOSED, 20, "closed"
    )

    def dedup_rows() -> int:
        pk = conversation_pk(conversation_id)
        rows = bridge.deps.store.query("PartitionKey eq @pk and RowKey gt @low and RowKey lt @high",
                                       {"pk": pk, "low": "dedup|", "high": "dedup|~"})  # fmt: skip
        return len(rows)

    assert dedup_rows() >= 2  # the message and the end
    assert sweep(bridge.deps)["purged"] == 0  # ended just now: its ids still hold
    later = _later(PURGE_AFTER_END_SECONDS + 1)
    try:
        assert sweep(later)["purged"] >= 2
        assert dedup_rows() == 0
        assert sweep(later)["purged"] == 0  # once
    finally:
        later.close(5)
