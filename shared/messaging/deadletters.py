"""A relayed message parked for an operator, with the fix and the command that re-drives it."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from shared.messaging.deps import RelayDeps
from shared.messaging.links import Link
from shared.messaging.outbox import Entry, EntryState
from shared.messaging.relay_message import RelayMessage
from shared.platform import telemetry
from shared.platform.deadletter import DeadLetterReason, DeadLetterRecord, dead_letter
from shared.platform.failure import Failure
from shared.platform.log import get_logger, log_event
from shared.platform.masking import scrub_text

logger = get_logger("relay")


def dead_letter_entry(
    deps: RelayDeps, entry: Entry, link: Link | None, failure: Failure, reason: DeadLetterReason
) -> None:
    """Park the entry; `python -m ops.replay redrive` re-drives it with a `resend` message.
    Raises QueueUnavailable (the entry then stays pending and the drain is retried)."""
    queue = deps.settings.messaging_queue
    action = (
        f"{failure.upstream.display_name} refused or kept failing to take a relayed message ({failure.describe()}). "
        f"Fix the cause, then `python -m ops.replay redrive --queue {queue} --session-id <id>`; "
        "a re-driven message reaches the other side after the ones sent meanwhile."
    )
    resend = RelayMessage(
        type="resend", conversationId=entry.conversation_id, direction=entry.direction, seq=entry.seq
    )
    record = DeadLetterRecord(
        reason=reason,
        action=action,
        handoffId=link.handoff_id if link else None,
        sessionId=link.session_id if link else None,
        target=failure.upstream.value,
        lastStatus=failure.status,
        errorCode=failure.code,
        errorMessage=scrub_text(failure.message)[:500] if failure.message else None,
        attempts=max(1, entry.attempts),
        lastAttemptAt=datetime.now(UTC),
        message=resend.model_dump(mode="json", exclude_none=True),
    )
    dead_letter(record, queue)
    deps.outbox.update(entry, state=EntryState.DEAD, attempts=entry.attempts, lastStatus=failure.status or 0)
    telemetry.count("relay.dead_lettered", reason=reason.value, target=failure.upstream.value)
    log_event(
        logger, "relay.dead_lettered", logging.ERROR, conversationId=entry.conversation_id,
        direction=entry.direction.value, seq=entry.seq, reason=reason.value, target=failure.upstream.value,
        status=failure.status,
    )  # fmt: skip
