"""What the two webhooks do with a message to relay: record it durably, then try to send it at once.

Append the entry (once per dedup key), queue a delayed drain as the safety net, and start a drain
in a background thread (the fast path), so the caller answers at once and Microsoft's 10 s are
never at risk. When the table is down the entry travels in a queue message instead.
"""

from __future__ import annotations

import logging
import os
from enum import StrEnum

from shared.messaging.deps import RelayDeps
from shared.messaging.drain import SAFETY_DRAIN_SECONDS, drain
from shared.messaging.outbox import Entry
from shared.messaging.store import StoreUnavailable
from shared.platform.log import get_logger, log_event
from shared.platform.queues import QueueProfile

logger = get_logger("relay")

# The fast path is on unless this is "false": bench/relay.py turns it off for its queue-only baseline.
FAST_PATH_SWITCH = "MESSAGING_RELAY_FAST_PATH"


class Accepted(StrEnum):
    APPENDED = "appended"
    DUPLICATE = "duplicate"
    QUEUED = "queued"  # the table was down: the entry travels in the queue message


def accept(deps: RelayDeps, entry: Entry, dedup_key: str, *, fast_path: bool = True) -> Accepted:
    """Raises QueueUnavailable when nothing durable could be written (the caller answers 503)."""
    try:
        appended = deps.outbox.append(entry, dedup_key)
    except StoreUnavailable as exc:
        log_event(logger, "relay.table_unavailable", logging.WARNING, error=str(exc))
        deps.queue.carry(entry, dedup_key)
        return Accepted.QUEUED
    if appended.duplicate:
        return Accepted.DUPLICATE
    deps.queue.drain_later(
        entry.conversation_id, entry.direction, SAFETY_DRAIN_SECONDS, profile=QueueProfile.INGRESS
    )
    if fast_path and os.environ.get(FAST_PATH_SWITCH, "true").strip().lower() != "false":
        deps.fast_path.submit(lambda: _fast_drain(deps, entry))
    return Accepted.APPENDED


def _fast_drain(deps: RelayDeps, entry: Entry) -> None:
    try:
        drain(deps, entry.conversation_id, entry.direction, reschedule_busy=False)
    except Exception as exc:  # the queued drain is the safety net; the fast path only saves time
        log_event(logger, "relay.fast_path_failed", logging.WARNING, error=type(exc).__name__)
