"""The relay's queue function body: parse the message, drain, and let the host retry on an outage.

A message that is not a relay message is dead-lettered at once (it can never succeed). A table or
queue outage raises: the host makes the message visible again and, after maxDequeueCount, moves it
to `-poison`; the outbox still holds every entry, so the next drain sends them.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import azure.functions as func
from pydantic import ValidationError

from shared.messaging.deps import RelayDeps, process_deps
from shared.messaging.drain import DrainOutcome, drain
from shared.messaging.outbox import Entry, EntryState
from shared.messaging.relay_message import RelayMessage
from shared.platform.deadletter import DeadLetterReason, dead_letter, make_record
from shared.platform.log import get_logger, log_event

logger = get_logger("relay_queue")


def handle(message: RelayMessage, deps: RelayDeps) -> DrainOutcome | None:
    """One queue message: append what it carries, re-open what it re-drives, then drain.
    None: a carried entry that was already appended (a redelivered queue message)."""
    if message.type == "activity" and message.entry is not None:
        entry = Entry.from_fields(message.conversationId, message.direction, message.entry)
        if deps.outbox.append(entry, message.dedupKey or "").duplicate:
            return None
    if message.type == "resend" and message.seq is not None:
        found = deps.outbox.get(message.conversationId, message.direction, message.seq)
        if found is not None and found.state is EntryState.DEAD:
            deps.outbox.update(found, state=EntryState.PENDING, attempts=0)
    return drain(deps, message.conversationId, message.direction, holder=message.holder)


def process_message(msg: func.QueueMessage) -> DrainOutcome | None:
    deps = process_deps()
    raw = msg.get_body().decode("utf-8", errors="replace")
    try:
        message = RelayMessage.model_validate_json(raw)
    except ValidationError:
        record = make_record(
            DeadLetterReason.INVALID_MESSAGE, status=None, error_code=None,
            error_message="not a relay message", attempts=1, lastAttemptAt=datetime.now(UTC), rawMessage=raw,
        )  # fmt: skip
        dead_letter(record, deps.settings.messaging_queue)  # to <MESSAGING_QUEUE>-deadletter, raw bounded
        log_event(logger, "relay.dead_lettered", logging.ERROR, reason="invalid_message")
        return None
    done = handle(message, deps)
    log_event(logger, "relay.drain", conversationId=message.conversationId, direction=message.direction.value,
              outcome=done.value if done else "duplicate")  # fmt: skip
    return done
