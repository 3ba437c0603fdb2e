"""Who drains a conversation's direction now: one drain at a time keeps the order.

A lease row `lock|<dir>` holds a holder id and an expiry. A drain that must wait on purpose (an
upstream asked for a pause) keeps its lease as a *backoff*, so nobody overtakes the entry that
failed, and queues a drain that comes back with the same holder id to take it again. A crashed
drain's lease simply expires (LEASE_SECONDS).
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from shared.messaging.outbox import Direction
from shared.messaging.store import Conflict, MessagingStore, StoreUnavailable, conversation_pk

LEASE_SECONDS = 120.0  # far longer than a drain's budget plus one upstream call


@dataclass(frozen=True)
class Lease:
    conversation_id: str
    direction: Direction
    holder: str
    etag: str


class Busy(Exception):
    """Another drain holds the direction. `backoff` True: it waits on purpose, with a drain queued."""

    def __init__(self, until: float, backoff: bool) -> None:
        super().__init__("busy")
        self.until = until
        self.backoff = backoff


def _rk(direction: Direction) -> str:
    return f"lock|{direction.value}"


class Leases:
    def __init__(self, store: MessagingStore, clock: Callable[[], float]) -> None:
        self.store = store
        self.clock = clock

    def acquire(self, conversation_id: str, direction: Direction, holder: str | None = None) -> Lease:
        """Take the lease, or raise Busy. A holder id given back by a backoff re-takes its own lease."""
        pk, rk = conversation_pk(conversation_id), _rk(direction)
        token = holder or secrets.token_hex(8)
        now = self.clock()
        row = {
            "PartitionKey": pk,
            "RowKey": rk,
            "holder": token,
            "until": now + LEASE_SECONDS,
            "mode": "running",
        }
        current = self.store.get(pk, rk)
        try:
            if current is None:
                return Lease(conversation_id, direction, token, self.store.create(row))
            mine = holder is not None and current.get("holder") == holder
            if not mine and float(current.get("until") or 0) > now:
                raise Busy(float(current["until"]), current.get("mode") == "backoff")
            etag = self.store.update_if(row, str(current["_etag"]), replace=True)
        except Conflict:
            raise Busy(now + LEASE_SECONDS, False) from None
        return Lease(conversation_id, direction, token, etag)

    def release(self, lease: Lease, *, backoff_until: float | None = None) -> None:
        """Free the lease, or keep it as a backoff until `backoff_until` (a drain is queued for then)."""
        pk, rk = conversation_pk(lease.conversation_id), _rk(lease.direction)
        with contextlib.suppress(StoreUnavailable, Conflict):  # it expires by itself
            if backoff_until is None:
                self.store.delete(pk, rk, lease.etag)
                return
            row = {
                "PartitionKey": pk,
                "RowKey": rk,
                "holder": lease.holder,
                "until": backoff_until,
                "mode": "backoff",
            }
            self.store.update_if(row, lease.etag, replace=True)
