"""Handoff messages of schema version 1, the old invented contract, read as version 2. Queues written
before an upgrade may still hold them; the worker imports this module only when one arrives."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.opencx.events import HANDOFF_TO_HUMAN
from shared.opencx.session import Customer, Enrichment, TranscriptLine
from shared.opencx.webhook import HandoffEvent


class _LegacyCustomer(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str | None = None
    phone: str | None = None
    email: str | None = None


class _LegacyLine(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: str
    text: str
    sentAt: datetime | None = None


class _LegacyHandoff(BaseModel):
    model_config = ConfigDict(extra="ignore")

    sessionId: str
    channel: str
    summary: str
    customer: _LegacyCustomer | None = None
    language: str | None = None
    transcript: list[_LegacyLine] | None = None


class _LegacyMessage(BaseModel):
    """v1, the old invented contract: the handoff carried channel, customer and transcript itself."""

    model_config = ConfigDict(extra="ignore")

    v: Literal[1]
    handoffId: str
    attempt: int = 0
    receivedAt: datetime
    firstAttemptAt: datetime | None = None
    traceparent: str | None = None
    handoff: _LegacyHandoff
    history: list[dict[str, Any]] = Field(default_factory=list)  # v2 validates them (AttemptRecord)


def upgrade(raw: str | bytes) -> dict[str, Any]:
    """A v1 message as the fields of a v2 one, its enrichment complete: nothing is fetched for it.
    Raises pydantic.ValidationError when it is not a v1 message."""
    legacy = _LegacyMessage.model_validate_json(raw)
    handoff = legacy.handoff
    customer = handoff.customer or _LegacyCustomer()
    lines = [
        TranscriptLine(role=line.role, text=line.text, at=line.sentAt.isoformat() if line.sentAt else None)
        for line in handoff.transcript or []
    ]
    return dict(
        handoffId=legacy.handoffId,
        # Built without v2's identifier rules: v1 accepted ids v2 refuses (`/ # ?`), and such a
        # message must still be delivered. OpenCX is never asked about it (its enrichment is whole).
        event=HandoffEvent.model_construct(
            event=HANDOFF_TO_HUMAN,
            conversation_id=handoff.sessionId,
            timestamp=legacy.receivedAt.isoformat(),
            summary=handoff.summary,
            language=handoff.language,
            summaryTruncated=False,
        ),
        attempt=legacy.attempt,
        receivedAt=legacy.receivedAt,
        firstAttemptAt=legacy.firstAttemptAt,
        traceparent=legacy.traceparent,
        history=legacy.history,
        enrichment=Enrichment(
            channel=handoff.channel,
            customer=Customer(name=customer.name, phone=customer.phone, email=customer.email),
            transcript=lines,
            historyComplete=True,
        ),
        legacyIds=True,
    )
