"""Draining one direction of a conversation's outbox: send what is pending, in order, once each.

Under the direction's lease, each pending entry is claimed (ETag), sent, and marked sent. A
transient failure keeps the lease as a *backoff* (nobody overtakes the failed entry) and queues a
drain for when it ends. A permanent failure, or a spent budget, dead-letters that entry to
`<MESSAGING_QUEUE>-deadletter` and the drain goes on. A customer message that meets a conversation
Dynamics ended silently moves, with those behind it, to the conversation that continues it.

Once each: a sent entry is never sent again. The one gap is a crash after OpenCX accepted a send
and before the entry was marked sent (OpenCX's send has no idempotency key): the next try looks in
the session's history first. Never lost: an entry stays pending until sent, moved or dead-lettered.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from enum import StrEnum
from typing import Any

from shared.messaging.continuation import continue_conversation
from shared.messaging.deadletters import dead_letter_entry
from shared.messaging.deps import RelayDeps
from shared.messaging.lease import LEASE_SECONDS, Busy, Lease
from shared.messaging.links import Link
from shared.messaging.outbox import Direction, Entry, EntryKind, EntryState
from shared.messaging.sending import Delivered, Restart, deliver
from shared.messaging.store import Conflict
from shared.platform import telemetry
from shared.platform.deadletter import DeadLetterReason
from shared.platform.failure import Failure, FailureKind, Upstream
from shared.platform.log import get_logger, log_event
from shared.platform.retry_policy import Outcome, retry_delay_seconds
from shared.platform.times import instant, iso_at

logger = get_logger("relay")

SAFETY_DRAIN_SECONDS = 5  # the queued drain behind every fast path
UNMAPPED_FIRST_LOOK_SECONDS = 1  # a rep's greeting can arrive a moment before the mapping is written
UNMAPPED_LONGEST_WAIT_SECONDS = 60
UNMAPPED_GIVE_UP_SECONDS = 600.0
DRAIN_BUDGET_SECONDS = 20.0  # then the lease is released and a fresh drain queued
MAX_ROUNDS = 50


class DrainOutcome(StrEnum):
    IDLE = "idle"  # nothing was pending
    DRAINED = "drained"  # everything pending was sent (or moved on, or dead-lettered)
    BUSY = "busy"  # another drain holds the lease; a drain is queued for when it expires
    WAITING = "waiting"  # a backoff holds the lease on purpose, with its own drain queued
    RETRYING = "retrying"  # an entry failed transiently: the lease is kept as a backoff
    UNMAPPED = "unmapped"  # the conversation is not known (yet): looked at again later
    GAVE_UP = "gave_up"  # never known after UNMAPPED_GIVE_UP_SECONDS: dead-lettered
    CONTINUED = "continued"  # the budget or the rounds ran out: a fresh drain is queued
    CLAIMED_ELSEWHERE = "claimed_elsewhere"  # a drain that lost its lease is still on an entry
    MOVED = "moved"  # the conversation ended silently: the customer's messages moved on


def unmapped_delay(age_seconds: float) -> int:
    """1 s, then doubling up to a minute: a conversation the bridge never started (another system's,
    a probe's) is looked at about 15 times over UNMAPPED_GIVE_UP_SECONDS."""
    delay = UNMAPPED_FIRST_LOOK_SECONDS
    while delay < age_seconds / 2 and delay < UNMAPPED_LONGEST_WAIT_SECONDS:
        delay *= 2
    return min(delay, UNMAPPED_LONGEST_WAIT_SECONDS)


def drain(
    deps: RelayDeps,
    conversation_id: str,
    direction: Direction,
    *,
    holder: str | None = None,
    reschedule_busy: bool = True,
) -> DrainOutcome:
    """Raises StoreUnavailable / QueueUnavailable: the queue message is then retried by the host,
    and nothing is lost."""
    for _ in range(MAX_ROUNDS):
        if not deps.outbox.pending(conversation_id, direction):
            return DrainOutcome.IDLE
        try:
            lease = deps.leases.acquire(conversation_id, direction, holder)
        except Busy as busy:
            if busy.backoff:
                return DrainOutcome.WAITING
            if reschedule_busy:  # a running drain re-checks before it lets go; this covers its crash
                deps.queue.drain_later(conversation_id, direction, max(1, int(busy.until - deps.clock()) + 1))
            return DrainOutcome.BUSY
        holder = None
        # Read again under the lease: an entry sent by the drain that held it is no longer pending.
        outcome, backoff = _drain_leased(deps, lease, deps.outbox.pending(conversation_id, direction))
        if backoff is not None:
            deps.leases.release(lease, backoff_until=deps.clock() + max(0.0, backoff - 0.5))
            deps.queue.drain_later(conversation_id, direction, backoff, holder=lease.holder)
            return outcome
        deps.leases.release(lease)
        if outcome is DrainOutcome.CONTINUED:
            deps.queue.drain_later(conversation_id, direction)
            return outcome
        if outcome in (DrainOutcome.MOVED, DrainOutcome.GAVE_UP):
            return outcome
        # Entries appended while we held the lease are picked up by the next round.
    deps.queue.drain_later(conversation_id, direction)
    return DrainOutcome.CONTINUED


def _drain_leased(deps: RelayDeps, lease: Lease, pending: list[Entry]) -> tuple[DrainOutcome, int | None]:
    """(what happened, a backoff in seconds or None)."""
    if not pending:
        return DrainOutcome.DRAINED, None
    conversation_id, direction = lease.conversation_id, lease.direction
    link = deps.links.by_conversation(conversation_id)
    if link is None:
        return _unmapped(deps, pending)
    count = link.to_customer if direction is Direction.TO_CUSTOMER else link.to_rep
    files = link.files_to_customer if direction is Direction.TO_CUSTOMER else link.files_to_rep
    refused = link.files_refused  # both directions' drains may write it: a count for operators, not a ledger
    started = time.monotonic()
    for entry in pending:
        if time.monotonic() - started > DRAIN_BUDGET_SECONDS:
            return DrainOutcome.CONTINUED, None
        if entry.state is EntryState.SENDING and deps.clock() - (entry.claimed_at or 0) < LEASE_SECONDS:
            return DrainOutcome.CLAIMED_ELSEWHERE, int(LEASE_SECONDS)  # a drain that lost its lease is on it
        # Tried before (an answer lost, a crash mid-send): whether the customer has it must be looked up.
        tried_before = entry.attempts > 0 or entry.state is EntryState.SENDING
        try:
            entry = deps.outbox.claim(entry)
        except Conflict:
            return DrainOutcome.CLAIMED_ELSEWHERE, 1
        with telemetry.span(
            "messaging.relay", entry.traceparent, "consumer", conversationId=conversation_id,
            direction=direction.value, seq=entry.seq, entryKind=entry.kind.value,
        ) as span:  # fmt: skip
            result = deliver(deps, entry, link, tried_before=tried_before)
            if isinstance(result, Failure):
                span.set_attribute("outcome", result.kind.value)
                span.set_attribute("status", result.status or 0)
            else:
                span.set_attribute("outcome", type(result).__name__.lower())
        if isinstance(result, Restart):
            deps.outbox.update(entry, state=EntryState.PENDING)
            return DrainOutcome.CONTINUED, None  # the entries found lost go first, in a fresh drain
        if isinstance(result, Delivered):
            count += result.forwarded
            deps.outbox.update(entry, state=EntryState.SENT, sentAt=iso_at(deps.clock()), attempts=entry.attempts + 1,
                               messageId=result.message_id, twin=True if result.twin else None)  # fmt: skip
            files, refused = files + result.files, refused + len(result.refused)
            deps.links.record_count(conversation_id, direction, count, **result.notes, **_file_notes(
                direction, files, refused, result))  # fmt: skip
            _log_sent(deps, entry, link, result)
            if entry.kind is EntryKind.END:
                deps.links.close(
                    link, "rep" if direction is Direction.TO_CUSTOMER else "customer", now=deps.clock()
                )
            continue
        if result.kind is FailureKind.GONE and direction is Direction.TO_REP:
            moved = continue_conversation(deps, link)
            if isinstance(moved, Failure):
                result = moved  # the continuation itself failed: retried like any failure below
            else:
                deps.queue.drain_later(moved, Direction.TO_REP)
                return DrainOutcome.MOVED, None
        decided = _after_failure(deps, entry, link, result)
        if decided is not None:
            return decided
    return DrainOutcome.DRAINED, None


def _after_failure(
    deps: RelayDeps, entry: Entry, link: Link, failure: Failure
) -> tuple[DrainOutcome, int | None] | None:
    """None: the entry was dead-lettered and the drain goes on. Else the drain stops, backing off."""
    if failure.outcome is Outcome.PERMANENT:
        dead_letter_entry(deps, entry, link, failure, DeadLetterReason.PERMANENT_ERROR)
        return None
    attempts = entry.attempts + (0 if failure.kind is FailureKind.THROTTLED else 1)
    too_old = _age_seconds(deps, entry.received_at) > deps.settings.max_age_seconds
    if too_old or attempts >= deps.settings.max_attempts:
        reason = DeadLetterReason.TOO_OLD if too_old else DeadLetterReason.ATTEMPTS_EXHAUSTED
        dead_letter_entry(deps, replace(entry, attempts=attempts), link, failure, reason)
        return None
    deps.outbox.update(entry, state=EntryState.PENDING, attempts=attempts, lastStatus=failure.status or 0)
    delay = retry_delay_seconds(attempts, failure.retry_after)
    log_event(
        logger, "relay.retrying", logging.WARNING, conversationId=entry.conversation_id,
        direction=entry.direction.value, seq=entry.seq, status=failure.status, failure=failure.kind.value,
        delaySeconds=delay, target=failure.upstream.value,
    )  # fmt: skip
    telemetry.count("relay.retried", target=failure.upstream.value, failure=failure.kind.value)
    return DrainOutcome.RETRYING, delay


def _unmapped(deps: RelayDeps, pending: list[Entry]) -> tuple[DrainOutcome, int | None]:
    oldest = _age_seconds(deps, pending[0].received_at)
    if oldest < UNMAPPED_GIVE_UP_SECONDS:
        return DrainOutcome.UNMAPPED, unmapped_delay(oldest)
    unknown = Failure(Upstream.MESSAGING, FailureKind.GONE, message="a conversation the bridge never started")
    for entry in pending:
        dead_letter_entry(deps, entry, None, unknown, DeadLetterReason.PERMANENT_ERROR)
    return DrainOutcome.GAVE_UP, None


def _file_notes(direction: Direction, files: int, refused: int, result: Delivered) -> dict[str, Any]:
    """The link's file counts (shown in /api/status), written only when this entry had files."""
    if not result.files and not result.refused:
        return {}
    name = "filesToCustomer" if direction is Direction.TO_CUSTOMER else "filesToRep"
    notes: dict[str, Any] = {name: files}
    if result.refused:
        notes |= {"filesRefused": refused, "lastFileRefusal": result.refused[-1].value}
    return notes


def _log_sent(deps: RelayDeps, entry: Entry, link: Link, result: Delivered) -> None:
    name = "relay.to_customer" if entry.direction is Direction.TO_CUSTOMER else "relay.to_rep"
    telemetry.count(name, kind=entry.kind.value, already=result.already)
    log_event(
        logger, name, conversationId=link.conversation_id, sessionId=link.session_id, handoffId=link.handoff_id,
        seq=entry.seq, kind=entry.kind.value, attempts=entry.attempts + 1, forwarded=result.forwarded,
        alreadyDelivered=result.already, relayLatencyMs=round(_age_seconds(deps, entry.received_at) * 1000),
    )  # fmt: skip


def _age_seconds(deps: RelayDeps, at: str | None) -> float:
    moment = instant(at)
    return 0.0 if moment is None else max(0.0, deps.clock() - moment)
