"""The messaging table against a real Azurite: one sequence per direction, once per dedup key, a lock."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import pytest

from shared.messaging import mapping
from shared.messaging.mapping import Busy, Direction, Entry, EntryState


@pytest.fixture
def table(bridge_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    from helpers import reset_process_caches

    name = "msg" + uuid.uuid4().hex[:12]
    monkeypatch.setenv("MESSAGING_TABLE", name)
    reset_process_caches()
    mapping.reset()
    yield name
    mapping.reset()


def _entry(conversation: str, text: str) -> Entry:
    return Entry(conversation, Direction.TO_CUSTOMER, 0, "message", text=text, sender_name="Rep")


def test_appends_number_in_order_and_redeliveries_change_nothing(table: str) -> None:
    conversation = str(uuid.uuid4())
    first = mapping.append(_entry(conversation, "one"), "id:1")
    second = mapping.append(_entry(conversation, "two"), "id:2")
    again = mapping.append(_entry(conversation, "one, redelivered"), "id:1")
    assert (first.seq, first.duplicate) == (1, False)
    assert (second.seq, second.duplicate) == (2, False)
    assert (again.seq, again.duplicate) == (1, True)
    pending = mapping.entries(conversation, Direction.TO_CUSTOMER)
    assert [(e.seq, e.text) for e in pending] == [(1, "one"), (2, "two")]
    # The other direction has its own numbering.
    other = Entry(conversation, Direction.TO_REP, 0, "message", text="hi")
    assert mapping.append(other, "id:1").seq == 1


def test_concurrent_appends_never_share_a_number(table: str) -> None:
    conversation = str(uuid.uuid4())
    results: list[int] = []
    lock = threading.Lock()

    def add(index: int) -> None:
        appended = mapping.append(_entry(conversation, f"m{index}"), f"id:{index}")
        with lock:
            results.append(appended.seq)

    threads = [threading.Thread(target=add, args=(index,)) for index in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == list(range(1, 13))


def test_sent_entries_leave_the_pending_list(table: str) -> None:
    conversation = str(uuid.uuid4())
    mapping.append(_entry(conversation, "one"), "id:1")
    mapping.append(_entry(conversation, "two"), "id:2")
    first = mapping.entries(conversation, Direction.TO_CUSTOMER)[0]
    mapping.update_entry(first, state=EntryState.SENT)
    assert [e.seq for e in mapping.entries(conversation, Direction.TO_CUSTOMER)] == [2]
    assert len(mapping.entries(conversation, Direction.TO_CUSTOMER, state=None)) == 2


def test_the_lock_is_exclusive_until_released_and_a_backoff_is_kept_for_its_holder(table: str) -> None:
    conversation = str(uuid.uuid4())
    lock = mapping.acquire(conversation, Direction.TO_CUSTOMER)
    with pytest.raises(Busy) as busy:
        mapping.acquire(conversation, Direction.TO_CUSTOMER)
    assert busy.value.backoff is False
    mapping.release(lock, backoff_until=lock_time() + 30)
    with pytest.raises(Busy) as waiting:
        mapping.acquire(conversation, Direction.TO_CUSTOMER)
    assert waiting.value.backoff is True
    again = mapping.acquire(conversation, Direction.TO_CUSTOMER, holder=lock.holder)
    mapping.release(again)
    mapping.release(mapping.acquire(conversation, Direction.TO_CUSTOMER))


def lock_time() -> float:
    import time

    return time.time()


def test_mapping_both_ways_and_closing(table: str) -> None:
    session, conversation = str(uuid.uuid4()), str(uuid.uuid4())
    assert mapping.session_mapping(session) is None
    mapping.record_mapping(session, conversation, "h-1", "sms")
    found = mapping.session_mapping(session)
    assert found is not None and found.conversation_id == conversation and found.state == "open"
    back = mapping.conversation_mapping(conversation)
    assert back is not None and back.session_id == session and back.handoff_id == "h-1"
    mapping.record_progress(conversation, Direction.TO_CUSTOMER, 3)
    mapping.record_progress(conversation, Direction.TO_REP, 2)
    counted = mapping.conversation_mapping(conversation)
    assert counted is not None and (counted.to_customer, counted.to_rep) == (3, 2)
    mapping.mark_closed(counted, "rep")
    closed = mapping.session_mapping(session)
    assert closed is not None and closed.state == "closed"
