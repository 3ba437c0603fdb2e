"""Deliver one queued handoff: look up the contact, create the work item, then decide.

Success records `dynamics365_chat_id`. A transient failure re-enqueues the message with
`attempt+1` and a visibility delay, then completes, so the host never holds a throttled message.
A permanent failure, or the last attempt, writes a dead-letter record. Anything unexpected raises:
the host retries and finally moves the message to `-poison`, and nothing is lost.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

import azure.functions as func
from pydantic import ValidationError

from shared.dynamics.contact import ContactMatch, Linkage, find_contact
from shared.dynamics.dataverse import DataverseClient, DataverseResponse, dataverse_client
from shared.dynamics.work_item import CONTACT_BIND, work_item_id, work_item_payload
from shared.platform import telemetry
from shared.platform.deadletter import DeadLetterReason, dead_letter, make_record
from shared.platform.log import get_logger, log_event
from shared.platform.queue_message import (
    DEADLETTER_EMBED_BYTES,
    AttemptRecord,
    HandoffMessage,
    fit_to_budget,
    parse_message,
)
from shared.platform.queues import QueueProfile, queue_client, send
from shared.platform.retry_policy import Outcome, classify, retry_delay_seconds
from shared.platform.settings import Settings, get_settings
from shared.platform.status_store import Status, StoreUnavailable, record_status

logger = get_logger("worker")


@dataclass(frozen=True)
class Delivery:
    outcome: Outcome
    response: DataverseResponse
    contact: ContactMatch
    dynamics365_chat_id: str


def deliver(message: HandoffMessage, client: DataverseClient, workstream_id: str) -> Delivery:
    """At most two requests when nothing fails: one contact lookup, one deep-insert create."""
    handoff = message.handoff
    contact = find_contact(client, handoff.customer)
    if contact.response is not None and classify(contact.response.status) is Outcome.TRANSIENT:
        return Delivery(Outcome.TRANSIENT, contact.response, contact, work_item_id(message.handoffId))
    if contact.response is not None:
        # A lookup refused for good (e.g. no read privilege on contact) must not keep a customer
        # waiting: create the item unlinked and say why in the log.
        log_event(
            logger,
            "contact.lookup_failed",
            logging.WARNING,
            handoffId=message.handoffId,
            sessionId=handoff.sessionId,
            status=contact.response.status,
            errorCode=contact.response.error_code,
        )
    payload = work_item_payload(message.handoffId, handoff, workstream_id, contact)
    response = client.post("msdyn_ocliveworkitems", "create_work_item", payload)
    if response.status == 404 and CONTACT_BIND in payload:
        # The contact vanished between lookup and create: an unlinked item beats no item.
        del payload[CONTACT_BIND]
        contact = ContactMatch(None, Linkage.NONE, "contact_gone")
        response = client.post("msdyn_ocliveworkitems", "create_work_item", payload)
    outcome = classify(response.status, response.error_code)
    return Delivery(outcome, response, contact, payload["activityid"])


def _dimensions(message: HandoffMessage) -> dict[str, object]:
    return {
        "handoffId": message.handoffId,
        "sessionId": message.handoff.sessionId,
        "channel": message.handoff.channel.value,
        "attempt": message.attempt,
    }


def _store(
    message: HandoffMessage, status: Status, response: DataverseResponse | None = None, **fields: object
) -> None:
    """Record the outcome for support. The store is an aid: its failure is logged, never raised."""
    if response is not None and status is not Status.CREATED:
        fields.update(
            lastErrorStatus=response.status,
            lastErrorCode=response.error_code,
            lastErrorMessage=response.error_message or response.transport_error,
        )
    try:
        record_status(
            message.handoff.sessionId,
            message.handoffId,
            status,
            channel=message.handoff.channel.value,
            receivedAt=message.receivedAt.isoformat(timespec="milliseconds"),
            attempts=message.attempt + 1,
            **fields,
        )
    except StoreUnavailable as exc:
        log_event(logger, "status_store.unavailable", logging.WARNING, **_dimensions(message), error=str(exc))


def _record_success(message: HandoffMessage, delivery: Delivery, now: datetime) -> None:
    _store(
        message,
        Status.CREATED,
        dynamics365_chat_id=delivery.dynamics365_chat_id,
        contactLinkage=delivery.contact.linkage.value,
        createdAt=now.isoformat(timespec="milliseconds"),
    )
    latency_ms = (now - message.receivedAt).total_seconds() * 1000
    telemetry.count("handoffs.created", channel=message.handoff.channel.value)
    telemetry.record_e2e_latency(latency_ms, channel=message.handoff.channel.value)
    log_event(
        logger,
        "handoff.created",
        **_dimensions(message),
        outcome="created",
        dynamics365_chat_id=delivery.dynamics365_chat_id,
        contactLinkage=delivery.contact.linkage.value,
        contactReason=delivery.contact.reason,
        status=delivery.response.status,
        attempts=message.attempt + 1,
        e2eLatencyMs=round(latency_ms),
    )


def _dead_letter(
    message: HandoffMessage, delivery: Delivery, reason: DeadLetterReason, settings: Settings, now: datetime
) -> None:
    response = delivery.response
    embedded = fit_to_budget(message, DEADLETTER_EMBED_BYTES)
    record = make_record(
        reason,
        status=response.status,
        error_code=response.error_code,
        error_message=response.error_message or response.transport_error,
        handoffId=message.handoffId,
        sessionId=message.handoff.sessionId,
        attempts=message.attempt + 1,
        firstAttemptAt=message.firstAttemptAt or now,
        lastAttemptAt=now,
        message=embedded.model_dump(mode="json", exclude_none=True),
    )
    dead_letter(record, settings)
    _store(message, Status.DEAD_LETTERED, response, deadLetterReason=reason.value)
    telemetry.count("handoffs.dead_lettered", channel=message.handoff.channel.value, reason=reason.value)
    log_event(
        logger,
        "handoff.dead_lettered",
        logging.ERROR,
        **_dimensions(message),
        outcome="dead_lettered",
        reason=reason.value,
        status=response.status,
        errorCode=response.error_code,
        action=record.action,
    )


def _retry_later(message: HandoffMessage, delivery: Delivery, settings: Settings, now: datetime) -> None:
    response = delivery.response
    record = AttemptRecord(
        attempt=message.attempt,
        at=now,
        outcome="transient",
        status=response.status,
        code=response.error_code,
        message=(response.error_message or response.transport_error or "")[:300] or None,
    )
    following = message.next_attempt(record, now)
    delay = retry_delay_seconds(message.attempt, response.retry_after)
    send(
        queue_client(settings.handoff_queue, QueueProfile.WORKER),
        following.to_json(),
        visibility_timeout=delay,
    )
    _store(message, Status.RETRYING, response)
    telemetry.count("handoffs.retried", channel=message.handoff.channel.value, status=response.status)
    log_event(
        logger,
        "handoff.retrying",
        logging.WARNING,
        **_dimensions(message),
        outcome="retrying",
        status=response.status,
        errorCode=response.error_code,
        retryAfter=response.retry_after,
        delaySeconds=delay,
    )


def handle(message: HandoffMessage, settings: Settings, client: DataverseClient) -> Outcome:
    """Deliver and act on the outcome. Returns it, for tests and the local runner's log.

    The span continues the ingress span through the message's traceparent, so one handoff is one
    end-to-end transaction in Application Insights.
    """
    now = datetime.now(UTC)
    if message.firstAttemptAt is None:
        message = message.model_copy(update={"firstAttemptAt": now})
    with telemetry.span("handoff.deliver", message.traceparent, "consumer", **_dimensions(message)) as span:
        delivery = deliver(message, client, settings.default_queue_id)
        done = datetime.now(UTC)
        if delivery.outcome is Outcome.SUCCESS:
            _record_success(message, delivery, done)
            outcome = "created"
        elif delivery.outcome is Outcome.PERMANENT:
            _dead_letter(message, delivery, DeadLetterReason.PERMANENT_ERROR, settings, done)
            outcome = "dead_lettered"
        elif message.attempt + 1 >= settings.max_attempts:
            _dead_letter(message, delivery, DeadLetterReason.ATTEMPTS_EXHAUSTED, settings, done)
            outcome = "dead_lettered"
        else:
            _retry_later(message, delivery, settings, done)
            outcome = "retrying"
        span.set_attribute("outcome", outcome)
        span.set_attribute("status", delivery.response.status)
    return delivery.outcome


# The record holds the raw text JSON-escaped: keep that escaped form, not the character count,
# within the queue's limit.
RAW_MESSAGE_BYTES = 30_000


def _fit_json_text(text: str, limit: int) -> str:
    size = len(json.dumps(text).encode("utf-8"))
    while size > limit:
        text = text[: max(0, len(text) * limit // size - 16)]
        size = len(json.dumps(text).encode("utf-8"))
    return text


def _dead_letter_invalid(raw: str, error: ValidationError, settings: Settings) -> None:
    fields = ", ".join(".".join(str(p) for p in e["loc"]) or "(message)" for e in error.errors()[:10])
    now = datetime.now(UTC)
    record = make_record(
        DeadLetterReason.INVALID_MESSAGE,
        status=None,
        error_code=None,
        error_message=f"invalid fields: {fields}",
        attempts=1,
        lastAttemptAt=now,
        rawMessage=_fit_json_text(raw, RAW_MESSAGE_BYTES),
    )
    dead_letter(record, settings)
    log_event(
        logger, "handoff.dead_lettered", logging.ERROR, outcome="dead_lettered", reason="invalid_message"
    )


def process_message(msg: func.QueueMessage) -> Outcome | None:
    """The queue trigger's body. Raises only when it must: then the host retries the message."""
    settings = get_settings()
    raw = msg.get_body().decode("utf-8", errors="replace")
    try:
        message = parse_message(raw)
    except ValidationError as exc:
        _dead_letter_invalid(raw, exc, settings)
        return None
    return handle(message, settings, dataverse_client())
