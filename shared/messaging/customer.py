"""Customer -> rep (docs/messaging.md, "How the loop is wired"): OpenCX's `conversation.contact_response` and
`conversation.closed` events for a mapped session, appended to the conversation's outbox toward
the rep and relayed by shared/messaging/relay.py.

The fields of `contact_response` are not documented: the text is the event's `message` when it is
a non-blank string (the shape OpenCX's own samples show) and the event mentions no files, else the
entry carries no text and the relay reads the session's history for contact messages (words and
files) newer than the last one forwarded. Dedup:
the event's `id`/`message_id` when there is one, else a hash of its canonical `data`, scoped to the
conversation; a session with no mapping, or a closed one, is answered 200 and ignored.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

import azure.functions as func

from shared.messaging.accept import Accepted, accept
from shared.messaging.deps import process_deps
from shared.messaging.outbox import Direction, Entry, EntryKind
from shared.messaging.store import StoreUnavailable
from shared.opencx.events import CLOSED, CUSTOMER_EVENTS
from shared.platform import telemetry
from shared.platform.limits import MESSAGING_TEXT_MAX_CHARS
from shared.platform.log import get_logger, log_event
from shared.platform.problem import json_response, problem
from shared.platform.queues import QueueUnavailable
from shared.platform.settings import Settings
from shared.platform.times import iso_at
from shared.platform.tracing import current_traceparent

logger = get_logger("customer_events")


def _data(body: dict[str, Any]) -> dict[str, Any]:
    data = body.get("data")
    if isinstance(data, list) and len(data) == 1:
        data = data[0]
    return data if isinstance(data, dict) else {}


_FILE_KEYS = ("attachments", "media", "files")


def mentions_files(data: dict[str, Any]) -> bool:
    """The event documents no attachments; should a revision carry any (a non-empty `attachments`,
    `media` or `files`, at the top or in `message`), the message is read from the history, where
    OpenCX's API shows files (shared/opencx/media.py), instead of from the event's text alone."""
    message = data.get("message")
    places: list[dict[str, Any]] = [data, message if isinstance(message, dict) else {}]
    return any(
        isinstance(place.get(key), list) and bool(place.get(key)) for place in places for key in _FILE_KEYS
    )


def dedup_key(event_name: str, data: dict[str, Any]) -> str:
    if event_name == CLOSED:
        return "closed"  # one end per conversation, however often OpenCX says it
    for name in ("message_id", "messageId", "id"):
        value = data.get(name)
        if isinstance(value, str | int) and str(value).strip():
            return f"id:{value}"
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def _ignored(reason: str, event_name: str) -> func.HttpResponse:
    return json_response(200, {"status": "ignored", "ignored": True, "event": event_name, "reason": reason})


def accept_customer_event(
    event_name: str, body: dict[str, Any], settings: Settings, req: func.HttpRequest, context: Any = None
) -> func.HttpResponse | None:
    """The answer for a customer event, or None when the event is not one of ours."""
    if event_name not in CUSTOMER_EVENTS:
        return None
    data = _data(body)
    session_id = data.get("conversation_id")
    if not isinstance(session_id, str) or not session_id.strip() or len(session_id) > 256:
        return _ignored("no_conversation_id", event_name)
    deps = process_deps()
    try:
        link = deps.links.by_session(session_id)
    except StoreUnavailable as exc:
        log_event(logger, "mapping.unavailable", logging.WARNING, sessionId=session_id, error=str(exc))
        return problem(503, "Mapping unavailable", "Retry the delivery.", headers={"Retry-After": "5"})
    if link is None or not link.open:
        log_event(logger, "customer_event.ignored", sessionId=session_id, eventType=event_name,
                  reason="unmapped" if link is None else "closed")  # fmt: skip
        return _ignored("unmapped" if link is None else "closed", event_name)
    text = data.get("message")
    text = text.strip()[:MESSAGING_TEXT_MAX_CHARS] if isinstance(text, str) and text.strip() else None
    if mentions_files(data):
        text = None  # the words and the files are read together from the history, as one message
    raw_contact = data.get("contact")
    contact: dict[str, Any] = raw_contact if isinstance(raw_contact, dict) else {}
    parent = current_traceparent(req.headers, context)
    dimensions = {"sessionId": session_id, "conversationId": link.conversation_id, "eventType": event_name}
    with telemetry.span("messaging.customer_event", parent, "server", **dimensions) as span:
        entry = Entry(
            conversation_id=link.conversation_id,
            direction=Direction.TO_REP,
            kind=EntryKind.END if event_name == CLOSED else EntryKind.MESSAGE,
            text=text,
            sender_name=contact.get("name") if isinstance(contact.get("name"), str) else None,
            received_at=iso_at(deps.clock()),
            traceparent=span.traceparent() or parent,
            event_at=data.get("timestamp") if isinstance(data.get("timestamp"), str) else None,
        )
        try:
            outcome = accept(deps, entry, dedup_key(event_name, data))
        except QueueUnavailable as exc:
            log_event(logger, "customer_event.enqueue_failed", logging.ERROR, **dimensions, error=str(exc))
            return problem(503, "Queue unavailable", "Retry the delivery.", headers={"Retry-After": "5"})
        span.set_attribute("outcome", outcome)
    log_event(logger, "customer_event." + outcome, **dimensions, hasText=text is not None)
    status = "duplicate" if outcome is Accepted.DUPLICATE else "accepted"
    return json_response(200 if status == "duplicate" else 202, {"status": status, "sessionId": session_id})
