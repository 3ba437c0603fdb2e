"""The ingress pipeline: size, signature, content type, JSON, validation, then a durable enqueue.

Order matters. Size comes first so a huge body costs no HMAC; the signature before anything that
would tell an unauthenticated caller about the payload. 202 only after the queue took the message.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from concurrent.futures import Future, ThreadPoolExecutor, wait
from datetime import UTC, datetime
from typing import Any

import azure.functions as func

from shared.opencx.signature import SignatureInvalid, verify_signature
from shared.opencx.webhook import HANDOFF_REQUESTED, FieldError, Handoff, HandoffInvalid, parse_handoff_event
from shared.platform import telemetry
from shared.platform.log import get_logger, log_event
from shared.platform.problem import json_response, problem
from shared.platform.queue_message import HandoffMessage, build_message
from shared.platform.queues import QueueProfile, QueueUnavailable, queue_client, send
from shared.platform.settings import Settings, SettingsError, get_settings
from shared.platform.status_store import StoreUnavailable, get_row, record_accepted
from shared.platform.tracing import current_traceparent

MAX_BODY_BYTES = 1024 * 1024
# webhook-id becomes a Table Storage RowKey and a log dimension: printable, no / \ # ?
_WEBHOOK_ID = re.compile(r"^[\x21-\x7e]{1,256}$")
_WEBHOOK_ID_FORBIDDEN = re.compile(r"[/\\#?]")

logger = get_logger("ingress")


def _is_json_content_type(value: str | None) -> bool:
    media_type = (value or "").split(";", 1)[0].strip().lower()
    return media_type == "application/json"


def _validation_problem(errors: list[FieldError]) -> func.HttpResponse:
    return problem(
        422,
        "Invalid handoff",
        f"{len(errors)} field(s) failed validation: " + ", ".join(error.field for error in errors),
        kind="validation",
        errors=errors,
    )


def _webhook_id_error(handoff_id: str) -> FieldError | None:
    if _WEBHOOK_ID.match(handoff_id) and not _WEBHOOK_ID_FORBIDDEN.search(handoff_id):
        return None
    return FieldError(
        field="header:webhook-id", message="must be 1-256 printable ASCII characters without / \\ # ?"
    )


# The "accepted" row is bookkeeping, not durability: the queue already holds the handoff. Writing it
# after the response saves OpenCX a storage round trip. A redelivery racing it is enqueued again and
# ends as a 412 at Dataverse; a lost write is replaced by the worker's own status update.
_status_writer = ThreadPoolExecutor(max_workers=4, thread_name_prefix="status-accepted")
_pending_writes: set[Future[None]] = set()
_pending_lock = threading.Lock()


def _record_accepted_in_background(message: HandoffMessage, dimensions: dict[str, str]) -> None:
    future = _status_writer.submit(_record_accepted, message, dimensions)
    with _pending_lock:
        _pending_writes.add(future)
    future.add_done_callback(_forget_write)


def _forget_write(future: Future[None]) -> None:
    with _pending_lock:
        _pending_writes.discard(future)


def wait_for_status_writes(timeout: float = 10.0) -> None:
    """Block until the background "accepted" writes are done (tests, graceful shutdown)."""
    with _pending_lock:
        pending = list(_pending_writes)
    wait(pending, timeout=timeout)


def _record_accepted(message: HandoffMessage, dimensions: dict[str, str]) -> None:
    """Create-if-absent, so a worker that was faster than this line keeps its later status."""
    try:
        record_accepted(
            message.handoff.sessionId,
            message.handoffId,
            message.handoff.channel.value,
            message.receivedAt.isoformat(timespec="milliseconds"),
        )
    except StoreUnavailable as exc:
        log_event(logger, "status_store.unavailable", logging.WARNING, **dimensions, error=str(exc))


def handle_handoff(req: func.HttpRequest, context: Any = None) -> func.HttpResponse:
    """Answer one webhook delivery as DESIGN section 2 specifies."""
    try:
        settings = get_settings()
    except SettingsError as exc:
        logger.error("handoff.settings_invalid %s", exc, extra={"event": "handoff.settings_invalid"})
        return problem(503, "Bridge misconfigured", "The bridge's app settings are invalid; see its logs.")
    if settings.webhook_secret_problem:
        logger.error(
            "handoff.settings_invalid %s",
            settings.webhook_secret_problem,
            extra={"event": "handoff.settings_invalid"},
        )
        return problem(503, "Bridge misconfigured", "The bridge's app settings are invalid; see its logs.")

    raw = req.get_body() or b""
    if len(raw) > MAX_BODY_BYTES:
        log_event(logger, "handoff.rejected", logging.WARNING, status=413, size=len(raw))
        return problem(413, "Body too large", f"The body is {len(raw)} bytes; the limit is {MAX_BODY_BYTES}.")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        log_event(logger, "handoff.rejected", logging.WARNING, status=400, reason="not_utf8")
        return problem(400, "Body is not UTF-8", "The body must be UTF-8 encoded JSON.", kind="bad-encoding")

    try:
        handoff_id = verify_signature(text, req.headers, settings.webhook_secrets)
    except SignatureInvalid as exc:
        log_event(logger, "handoff.rejected", logging.WARNING, status=401, reason=str(exc))
        return problem(401, "Signature rejected", f"Standard Webhooks verification failed: {exc}.")

    if not _is_json_content_type(req.headers.get("content-type")):
        log_event(logger, "handoff.rejected", logging.WARNING, status=415, handoffId=handoff_id)
        return problem(415, "Unsupported media type", "Content-Type must be application/json.")

    try:
        body = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: nesting deeper than the parser's stack
        log_event(
            logger, "handoff.rejected", logging.WARNING, status=400, reason="not_json", handoffId=handoff_id
        )
        return problem(400, "Body is not JSON", "The body could not be parsed as JSON.", kind="bad-json")

    if not isinstance(body, dict):
        return _validation_problem([FieldError(field="(body)", message="must be a JSON object")])
    event_type = body.get("type")
    if not isinstance(event_type, str) or not event_type:
        return _validation_problem([FieldError(field="type", message="is required and must be a string")])
    if event_type != HANDOFF_REQUESTED:
        log_event(logger, "handoff.ignored", handoffId=handoff_id, eventType=event_type[:64])
        return json_response(200, {"status": "ignored", "ignored": True, "type": event_type[:64]})

    errors: list[FieldError] = []
    event = None
    try:
        event = parse_handoff_event(body)
    except HandoffInvalid as exc:
        errors = exc.errors
    id_error = _webhook_id_error(handoff_id)
    if id_error:
        errors.insert(0, id_error)
    if errors or event is None:
        fields = ",".join(error.field for error in errors)
        log_event(
            logger, "handoff.rejected", logging.WARNING, status=422, handoffId=handoff_id, fields=fields
        )
        return _validation_problem(errors)

    return _accept(handoff_id, event.data, settings, req, context)


def _duplicate_answer(
    handoff_id: str, handoff: Handoff, dimensions: dict[str, str]
) -> func.HttpResponse | None:
    """200 duplicate when this webhook-id was already accepted; None to go on (also when the store
    is down: a redelivery is then enqueued again, and the deterministic activityid keeps it to one
    work item, so carrying on is safe and losing the handoff is not)."""
    try:
        if get_row(handoff.sessionId, handoff_id) is None:
            return None
    except StoreUnavailable as exc:
        log_event(logger, "status_store.unavailable", logging.WARNING, **dimensions, error=str(exc))
        return None
    log_event(logger, "handoff.duplicate", **dimensions, outcome="duplicate")
    body = {"status": "duplicate", "duplicate": True, "handoffId": handoff_id, "sessionId": handoff.sessionId}
    return json_response(200, body)


def _accept(
    handoff_id: str, handoff: Handoff, settings: Settings, req: func.HttpRequest, context: Any
) -> func.HttpResponse:
    """Duplicate check, durable enqueue, then 202. The accepted row is written off the response path."""
    dimensions = {"handoffId": handoff_id, "sessionId": handoff.sessionId, "channel": handoff.channel.value}
    duplicate = _duplicate_answer(handoff_id, handoff, dimensions)
    if duplicate is not None:
        return duplicate
    parent = current_traceparent(req.headers, context)
    with telemetry.span("handoff.ingress", parent, "internal", **dimensions, attempt=0) as span:
        traceparent = span.traceparent() or parent
        message = build_message(handoff_id, handoff, datetime.now(UTC), traceparent)
        payload = message.to_json()
        try:
            send(queue_client(settings.handoff_queue, QueueProfile.INGRESS), payload)
        except QueueUnavailable as exc:
            span.set_attribute("outcome", "enqueue_failed")
            log_event(logger, "handoff.enqueue_failed", logging.ERROR, **dimensions, error=str(exc))
            return problem(
                503,
                "Queue unavailable",
                "The handoff could not be queued durably. Retry the delivery.",
                headers={"Retry-After": "5"},
            )
        span.set_attribute("outcome", "accepted")
    _record_accepted_in_background(message, dimensions)
    telemetry.count("handoffs.accepted", channel=handoff.channel.value)
    log_event(
        logger,
        "handoff.accepted",
        **dimensions,
        attempt=0,
        outcome="accepted",
        phone=handoff.customer.phone,
        email=handoff.customer.email,
        transcriptTruncated=message.handoff.transcriptTruncated,
        messageBytes=len(payload.encode("utf-8")),
    )
    return json_response(202, {"status": "accepted", "handoffId": handoff_id, "sessionId": handoff.sessionId})
