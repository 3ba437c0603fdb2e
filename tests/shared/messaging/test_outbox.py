"""The outbox against a real Azurite: arrival order, once per key, the 60 s window for bodies without
an id, ids that hold, purging, claims."""

from __future__ import annotations

import threading
import uuid

import pytest

from shared.messaging.outbox import (
    DEDUP_WINDOW_SECONDS,
    RETENTION_SECONDS,
    Direction,
    Entry,
    EntryState,
)
from shared.messaging.store import Conflict
from shared.platform.times import iso_at


def _entry(deps, conversation: str, text: str, direction: Direction = Direction.TO_CUSTOMER) -> Entry:
    return Entry(conversation, direction, text=text, sender_name="Rep", received_at=iso_at(deps.clock()))


def test_entries_keep_arrival_order_and_each_direction_its_own(relay_deps, clock) -> None:
    deps, conversation = relay_deps, str(uuid.uuid4())
    for text in ("one", "two", "three"):
        deps.outbox.append(_entry(deps, conversation, text), f"id:{text}")
        clock.advance(0.001)
    deps.outbox.append(_entry(deps, conversation, "to the rep", Direction.TO_REP), "id:one")
    assert [e.text for e in deps.outbox.pending(conversation, Direction.TO_CUSTOMER)] == [
        "one",
        "two",
        "three",
    ]
    assert [e.text for e in deps.outbox.pending(conversation, Direction.TO_REP)] == ["to the rep"]


def test_the_same_body_within_the_window_is_a_redelivery(relay_deps, clock) -> None:
    deps, conversation = relay_deps, str(uuid.uuid4())
    first = deps.outbox.append(_entry(deps, conversation, "ok"), "sha256:abc")
    clock.advance(10)  # Microsoft's retry after a 10 s timeout
    again = deps.outbox.append(_entry(deps, conversation, "ok"), "sha256:abc")
    assert (first.duplicate, again.duplicate, again.seq) == (False, True, first.seq)
    assert len(deps.outbox.entries(conversation, Direction.TO_CUSTOMER)) == 1


def test_the_same_body_after_the_window_is_a_new_message(relay_deps, clock) -> None:
    """A rep who types "ok" twice, 61 s apart, reaches the customer twice."""
    deps, conversation = relay_deps, str(uuid.uuid4())
    deps.outbox.append(_entry(deps, conversation, "ok"), "sha256:abc")
    clock.advance(DEDUP_WINDOW_SECONDS + 1)
    second = deps.outbox.append(_entry(deps, conversation, "ok"), "sha256:abc")
    clock.advance(5)
    third = deps.outbox.append(_entry(deps, conversation, "ok"), "sha256:abc")
    assert (second.duplicate, third.duplicate) == (False, True)
    assert [e.text for e in deps.outbox.entries(conversation, Direction.TO_CUSTOMER)] == ["ok", "ok"]


def test_an_id_wins_over_the_window(relay_deps, clock) -> None:
    deps, conversation = relay_deps, str(uuid.uuid4())
    deps.outbox.append(_entry(deps, conversation, "ok"), "id:42")
    clock.advance(DEDUP_WINDOW_SECONDS * 10)
    assert deps.outbox.append(_entry(deps, conversation, "ok"), "id:42").duplicate
    clock.advance(RETENTION_SECONDS)  # past retention the row may be purged; it no longer matches
    assert not deps.outbox.append(_entry(deps, conversation, "ok"), "id:42").duplicate


def test_concurrent_appends_of_one_conversation_all_land_once(relay_deps) -> None:
    deps, conversation = relay_deps, str(uuid.uuid4())
    same_instant = iso_at(deps.clock())
    results: list[int] = []
    lock = threading.Lock()

    def add(index: int) -> None:
        entry = Entry(conversation, Direction.TO_CUSTOMER, text=f"m{index}", received_at=same_instant)
        appended = deps.outbox.append(entry, f"id:{index}")
        with lock:
            results.append(appended.seq)

    threads = [threading.Thread(target=add, args=(index,)) for index in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(results)) == 12  # ties on the same microsecond take the next one
    assert len(deps.outbox.entries(conversation, Direction.TO_CUSTOMER)) == 12


def test_concurrent_redeliveries_append_once(relay_deps) -> None:
    deps, conversation = relay_deps, str(uuid.uuid4())
    duplicates: list[bool] = []

    def add() -> None:
        duplicates.append(deps.outbox.append(_entry(deps, conversation, "hello"), "sha256:same").duplicate)

    threads = [threading.Thread(target=add) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(duplicates) == [False] + [True] * 7
    assert len(deps.outbox.entries(conversation, Direction.TO_CUSTOMER)) == 1


def test_purge_removes_dedup_rows_that_can_no_longer_match(relay_deps, clock) -> None:
    deps, conversation = relay_deps, str(uuid.uuid4())
    deps.outbox.append(_entry(deps, conversation, "a"), "sha256:a")
    deps.outbox.append(_entry(deps, conversation, "b"), "id:b")
    assert deps.outbox.purge(conversation) == 0
    clock.advance(DEDUP_WINDOW_SECONDS + 1)
    assert deps.outbox.purge(conversation) == 1  # the body hash is past its window; the id holds
    clock.advance(RETENTION_SECONDS)
    assert deps.outbox.purge(conversation) == 1
    assert len(deps.outbox.entries(conversation, Direction.TO_CUSTOMER)) == 2  # entries are kept


def test_a_claim_fails_when_the_entry_changed_since_it_was_read(relay_deps) -> None:
    deps, conversation = relay_deps, str(uuid.uuid4())
    deps.outbox.append(_entry(deps, conversation, "x"), "id:x")
    [entry] = deps.outbox.pending(conversation, Direction.TO_CUSTOMER)
    claimed = deps.outbox.claim(entry)
    assert claimed.state is EntryState.SENDING
    with pytest.raises(Conflict):
        deps.outbox.claim(entry)  # the stale ETag
    assert [e.state for e in deps.outbox.pending(conversation, Direction.TO_CUSTOMER)] == [EntryState.SENDING]
