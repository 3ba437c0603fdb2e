"""Act on one queued handoff: deliver it, then record success, wait, retry or dead-letter.

A transient failure re-enqueues the message (with what OpenCX already told us) with `attempt+1`
and a visibility delay, then completes, so the host never holds a throttled message. A 429 waits
without spending an attempt, bounded by HANDOFF_MAX_AGE_SECONDS instead. A permanent failure, or
a spent budget, writes a dead-letter record. Anything unexpected raises: the host retries and
finally moves the message to `-poison`, and nothing is lost.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import azure.functions as func
from pydantic import ValidationError

from retry_queue.delivery import Delivered, Failed, Step, deliver, handoff_of
from shared.dynamics.dataverse import DataverseClient, dataverse_client
from shared.opencx.client import OpenCXClient, opencx_client
from shared.opencx.handoff_message import (
    DEADLETTER_EMBED_BYTES,
    AttemptRecord,
    HandoffMessage,
    fit_to_budget,
    parse_message,
)
from shared.platform import telemetry
from shared.platform.deadletter import DeadLetterReason, dead_letter, make_record
from shared.platform.failure import Failure, Upstream
from shared.platform.log import get_logger, log_event
from shared.platform.masking import redact_known
from shared.platform.queues import QueueProfile, queue_client, send
from shared.platform.retry_policy import Outcome, retry_delay_seconds
from shared.platform.settings import Settings, get_settings
from shared.platform.status_store import Status, StoreUnavailable, record_status

logger = get_logger("worker")
ERROR_EXCERPT_MAX = 300


def _dimensions(message: HandoffMessage) -> dict[str, object]:
    enrichment = message.enrichment
    return {
        "handoffId": message.handoffId,
        "sessionId": message.event.conversation_id,
        "channel": enrichment.channel if enrichment else None,
        "attempt": message.attempt,
        "throttled": message.throttled,
    }


def _known_texts(message: HandoffMessage) -> list[str]:
    """The customer texts this handoff carries, to keep out of stored error excerpts."""
    texts = [message.event.summary or ""]
    if message.enrichment is not None:
        customer = message.enrichment.customer
        texts += [customer.name or "", message.enrichment.summary or ""]
        texts += [line.text for line in message.enrichment.transcript]
    return texts


def _excerpt(message: HandoffMessage, failure: Failure) -> str | None:
    text = failure.message
    return redact_known(text, _known_texts(message))[:ERROR_EXCERPT_MAX] if text else None


def _store(message: HandoffMessage, status: Status, failure: Failure | None = None, **fields: object) -> None:
    """Record the outcome for support. The store is an aid: its failure is logged, never raised."""
    if failure is not None:
        fields.update(
            lastErrorTarget=failure.upstream.value,
            lastErrorStatus=failure.status,
            lastErrorCode=failure.code,
            lastErrorMessage=_excerpt(message, failure),
        )
    enrichment = message.enrichment
    try:
        record_status(
            message.event.conversation_id,
            message.handoffId,
            status,
            channel=enrichment.channel if enrichment else None,
            receivedAt=message.receivedAt.isoformat(timespec="milliseconds"),
            attempts=message.attempt + 1,
            throttled=message.throttled,
            **fields,
        )
    except StoreUnavailable as exc:
        log_event(logger, "status_store.unavailable", logging.WARNING, **_dimensions(message), error=str(exc))


def _record_success(message: HandoffMessage, step: Delivered, now: datetime) -> None:
    channel = message.enrichment.channel if message.enrichment else None
    _store(message, step.status, None, **step.fields, createdAt=now.isoformat(timespec="milliseconds"))
    latency_ms = (now - message.receivedAt).total_seconds() * 1000
    if step.status is Status.DUPLICATE:
        telemetry.count("handoffs.duplicate", channel=channel)
        log_event(logger, "handoff.duplicate_of", **_dimensions(message), outcome="duplicate", **step.fields)
        return
    if step.new_row:
        telemetry.count("handoffs.created", channel=channel)
        telemetry.record_e2e_latency(latency_ms, channel=channel)
    log_event(
        logger,
        "handoff.created",
        **_dimensions(message),
        outcome="created",
        alreadyExisted=not step.new_row,
        status=step.answer_status,
        e2eLatencyMs=round(latency_ms),
        **step.fields,
    )


def _dead_letter_reason(failure: Failure) -> DeadLetterReason:
    if failure.upstream is Upstream.OPENCX:
        return {
            404: DeadLetterReason.OPENCX_SESSION_NOT_FOUND,
            401: DeadLetterReason.OPENCX_UNAUTHORIZED,
            403: DeadLetterReason.OPENCX_FORBIDDEN,
        }.get(failure.status or 0, DeadLetterReason.OPENCX_REFUSED)
    return DeadLetterReason.PERMANENT_ERROR


# Failures no upstream answered, so no status names their cause: the operator's action by code.
_ACTIONS_BY_CODE = {
    "no_customer": "No active contact matches the customer and CREATE_MISSING_CONTACTS is off, so the "
    "incident has no customer. Create or merge the contact (or turn CREATE_MISSING_CONTACTS on), then replay.",
}


def _dead_letter(
    message: HandoffMessage, step: Failed, reason: DeadLetterReason, settings: Settings, now: datetime
) -> None:
    failure = step.failure
    embedded = fit_to_budget(message, DEADLETTER_EMBED_BYTES)
    record = make_record(
        reason,
        status=failure.status,
        error_code=failure.code,
        error_message=_excerpt(message, failure),
        target=failure.upstream.value,
        handoffId=message.handoffId,
        sessionId=message.event.conversation_id,
        attempts=message.attempt + 1,
        firstAttemptAt=message.firstAttemptAt or now,
        lastAttemptAt=now,
        message=embedded.model_dump(mode="json", exclude_none=True),
    )
    if failure.status is None and failure.code in _ACTIONS_BY_CODE:
        record = record.model_copy(update={"action": _ACTIONS_BY_CODE[failure.code]})
    dead_letter(record, settings.handoff_queue)
    _store(message, Status.DEAD_LETTERED, failure, deadLetterReason=reason.value)
    telemetry.count("handoffs.dead_lettered", reason=reason.value, target=failure.upstream.value)
    log_event(
        logger,
        "handoff.dead_lettered",
        logging.ERROR,
        **_dimensions(message),
        outcome="dead_lettered",
        reason=reason.value,
        target=failure.upstream.value,
        operation=step.operation,
        status=failure.status,
        errorCode=failure.code,
        action=record.action,
    )


def _retry_later(message: HandoffMessage, step: Failed, settings: Settings, now: datetime) -> None:
    failure = step.failure
    throttled = failure.outcome is Outcome.THROTTLED
    record = AttemptRecord(
        attempt=message.attempt,
        at=now,
        outcome=failure.outcome.value,
        target=failure.upstream.value,
        status=failure.status,
        code=failure.code,
        message=_excerpt(message, failure),
    )
    following = message.next_attempt(record, throttled=throttled)
    delay = retry_delay_seconds(
        message.throttled if throttled else message.attempt, failure.retry_after, spread=throttled
    )
    send(
        queue_client(settings.handoff_queue, QueueProfile.WORKER),
        following.to_json(),
        visibility_timeout=delay,
    )
    _store(message, Status.THROTTLED if throttled else Status.RETRYING, failure)
    telemetry.count("handoffs.throttled" if throttled else "handoffs.retried", target=failure.upstream.value)
    log_event(
        logger,
        "handoff.throttled" if throttled else "handoff.retrying",
        logging.WARNING,
        **_dimensions(message),
        outcome=failure.outcome.value,
        target=failure.upstream.value,
        operation=step.operation,
        status=failure.status,
        errorCode=failure.code,
        retryAfter=failure.retry_after,
        delaySeconds=delay,
    )


def act(message: HandoffMessage, step: Step, settings: Settings, now: datetime) -> str:
    """One place decides what an outcome means. Returns what was done, for the span and tests."""
    if isinstance(step, Delivered):
        _record_success(message, step, now)
        return step.status.value
    outcome = step.failure.outcome
    if outcome is Outcome.PERMANENT:
        _dead_letter(message, step, _dead_letter_reason(step.failure), settings, now)
        return "dead_lettered"
    if outcome is Outcome.THROTTLED:
        if (now - message.receivedAt).total_seconds() > settings.max_age_seconds:
            _dead_letter(message, step, DeadLetterReason.TOO_OLD, settings, now)
            return "dead_lettered"
    elif message.attempt + 1 >= settings.max_attempts:
        _dead_letter(message, step, DeadLetterReason.ATTEMPTS_EXHAUSTED, settings, now)
        return "dead_lettered"
    _retry_later(message, step, settings, now)
    return outcome.value


def handle(
    message: HandoffMessage, settings: Settings, opencx: OpenCXClient, dataverse: DataverseClient
) -> str:
    """Deliver and act on the outcome. The span continues the ingress span through the message's
    traceparent, so one handoff is one end-to-end transaction in Application Insights."""
    if message.firstAttemptAt is None:
        message = message.model_copy(update={"firstAttemptAt": datetime.now(UTC)})
    with telemetry.span("handoff.deliver", message.traceparent, "consumer", **_dimensions(message)) as span:
        message, step = deliver(message, opencx, dataverse, settings)
        done = act(message, step, settings, datetime.now(UTC))
        # The channel is known only once OpenCX has answered, after the span began.
        span.set_attribute("channel", message.enrichment.channel if message.enrichment else None)
        span.set_attribute("outcome", done)
        span.set_attribute(
            "status", step.answer_status if isinstance(step, Delivered) else step.failure.status
        )
    return done


def _dead_letter_invalid(raw: str, error: ValidationError, settings: Settings) -> None:
    fields = ", ".join(".".join(str(p) for p in e["loc"]) or "(message)" for e in error.errors()[:10])
    record = make_record(
        DeadLetterReason.INVALID_MESSAGE,
        status=None,
        error_code=None,
        error_message=f"invalid fields: {fields}",
        attempts=1,
        lastAttemptAt=datetime.now(UTC),
        rawMessage=raw,  # dead_letter bounds it
    )
    dead_letter(record, settings.handoff_queue)
    log_event(
        logger, "handoff.dead_lettered", logging.ERROR, outcome="dead_lettered", reason="invalid_message"
    )


def process_message(msg: func.QueueMessage) -> str | None:
    """The queue trigger's body. Raises only when it must: then the host retries the message."""
    settings = get_settings()
    raw = msg.get_body().decode("utf-8", errors="replace")
    try:
        message = parse_message(raw)
    except ValidationError as exc:
        _dead_letter_invalid(raw, exc, settings)
        return None
    return handle(message, settings, opencx_client(), dataverse_client())


__all__ = ["handle", "handoff_of", "process_message"]
