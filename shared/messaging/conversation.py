"""Handoff -> Dynamics conversation (DESIGN section 8, "Handoff"), for sms, whatsapp and web in mode
`messaging`.

One conversation per OpenCX session: the mapping table is asked first (an open mapping is reused);
then `customerid` = the OpenCX conversation id makes create return the active conversation rather
than a new one, so a retry after a lost answer or a crash before the mapping was written still
meets the same conversation. `conversationrequestid` carries the handoffId (undocumented, not
relied on). The result is a plain value the worker turns into its Step.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from shared.messaging import mapping
from shared.messaging.bodies import build_create_body, build_start_message
from shared.messaging.client import MessagingClient
from shared.messaging.mapping import MappingUnavailable
from shared.opencx.handoff import Handoff
from shared.platform.http import HttpResult
from shared.platform.log import get_logger, log_event
from shared.platform.settings import Settings

logger = get_logger("conversation")
START_DISPLAY_NAME = "OpenCX handoff"
_ROLE_LABEL = {"customer": "Customer", "ai": "AI agent", "agent": "Agent"}


@dataclass(frozen=True)
class Created:
    response: HttpResult
    conversation_id: str | None = None
    new: bool = True
    operation: str = "create_conversation"

    @property
    def ok(self) -> bool:
        return self.response.ok and bool(self.conversation_id)


def _names(full_name: str | None) -> tuple[str | None, str | None]:
    parts = (full_name or "").split()
    if not parts:
        return None, None
    return parts[0], " ".join(parts[1:]) or None


def conversation_context(handoff: Handoff) -> dict[str, Any]:
    """What a rep needs beside the start message, in priority order (the builder keeps 100)."""
    customer = handoff.customer
    return {
        "sessionId": handoff.session_id,
        "channel": handoff.channel,
        "handoffId": (handoff.handoff_id, False),
        "reason": handoff.reason,
        "contactReason": handoff.contact_reason,
        "sentiment": handoff.sentiment,
        "language": handoff.language,
        "customerName": customer.name,
        "customerPhone": customer.phone,
        "customerEmail": customer.email,
        "transcriptTruncated": handoff.transcript_truncated or None,
    }


def create_body(handoff: Handoff) -> dict[str, Any]:
    first, last = _names(handoff.customer.name)
    lines = [f"{_ROLE_LABEL.get(line.role, line.role)}: {line.text}" for line in handoff.transcript]
    return build_create_body(
        handoff.session_id,
        first_name=first,
        last_name=last,
        preferred_name=handoff.customer.name,
        email=handoff.customer.email,
        phone=handoff.customer.phone,
        context=conversation_context(handoff),
        request_id=handoff.handoff_id,
        start_message=build_start_message(handoff.summary, lines),
        start_display_name=START_DISPLAY_NAME,
        skip_deflection_bot=True,
    )


def start_conversation(handoff: Handoff, client: MessagingClient, settings: Settings) -> Created:
    """The session's open conversation, or a new one recorded in the mapping table."""
    try:
        known = mapping.session_mapping(handoff.session_id, settings)
    except MappingUnavailable as exc:
        log_event(
            logger, "mapping.unavailable", logging.WARNING, handoffId=handoff.handoff_id, error=str(exc)
        )
        known = None  # customerid idempotency still returns the active conversation
    if known is not None and known.state == "open":
        return Created(HttpResult(status=200), known.conversation_id, new=False, operation="mapping")
    answer = client.create_conversation(create_body(handoff))
    response = HttpResult(
        status=answer.status,
        body=answer.body,
        error_code=answer.error_code,
        error_message=answer.error_message,
        retry_after=answer.retry_after,
        transport_error=answer.transport_error,
        correlation_id=answer.correlation_id,
    )
    if not answer.ok:
        return Created(response)
    if not answer.conversation_id:
        # A 2xx without an id: nothing to record. Treated as a transient failure by the caller.
        return Created(HttpResult(status=502, error_message="create answered without a conversationId"))
    try:
        mapping.record_mapping(
            handoff.session_id, answer.conversation_id, handoff.handoff_id, handoff.channel, settings
        )
    except MappingUnavailable as exc:
        # Without the mapping the relay cannot route: retry; create gives the same conversation back.
        log_event(
            logger, "mapping.unavailable", logging.WARNING, handoffId=handoff.handoff_id, error=str(exc)
        )
        return Created(
            HttpResult(status=503, error_message="mapping table unavailable"), operation="record_mapping"
        )
    log_event(
        logger, "conversation.started", handoffId=handoff.handoff_id, sessionId=handoff.session_id,
        conversationId=answer.conversation_id, isNew=answer.is_new, correlationId=answer.correlation_id,
    )  # fmt: skip
    return Created(response, answer.conversation_id, new=answer.is_new is not False)
