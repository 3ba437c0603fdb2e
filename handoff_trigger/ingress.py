"""The ingress pipeline: size, signature (when configured), content type, JSON, organisation,
event, validation, then a durable enqueue (docs/contract.md section 2).

Order matters. Size comes first so a huge body costs no HMAC; the signature before anything that
would tell an unauthenticated caller about the payload. 202 only after the queue took the message.
Ingress never calls OpenCX: the worker fetches what the event lacks.
"""

from __future__ import annotations

import json
import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor, wait
from datetime import UTC, datetime
from typing import Any

import azure.functions as func
from pydantic_core import PydanticCustomError

from shared.opencx.events import HANDOFF_TO_HUMAN as HANDOFF_EVENT
from shared.opencx.handoff_message import HandoffMessage, build_message
from shared.opencx.signature import SignatureInvalid, delivery_id, verify_signature
from shared.opencx.webhook import (
    ID_CHARACTERS_RULE,
    EventInvalid,
    FieldError,
    HandoffEvent,
    check_identifier,
    derive_handoff_id,
    parse_event,
    read_envelope,
)
from shared.platform import telemetry
from shared.platform.log import get_logger, log_event
from shared.platform.problem import json_response, problem
from shared.platform.queues import QueueProfile, QueueUnavailable, queue_client, send, withdraw
from shared.platform.settings import DeliveryMode, Settings, SettingsError, get_settings
from shared.platform.status_store import StoreProfile, StoreUnavailable, get_row, record_accepted
from shared.platform.text import NestingTooDeep, sanitise
from shared.platform.tracing import current_traceparent

MAX_BODY_BYTES = 1024 * 1024
HANDOFF_ID_MAX = 256
_MISCONFIGURED = "The bridge's app settings are invalid; see its logs."

logger = get_logger("ingress")


def _is_json_content_type(value: str | None) -> bool:
    media_type = (value or "").split(";", 1)[0].strip().lower()
    return media_type == "application/json"


def _validation_problem(errors: list[FieldError]) -> func.HttpResponse:
    return problem(
        422,
        "Invalid event",
        f"{len(errors)} field(s) failed validation: " + ", ".join(error.field for error in errors),
        kind="validation",
        errors=errors,
    )


def _header_id_error(header_id: str) -> FieldError | None:
    try:
        check_identifier(header_id, HANDOFF_ID_MAX)
    except PydanticCustomError:
        return FieldError(
            field="header:webhook-id",
            message=f"must be 1-{HANDOFF_ID_MAX} characters and {ID_CHARACTERS_RULE}",
        )
    if not header_id.isascii():
        return FieldError(field="header:webhook-id", message="must be ASCII")
    return None


# The "accepted" row is bookkeeping, not durability: the queue already holds the handoff. Writing it
# after the response saves OpenCX a storage round trip. The row is created only if absent, and only
# the delivery that creates it counts and logs the handoff as accepted: ten identical deliveries at
# once are one accepted handoff (the others log handoff.redelivered; the deterministic Dynamics id
# keeps them to one row).
_status_writer = ThreadPoolExecutor(max_workers=4, thread_name_prefix="status-accepted")
_pending_writes: set[Future[None]] = set()
_pending_lock = threading.Lock()


def _record_accepted_in_background(message: HandoffMessage, dimensions: dict[str, Any]) -> None:
    future = _status_writer.submit(_record_accepted, message, dimensions)
    with _pending_lock:
        _pending_writes.add(future)
    future.add_done_callback(_forget_write)


def _forget_write(future: Future[None]) -> None:
    with _pending_lock:
        _pending_writes.discard(future)


def wait_for_status_writes(timeout: float = 10.0) -> None:
    """Block until the background "accepted" writes are done (tests)."""
    with _pending_lock:
        pending = list(_pending_writes)
    wait(pending, timeout=timeout)


def _record_accepted(message: HandoffMessage, dimensions: dict[str, Any]) -> None:
    try:
        # Off the response path, so the worker's patient profile: a slow table must not make one
        # delivery look like several.
        created = record_accepted(
            message.event.conversation_id,
            message.handoffId,
            message.receivedAt.isoformat(timespec="milliseconds"),
            StoreProfile.WORKER,
        )
    except StoreUnavailable as exc:
        # Cannot tell a first delivery from a redelivery: count it, a lost count beats a lost line.
        log_event(logger, "status_store.unavailable", logging.WARNING, **dimensions, error=str(exc))
        created = True
    if created:
        telemetry.count("handoffs.accepted")
        log_event(logger, "handoff.accepted", **dimensions, outcome="accepted")
    else:
        log_event(logger, "handoff.redelivered", **dimensions, outcome="redelivered")


def _refuse(status: int, reason: str, **dimensions: Any) -> None:
    log_event(logger, "handoff.rejected", logging.WARNING, status=status, reason=reason, **dimensions)


def handle_handoff(req: func.HttpRequest, context: Any = None) -> func.HttpResponse:
    """Answer one webhook delivery as the contract's section 2 specifies."""
    try:
        settings = get_settings()
    except SettingsError as exc:
        logger.error("handoff.settings_invalid %s", exc, extra={"event": "handoff.settings_invalid"})
        return problem(503, "Bridge misconfigured", _MISCONFIGURED)
    if settings.webhook_secret_problem:
        logger.error(
            "handoff.settings_invalid %s",
            settings.webhook_secret_problem,
            extra={"event": "handoff.settings_invalid"},
        )
        return problem(503, "Bridge misconfigured", _MISCONFIGURED)

    raw = req.get_body() or b""
    if len(raw) > MAX_BODY_BYTES:
        _refuse(413, "too_large", size=len(raw))
        return problem(413, "Body too large", f"The body is {len(raw)} bytes; the limit is {MAX_BODY_BYTES}.")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        _refuse(400, "not_utf8")
        return problem(400, "Body is not UTF-8", "The body must be UTF-8 encoded JSON.", kind="bad-encoding")

    signed_id: str | None = None
    if settings.webhook_secrets:
        try:
            signed_id = verify_signature(text, req.headers, settings.webhook_secrets)
        except SignatureInvalid as exc:
            _refuse(401, str(exc))
            return problem(401, "Signature rejected", f"Standard Webhooks verification failed: {exc}.")

    if not _is_json_content_type(req.headers.get("content-type")):
        _refuse(415, "content_type")
        return problem(415, "Unsupported media type", "Content-Type must be application/json.")

    try:
        body = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: nesting deeper than the parser's stack
        _refuse(400, "not_json")
        return problem(400, "Body is not JSON", "The body could not be parsed as JSON.", kind="bad-json")

    try:  # every event, customer events too: half an emoji is repaired, a deep body refused
        body = sanitise(body)
    except NestingTooDeep as exc:
        _refuse(422, "nesting")
        return _validation_problem([FieldError(field="(body)", message=str(exc))])
    try:
        event_name, organization, _ = read_envelope(body)
    except EventInvalid as exc:
        _refuse(422, "envelope", fields=",".join(error.field for error in exc.errors))
        return _validation_problem(exc.errors)
    if settings.organization_id and organization != settings.organization_id:
        _refuse(403, "organization")
        return problem(
            403,
            "Wrong organisation",
            "organization_id is not the organisation this bridge serves.",
            kind="organization",
        )
    if event_name != HANDOFF_EVENT:
        if settings.delivery_mode is DeliveryMode.MESSAGING:  # customer -> rep (shared/messaging/customer.py)
            from shared.messaging.customer import accept_customer_event

            answered = accept_customer_event(event_name, body, settings, req, context)
            if answered is not None:
                return answered
        log_event(logger, "handoff.ignored", eventType=event_name[:64])
        return json_response(200, {"status": "ignored", "ignored": True, "event": event_name[:64]})

    errors: list[FieldError] = []
    event: HandoffEvent | None = None
    try:
        event = parse_event(body)
    except EventInvalid as exc:
        errors = exc.errors
    header_id = signed_id or delivery_id(req.headers)
    id_error = _header_id_error(header_id) if header_id else None
    if id_error:
        errors.insert(0, id_error)
    if errors or event is None:
        _refuse(422, "validation", fields=",".join(error.field for error in errors))
        return _validation_problem(errors)
    return _accept(header_id or derive_handoff_id(event), event, settings, req, context)


# The duplicate check runs beside the enqueue, not before it: a redelivery is rare, so the usual
# answer waits for one storage round trip instead of two. Its own pool, so the background writes
# above can never hold a request up.
_lookups = ThreadPoolExecutor(max_workers=8, thread_name_prefix="ingress-dedup")
_LOOKUP_WAIT_SECONDS = 5.0  # the INGRESS store profile gives up well before this


def _accepted_before(handoff_id: str, event: HandoffEvent, dimensions: dict[str, Any]) -> bool:
    """True when this handoff was already accepted. False also when the store is down: a
    redelivery is then enqueued again, and the deterministic Dynamics id keeps it to one row, so
    carrying on is safe and losing the handoff is not."""
    try:
        return get_row(event.conversation_id, handoff_id) is not None
    except StoreUnavailable as exc:
        log_event(logger, "status_store.unavailable", logging.WARNING, **dimensions, error=str(exc))
        return False


def _was_accepted(lookup: Future[bool], dimensions: dict[str, Any]) -> bool:
    try:
        return lookup.result(timeout=_LOOKUP_WAIT_SECONDS)
    except TimeoutError:
        log_event(logger, "status_store.unavailable", logging.WARNING, **dimensions, error="lookup timed out")
        return False


def _duplicate_answer(handoff_id: str, event: HandoffEvent, dimensions: dict[str, Any]) -> func.HttpResponse:
    log_event(logger, "handoff.duplicate", **dimensions, outcome="duplicate")
    body = {
        "status": "duplicate",
        "duplicate": True,
        "handoffId": handoff_id,
        "sessionId": event.conversation_id,
    }
    return json_response(200, body)


def _accept(
    handoff_id: str, event: HandoffEvent, settings: Settings, req: func.HttpRequest, context: Any
) -> func.HttpResponse:
    """Duplicate check and durable enqueue at once, then 202; a duplicate's copy is withdrawn and
    answered 200. The accepted row is written off the response path."""
    dimensions: dict[str, Any] = {"handoffId": handoff_id, "sessionId": event.conversation_id}
    lookup = _lookups.submit(_accepted_before, handoff_id, event, dimensions)
    parent = current_traceparent(req.headers, context)
    client = queue_client(settings.handoff_queue, QueueProfile.INGRESS)
    with telemetry.span("handoff.ingress", parent, "internal", **dimensions, attempt=0) as span:
        traceparent = span.traceparent() or parent
        message = build_message(handoff_id, event, datetime.now(UTC), traceparent)
        payload = message.to_json()
        try:
            sent = send(client, payload)
        except QueueUnavailable as exc:
            if _was_accepted(lookup, dimensions):  # already queued once: nothing is lost
                span.set_attribute("outcome", "duplicate")
                return _duplicate_answer(handoff_id, event, dimensions)
            span.set_attribute("outcome", "enqueue_failed")
            log_event(logger, "handoff.enqueue_failed", logging.ERROR, **dimensions, error=str(exc))
            return problem(
                503,
                "Queue unavailable",
                "The handoff could not be queued durably. Retry the delivery.",
                headers={"Retry-After": "5"},
            )
        if _was_accepted(lookup, dimensions):
            # A worker that took this copy first meets the handoff's deterministic Dynamics id
            # and creates nothing new, so a withdrawal that comes too late is harmless.
            withdraw(client, sent)
            span.set_attribute("outcome", "duplicate")
            return _duplicate_answer(handoff_id, event, dimensions)
        span.set_attribute("outcome", "enqueued")
    _record_accepted_in_background(
        message,
        {**dimensions, "summaryTruncated": message.event.summaryTruncated, "messageBytes": len(payload)},
    )
    return json_response(
        202, {"status": "accepted", "handoffId": handoff_id, "sessionId": event.conversation_id}
    )
