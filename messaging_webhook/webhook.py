"""The rep -> customer webhook: token, parse, durable append, 200 (Microsoft waits 10 s).

Order: the token before anything is read from the body, so an unauthenticated caller learns
nothing and queues nothing (401; 503 only when the tenant's keys cannot be fetched, so Microsoft
retries). Then the activity is parsed leniently; rep messages and end events are appended to the
conversation's outbox (dedup by the activity's `dedup_key`) and relayed (shared/messaging/accept.py);
typing, system events and anything unknown are answered 200 and ignored. Redeliveries answer 200.
"""

from __future__ import annotations

import logging
from typing import Any

import azure.functions as func

from shared.media.refs import DROPPED_PREFIX, MediaRef
from shared.messaging.accept import Accepted, accept
from shared.messaging.activity import MAX_BODY_BYTES, ActivityInvalid, ActivityKind, media_ref, parse_activity
from shared.messaging.deps import process_deps
from shared.messaging.outbox import Direction, Entry, EntryKind
from shared.messaging.token import TokenRejected
from shared.messaging.waiting import is_waiting_event
from shared.platform import telemetry
from shared.platform.log import get_logger, log_event
from shared.platform.problem import json_response, problem
from shared.platform.queues import QueueUnavailable
from shared.platform.settings import DeliveryMode, SettingsError, get_settings
from shared.platform.text import has_unsafe_characters, is_blank
from shared.platform.times import iso_at
from shared.platform.tracing import current_traceparent

logger = get_logger("messaging_webhook")
CONVERSATION_ID_MAX = 128
ID_RULE = "without control, format or line-separator characters or / \\ # ?"
_TABLE_KEY_FORBIDDEN = frozenset("/\\#?")


def _valid_conversation_id(value: str) -> bool:
    """A table key and a log dimension: no character a table refuses or a log reader splits on."""
    return (
        0 < len(value) <= CONVERSATION_ID_MAX
        and not is_blank(value)
        and not has_unsafe_characters(value)
        and not _TABLE_KEY_FORBIDDEN.intersection(value)
    )


def _refuse(status: int, reason: str, **dimensions: Any) -> None:
    log_event(
        logger, "messaging.webhook_rejected", logging.WARNING, status=status, reason=reason, **dimensions
    )


def handle_activity(req: func.HttpRequest, context: Any = None) -> func.HttpResponse:
    try:
        settings = get_settings()
    except SettingsError as exc:
        logger.error("messaging.settings_invalid %s", exc, extra={"event": "messaging.settings_invalid"})
        return problem(503, "Bridge misconfigured", "The bridge's app settings are invalid; see its logs.")
    if settings.delivery_mode is not DeliveryMode.MESSAGING:
        return problem(404, "Not found", "Mode messaging is not enabled on this bridge.")
    from shared.messaging import token_probe
    from shared.messaging.factory import token_validator

    route_conversation = (req.route_params or {}).get("conversationId") or None
    try:
        claims = token_validator().validate_headers(req.headers)
    except TokenRejected as exc:
        # The go-live check compares what Microsoft sends with the settings: a refused token's
        # identifiers (never the token) are kept for it, at most once per conversation.
        token_probe.record_rejection(req.headers, exc.reason, route_conversation, settings=settings)
        if exc.transient:
            _refuse(503, exc.reason)
            return problem(503, "Keys unavailable", "The signing keys could not be read. Retry.",
                           headers={"Retry-After": "5"})  # fmt: skip
        _refuse(401, exc.reason)
        return problem(401, "Unauthorized", "The bearer token was refused.",
                       headers={"WWW-Authenticate": "Bearer"})  # fmt: skip

    token_probe.record_claims(claims, route_conversation, settings=settings)
    conversation_id = (req.route_params or {}).get("conversationId", "")
    if not _valid_conversation_id(conversation_id):
        _refuse(400, "conversation_id")
        return problem(400, "Invalid conversation id", f"1-{CONVERSATION_ID_MAX} characters, {ID_RULE}.")
    raw = req.get_body() or b""
    if len(raw) > MAX_BODY_BYTES:
        _refuse(413, "too_large")
        return problem(413, "Body too large", f"The limit is {MAX_BODY_BYTES} bytes.")
    try:
        activity = parse_activity(raw)
    except ActivityInvalid as exc:
        _refuse(400, str(exc), conversationId=conversation_id)
        return problem(400, "Invalid activity", str(exc))
    if activity.text_cut or activity.attachments_dropped:  # what one outbox row cannot hold
        log_event(logger, "messaging.activity_cut", logging.WARNING, conversationId=conversation_id,
                  textCut=activity.text_cut, attachmentsDropped=activity.attachments_dropped)  # fmt: skip
    if activity.conversation_id and activity.conversation_id != conversation_id:
        log_event(logger, "messaging.conversation_mismatch", logging.WARNING, conversationId=conversation_id)
    kind = activity.kind
    dimensions = {
        "conversationId": conversation_id,
        "activityKind": kind.value,
        "eventName": activity.event_name,
    }
    # A waiting event (out of hours, transfer failed, a rep accepted) matters only with the concierge.
    waiting_event = (
        kind is ActivityKind.SYSTEM_EVENT
        and settings.concierge.enabled
        and is_waiting_event(activity.event_name)
    )
    if kind not in (ActivityKind.REP_MESSAGE, ActivityKind.END) and not waiting_event:
        log_event(logger, "messaging.activity_ignored", **dimensions, appId=claims.app_id)
        return json_response(200, {"status": "ignored", "kind": kind.value})

    parent = current_traceparent(req.headers, context)
    with telemetry.span("messaging.webhook", parent, "server", **dimensions) as span:
        deps = process_deps()
        entry = Entry(
            conversation_id=conversation_id,
            direction=Direction.TO_CUSTOMER,
            kind=_entry_kind(kind),
            text=activity.text
            if kind is ActivityKind.REP_MESSAGE
            else activity.event_name
            if waiting_event
            else None,
            sender_name=activity.sender_name,
            sender_id=activity.sender_id,
            attachments=[a.model_dump(by_alias=False, exclude_none=True) for a in activity.attachments],
            received_at=iso_at(deps.clock()),
            traceparent=span.traceparent() or parent,
        )
        entry = _with_attachment_names(entry, activity.attachments_dropped)
        try:
            outcome = accept(deps, entry, activity.dedup_key)
        except QueueUnavailable as exc:
            span.set_attribute("outcome", "enqueue_failed")
            log_event(logger, "messaging.enqueue_failed", logging.ERROR, **dimensions, error=str(exc))
            return problem(503, "Queue unavailable", "The activity could not be stored. Retry.",
                           headers={"Retry-After": "5"})  # fmt: skip
        span.set_attribute("outcome", outcome)
    log_event(logger, "messaging.activity_" + outcome, **dimensions)
    telemetry.count("messaging.activities", outcome=outcome, kind=kind.value)
    return json_response(200, {"status": "duplicate" if outcome is Accepted.DUPLICATE else "accepted"})


def _entry_kind(kind: ActivityKind) -> EntryKind:
    if kind is ActivityKind.REP_MESSAGE:
        return EntryKind.MESSAGE
    return EntryKind.END if kind is ActivityKind.END else EntryKind.NOTICE


def _with_attachment_names(entry: Entry, dropped: int = 0) -> Entry:
    """Attachments as the relay keeps them (shared/media/refs.py); cards without a URL dropped. Files
    past what one outbox row holds stay as names without a URL, so the customer is told of each."""
    from dataclasses import replace

    refs = [media_ref({"contentType": a.get("content_type"), "contentUrl": a.get("content_url"),
                       "name": a.get("name")}) for a in entry.attachments]  # fmt: skip
    kept = [ref.to_dict() for ref in refs if ref is not None]
    if dropped:  # one stand-in for them all: the customer reads how many did not come
        kept.append(MediaRef(name=f"{dropped} more files", ref_id=f"{DROPPED_PREFIX}{dropped}").to_dict())
    return replace(entry, attachments=kept)
