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

from shared.messaging import relay
from shared.messaging.relay_message import RelayMessage
from shared.platform.deadletter import DeadLetterReason, dead_letter, make_record
from shared.platform.log import get_logger, log_event
from shared.platform.settings import get_settings

logger = get_logger("relay_queue")


def clients() -> relay.Clients:
    from shared.messaging.factory import messaging_client, relay_opencx_client

    return relay.Clients(opencx=relay_opencx_client(), messaging=messaging_client())


def process_message(msg: func.QueueMessage) -> str | None:
    settings = get_settings()
    raw = msg.get_body().decode("utf-8", errors="replace")
    try:
        message = RelayMessage.model_validate_json(raw)
    except ValidationError:
        record = make_record(
            DeadLetterReason.INVALID_MESSAGE, status=None, error_code=None,
            error_message="not a relay message", attempts=1, lastAttemptAt=datetime.now(UTC), rawMessage=raw,
        )  # fmt: skip
        dead_letter(record, settings.messaging_queue)  # to <MESSAGING_QUEUE>-deadletter, raw bounded
        log_event(logger, "relay.dead_lettered", logging.ERROR, reason="invalid_message")
        return None
    done = relay.handle(message, settings, clients())
    log_event(logger, "relay.drain", conversationId=message.conversationId, direction=message.direction.value,
              outcome=done)  # fmt: skip
    return done
