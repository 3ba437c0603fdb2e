"""Every branch of the drain, rep -> customer, against a real Azurite and the OpenCX simulator over
HTTP, with the relay's own dependency set and a clock the test moves."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from helpers import queue_messages

from devtools.opencx_sim import SMS_SESSION_ID, FaultRule
from shared.messaging import drain as drain_module
from shared.messaging.drain import UNMAPPED_GIVE_UP_SECONDS, DrainOutcome, drain, unmapped_delay
from shared.messaging.lease import LEASE_SECONDS, Busy
from shared.messaging.outbox import Direction, Entry, EntryState
from shared.messaging.store import conversation_pk
from shared.platform.times import iso_at

C = Direction.TO_CUSTOMER


@pytest.fixture
def relay(opencx, relay_deps):  # the OpenCX simulator's settings first, then the relay's set
    return relay_deps


def _conversation(deps, *, mapped: bool = True) -> str:
    conversation = str(uuid.uuid4())
    if mapped:
        deps.links.record(SMS_SESSION_ID, conversation, "h-1", "sms", now=deps.clock())
    return conversation


def _say(deps, conversation: str, *texts: str) -> None:
    for text in texts:
        entry = Entry(conversation, C, text=text, sender_name="Rep", received_at=iso_at(deps.clock()))
        deps.outbox.append(entry, f"id:{uuid.uuid4()}")
        deps.clock.advance(0.01)


def _states(deps, conversation: str) -> list[tuple[str, EntryState]]:
    return [(e.text or "", e.state) for e in deps.outbox.entries(conversation, C)]


def _queued(deps) -> list[dict]:
    """The drains queued to run now (visible messages)."""
    return [json.loads(text) for text in queue_messages(deps.settings.storage.connection_string,
                                                         deps.settings.messaging_queue)]  # fmt: skip


def _queued_count(deps) -> int:
    """Every drain queued, delayed ones included (a peek does not see those)."""
    from azure.core.exceptions import ResourceNotFoundError
    from azure.storage.queue import QueueClient

    client = QueueClient.from_connection_string(
        deps.settings.storage.connection_string, deps.settings.messaging_queue
    )
    try:
        return int(client.get_queue_properties().approximate_message_count or 0)
    except ResourceNotFoundError:
        return 0


def _dead_letters(deps) -> list[dict]:
    queue = deps.settings.messaging_queue + "-deadletter"
    return [json.loads(text) for text in queue_messages(deps.settings.storage.connection_string, queue)]


def test_pending_entries_are_sent_in_order_once_and_counted(relay, opencx) -> None:
    deps = relay
    conversation = _conversation(deps)
    _say(deps, conversation, "one", "two", "three")
    assert drain(deps, conversation, C) is DrainOutcome.IDLE  # sent, then nothing pending
    assert [m.text for m in opencx.sent_to(SMS_SESSION_ID)] == ["one", "two", "three"]
    assert {state for _, state in _states(deps, conversation)} == {EntryState.SENT}
    assert deps.links.by_conversation(conversation).to_customer == 3
    assert drain(deps, conversation, C) is DrainOutcome.IDLE
    assert len(opencx.sent_to(SMS_SESSION_ID)) == 3


def test_a_transient_failure_keeps_the_lease_as_a_backoff_and_queues_its_holder(relay, opencx) -> None:
    deps = relay
    conversation = _conversation(deps)
    _say(deps, conversation, "one", "two")
    opencx.add_fault(FaultRule(kind="status", operation="send", status=503, times=1))
    assert drain(deps, conversation, C) is DrainOutcome.RETRYING
    assert opencx.sent_to(SMS_SESSION_ID) == []  # nothing overtook the failed entry
    with pytest.raises(Busy) as busy:
        deps.leases.acquire(conversation, C)
    assert busy.value.backoff
    assert _queued_count(deps) == 1  # the backoff's own drain, delayed until the retry time
    holder = deps.store.get(conversation_pk(conversation), "lock|c")["holder"]
    assert drain(deps, conversation, C) is DrainOutcome.WAITING  # another drain waits for the backoff
    assert drain(deps, conversation, C, holder=holder) is DrainOutcome.IDLE
    assert [m.text for m in opencx.sent_to(SMS_SESSION_ID)] == ["one", "two"]


def test_a_refused_entry_is_dead_lettered_and_the_next_one_still_goes(relay, opencx) -> None:
    deps = relay
    conversation = _conversation(deps)
    _say(deps, conversation, "refused", "fine")
    opencx.add_fault(FaultRule(kind="status", operation="send", status=400, times=1))
    assert drain(deps, conversation, C) is DrainOutcome.IDLE
    assert [m.text for m in opencx.sent_to(SMS_SESSION_ID)] == ["fine"]
    assert _states(deps, conversation) == [("refused", EntryState.DEAD), ("fine", EntryState.SENT)]
    [record] = _dead_letters(deps)
    assert (record["reason"], record["target"], record["lastStatus"]) == ("permanent_error", "opencx", 400)
    assert record["message"]["type"] == "resend" and "redrive" in record["action"]


def test_attempts_spent_dead_letter_the_entry(relay, opencx) -> None:
    deps = relay
    conversation = _conversation(deps)
    _say(deps, conversation, "flaky")
    [entry] = deps.outbox.pending(conversation, C)
    deps.outbox.update(entry, attempts=deps.settings.max_attempts - 1)
    opencx.add_fault(FaultRule(kind="status", operation="send", status=503, times=1))
    opencx.add_fault(FaultRule(kind="status", operation="list_history", status=503))  # cannot look it up
    assert drain(deps, conversation, C) is DrainOutcome.IDLE
    [record] = _dead_letters(deps)
    assert record["reason"] == "attempts_exhausted"


def test_a_retried_send_found_in_the_history_is_not_sent_again(relay, opencx) -> None:
    deps = relay
    conversation = _conversation(deps)
    _say(deps, conversation, "Your parcel left today")
    [entry] = deps.outbox.pending(conversation, C)
    deps.outbox.update(entry, attempts=1)  # an earlier try whose answer was lost...
    opencx.add_message(
        SMS_SESSION_ID, "Your parcel left today", sender_type="human_agent"
    )  # ...reached OpenCX
    deps.clock.now = max(deps.clock.now, time.time())
    assert drain(deps, conversation, C) is DrainOutcome.IDLE
    assert opencx.sent_to(SMS_SESSION_ID) == []
    assert _states(deps, conversation) == [("Your parcel left today", EntryState.SENT)]


def test_an_unknown_conversation_is_looked_at_ever_less_often_then_dead_lettered(relay, opencx) -> None:
    deps = relay
    conversation = _conversation(deps, mapped=False)
    _say(deps, conversation, "hello?")
    assert drain(deps, conversation, C) is DrainOutcome.UNMAPPED
    deps.clock.advance(LEASE_SECONDS)  # past the backoff
    deps.clock.advance(UNMAPPED_GIVE_UP_SECONDS)
    assert drain(deps, conversation, C) is DrainOutcome.GAVE_UP
    assert _states(deps, conversation) == [("hello?", EntryState.DEAD)]
    assert _dead_letters(deps)[0]["reason"] == "permanent_error"


def test_an_unknown_conversation_costs_about_fifteen_looks_over_ten_minutes() -> None:
    looks, age = 0, 0.0
    while age < UNMAPPED_GIVE_UP_SECONDS:
        looks += 1
        age += unmapped_delay(age)
    assert 10 <= looks <= 20
    assert unmapped_delay(0) == 1 and unmapped_delay(10_000) == 60


def test_a_spent_budget_hands_over_to_a_fresh_drain(relay, opencx, monkeypatch) -> None:
    deps = relay
    conversation = _conversation(deps)
    _say(deps, conversation, "one")
    monkeypatch.setattr(drain_module, "DRAIN_BUDGET_SECONDS", -1.0)
    assert drain(deps, conversation, C) is DrainOutcome.CONTINUED
    assert any(m["conversationId"] == conversation and not m.get("holder") for m in _queued(deps))
    assert opencx.sent_to(SMS_SESSION_ID) == []


def test_the_round_cap_hands_over_to_a_fresh_drain(relay, opencx, monkeypatch) -> None:
    deps = relay
    conversation = _conversation(deps)
    _say(deps, conversation, "one")
    monkeypatch.setattr(drain_module, "MAX_ROUNDS", 0)
    assert drain(deps, conversation, C) is DrainOutcome.CONTINUED
    assert any(m["conversationId"] == conversation for m in _queued(deps))


def test_an_entry_another_drain_is_sending_is_left_to_it(relay, opencx) -> None:
    deps = relay
    conversation = _conversation(deps)
    _say(deps, conversation, "one")
    [entry] = deps.outbox.pending(conversation, C)
    deps.outbox.claim(entry)  # a drain whose lease expired under it is still on this entry
    assert drain(deps, conversation, C) is DrainOutcome.CLAIMED_ELSEWHERE
    assert opencx.sent_to(SMS_SESSION_ID) == []


def test_a_busy_lease_queues_a_drain_for_when_it_expires_unless_on_the_fast_path(relay, opencx) -> None:
    deps = relay
    conversation = _conversation(deps)
    _say(deps, conversation, "one")
    deps.leases.acquire(conversation, C)
    assert drain(deps, conversation, C, reschedule_busy=False) is DrainOutcome.BUSY
    assert _queued_count(deps) == 0
    assert drain(deps, conversation, C) is DrainOutcome.BUSY
    assert _queued_count(deps) == 1


def test_nothing_pending_is_idle_without_touching_the_lease(relay) -> None:
    deps = relay
    conversation = _conversation(deps)
    assert drain(deps, conversation, C) is DrainOutcome.IDLE
    deps.leases.acquire(conversation, C)  # nobody took it
