"""The drain lease against a real Azurite: one holder, backoffs kept for their holder, expiry."""

from __future__ import annotations

import uuid

import pytest

from shared.messaging.lease import LEASE_SECONDS, Busy
from shared.messaging.outbox import Direction


def test_one_holder_at_a_time_and_free_after_release(relay_deps) -> None:
    deps, conversation = relay_deps, str(uuid.uuid4())
    lease = deps.leases.acquire(conversation, Direction.TO_CUSTOMER)
    with pytest.raises(Busy) as busy:
        deps.leases.acquire(conversation, Direction.TO_CUSTOMER)
    assert not busy.value.backoff
    deps.leases.acquire(conversation, Direction.TO_REP)  # the other direction is its own
    deps.leases.release(lease)
    deps.leases.acquire(conversation, Direction.TO_CUSTOMER)


def test_a_backoff_is_kept_for_its_holder_only(relay_deps, clock) -> None:
    deps, conversation = relay_deps, str(uuid.uuid4())
    lease = deps.leases.acquire(conversation, Direction.TO_CUSTOMER)
    deps.leases.release(lease, backoff_until=clock() + 30)
    with pytest.raises(Busy) as busy:
        deps.leases.acquire(conversation, Direction.TO_CUSTOMER)
    assert busy.value.backoff
    again = deps.leases.acquire(conversation, Direction.TO_CUSTOMER, holder=lease.holder)
    assert again.holder == lease.holder


def test_a_crashed_holders_lease_is_taken_over_after_it_expires(relay_deps, clock) -> None:
    deps, conversation = relay_deps, str(uuid.uuid4())
    deps.leases.acquire(conversation, Direction.TO_CUSTOMER)  # never released: the drain crashed
    clock.advance(LEASE_SECONDS + 1)
    taken = deps.leases.acquire(conversation, Direction.TO_CUSTOMER)
    assert taken.holder


def test_a_release_with_a_stale_etag_changes_nothing(relay_deps, clock) -> None:
    deps, conversation = relay_deps, str(uuid.uuid4())
    first = deps.leases.acquire(conversation, Direction.TO_CUSTOMER)
    clock.advance(LEASE_SECONDS + 1)
    second = deps.leases.acquire(conversation, Direction.TO_CUSTOMER)
    deps.leases.release(first)  # the crashed drain wakes up: it must not free the new holder's lease
    with pytest.raises(Busy):
        deps.leases.acquire(conversation, Direction.TO_CUSTOMER)
    deps.leases.release(second)
