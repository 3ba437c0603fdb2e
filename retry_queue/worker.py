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

from retry_queue.delivery import Step, deliver, handoff_of
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


def _excerpt(message: HandoffMessage, step: Step) -> str | None:
    text = step.response.error_text
    return redact_known(text, _known_texts(message))[:ERROR_EXCERPT_MAX] if text else None


def _store(message: HandoffMessage, status: Status, step: Step | None = None, **fields: object) -> None:
    """Record the outcome for support. The store is an aid: its failure is logged, never raised."""
    if step is not None and status not in (Status.CREATED, Status.DUPLICATE):
        fields.update(
            lastErrorTarget=step.target,
            lastErrorStatus=step.response.status,
            lastErrorCode=step.response.error_code,
            lastErrorMessage=_excerpt(message, step),
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


def _record_success(message: HandoffMessage, step: Step, now: datetime) -> None:
    channel = message.enrichment.channel if message.enrichment else None
    _store(message, step.status, step, **step.fields, createdAt=now.isoformat(timespec="milliseconds"))
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
        status=step.response.status,
        e2eLatencyMs=round(latency_ms),
        **step.fields,
    )


def _dead_letter_reason(step: Step) -> DeadLetterReason:
    if step.target == "opencx":
        return {
            404: DeadLetterReason.OPENCX_SESSION_NOT_FOUND,
            401: DeadLetterReason.OPENCX_UNAUTHORIZED,
            403: DeadLetterReason.OPENCX_FORBIDDEN,
        }.get(step.response.status or 0, DeadLetterReason.OPENCX_REFUSED)
    return DeadLetterReason.PERMANENT_ERROR


def _dead_letter(
    message: HandoffMessage, step: Step, reason: DeadLetterReason, settings: Settings, now: datetime
) -> None:
    embedded = fit_to_budget(message, DEADLETTER_EMBED_BYTES)
    record = make_record(
        reason,
        status=step.response.status,
        error_code=step.response.error_code,
        error_message=_excerpt(message, step),
        target=step.target,
        handoffId=message.handoffId,
        sessionId=message.event.conversation_id,
        attempts=message.attempt + 1,
        firstAttemptAt=message.firstAttemptAt or now,
        lastAttemptAt=now,
        message=embedded.model_dump(mode="json", exclude_none=True),
    )
    dead_letter(record, settings.handoff_queue)
    _store(message, Status.DEAD_LETTERED, step, deadLetterReason=reason.value)
    telemetry.count("handoffs.dead_lettered", reason=reason.value, target=step.target)
    log_event(
        logger,
        "handoff.dead_lettered",
        logging.ERROR,
        **_dimensions(message),
        outcome="dead_lettered",
        reason=reason.value,
        target=step.target,
        operation=step.operation,
        status=step.response.status,
        errorCode=step.response.error_code,
        action=record.action,
    )


def _retry_later(message: HandoffMessage, step: Step, settings: Settings, now: datetime) -> None:
    throttled = step.outcome is Outcome.THROTTLED
    record = AttemptRecord(
        attempt=message.attempt,
        at=now,
        outcome=step.outcome.value,
        target=step.target,
        status=step.response.status,
        code=step.response.error_code,
        message=_excerpt(message, step),
    )
    following = message.next_attempt(record, throttled=throttled)
    delay = retry_delay_seconds(
        message.throttled if throttled else message.attempt, step.response.retry_after, spread=throttled
    )
    send(
        queue_client(settings.handoff_queue, QueueProfile.WORKER),
        following.to_json(),
        visibility_timeout=delay,
    )
    _store(message, Status.THROTTLED if throttled else Status.RETRYING, step)
    telemetry.count("handoffs.throttled" if throttled else "handoffs.retried", target=step.target)
    log_event(
        logger,
        "handoff.throttled" if throttled else "handoff.retrying",
        logging.WARNING,
        **_dimensions(message),
        outcome=step.outcome.value,
        target=step.target,
        operation=step.operation,
        status=step.response.status,
        errorCode=step.response.error_code,
        retryAfter=step.response.retry_after,
        delaySeconds=delay,
    )


def act(message: HandoffMessage, step: Step, settings: Settings, now: datetime) -> str:
    """One place decides what an outcome means. Returns what was done, for the span and tests."""
    if step.outcome is Outcome.SUCCESS:
        _record_success(message, step, now)
        return step.status.value
    if step.outcome is Outcome.PERMANENT:
        _dead_letter(message, step, _dead_letter_reason(step), settings, now)
        return "dead_lettered"
    if step.outcome is Outcome.THROTTLED:
        if (now - message.receivedAt).total_seconds() > settings.max_age_seconds:
            _dead_letter(message, step, DeadLetterReason.TOO_OLD, settings, now)
            return "dead_lettered"
    elif message.attempt + 1 >= settings.max_attempts:
        _dead_letter(message, step, DeadLetterReason.ATTEMPTS_EXHAUSTED, settings, now)
        return "dead_lettered"
    _retry_later(message, step, settings, now)
    return step.outcome.value


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
        span.set_attribute("status", step.response.status)
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
