"""Handoff -> Dynamics conversation, for sms, whatsapp and web in mode `messaging`.

`create` with `customerid` = the OpenCX session id is the documented way to get the session's live
conversation, or a new one when there is none (`api-conversation-create.md`), so every handoff asks
it: a mapping that says "open" may describe a conversation Dynamics ended silently since. When the
answer names another conversation than the mapping, the session moves to it. A retry after a lost
answer or a crash before the mapping was written meets the same live conversation.
`conversationrequestid` carries the handoffId (undocumented, not relied on).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from shared.messaging.bodies import build_create_body, build_start_message
from shared.messaging.deps import RelayDeps
from shared.messaging.store import StoreUnavailable
from shared.opencx.handoff import Handoff
from shared.platform.failure import Failure, FailureKind, Upstream
from shared.platform.http import HttpResult
from shared.platform.log import get_logger, log_event

logger = get_logger("conversation")
START_DISPLAY_NAME = "OpenCX handoff"
_ROLE_LABEL = {"customer": "Customer", "ai": "AI agent", "agent": "Agent"}


@dataclass(frozen=True)
class Created:
    operation: str
    conversation_id: str | None = None
    new: bool = True
    response: HttpResult | None = None  # the create answer, when there was one
    failure: Failure | None = None

    @property
    def ok(self) -> bool:
        return self.failure is None and bool(self.conversation_id)


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
    lines = [f"{_ROLE_LABEL.get(line.role, line.role)}: {line.shown}" for line in handoff.transcript]
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


def start_conversation(handoff: Handoff, deps: RelayDeps) -> Created:
    """The session's live conversation or a new one, recorded as the session's current one."""
    messaging = deps.messaging
    if messaging is None:
        failure = Failure(Upstream.MESSAGING, FailureKind.UNREACHABLE, message="mode messaging is off")
        return Created("create_conversation", failure=failure)
    body = create_body(handoff)
    answer = messaging.create_conversation(body)
    if not answer.ok:
        return Created("create_conversation", response=answer, failure=Failure.of(Upstream.MESSAGING, answer))
    if not answer.conversation_id:
        failure = Failure(Upstream.MESSAGING, FailureKind.MALFORMED, status=answer.status,
                          message="create answered without a conversationId")  # fmt: skip
        return Created("create_conversation", response=answer, failure=failure)
    context = {
        "customercontext": body["customercontext"],
        "conversationcontext": body.get("conversationcontext"),
    }
    try:
        deps.links.record(
            handoff.session_id, answer.conversation_id, handoff.handoff_id, handoff.channel, now=deps.clock(),
            context=context, start_message_id=answer.message_id if answer.is_new is not False else None,
        )  # fmt: skip
    except StoreUnavailable as exc:
        # Without the mapping the relay cannot route: retry; create gives the same conversation back.
        log_event(
            logger, "mapping.unavailable", logging.WARNING, handoffId=handoff.handoff_id, error=str(exc)
        )
        failure = Failure(Upstream.STORAGE, FailureKind.TRANSIENT, message="mapping table unavailable")
        return Created("record_mapping", response=answer, failure=failure)
    log_event(
        logger, "conversation.started", handoffId=handoff.handoff_id, sessionId=handoff.session_id,
        conversationId=answer.conversation_id, isNew=answer.is_new, correlationId=answer.correlation_id,
    )  # fmt: skip
    return Created(
        "create_conversation", answer.conversation_id, new=answer.is_new is not False, response=answer
    )
