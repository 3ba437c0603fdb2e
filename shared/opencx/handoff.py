"""The handoff as the Dynamics side sees it: the webhook event joined with what the API told us."""

from __future__ import annotations

from dataclasses import dataclass, field

from shared.opencx.session import Customer, Enrichment, TranscriptLine
from shared.opencx.webhook import HandoffEvent

FALLBACK_SUMMARY = "The customer asked to talk to a person."


@dataclass(frozen=True)
class Handoff:
    handoff_id: str
    session_id: str
    channel: str
    summary: str
    customer: Customer = field(default_factory=Customer)
    language: str | None = None
    reason: str | None = None
    contact_reason: str | None = None
    sentiment: str | None = None
    transcript: tuple[TranscriptLine, ...] = ()
    transcript_truncated: bool = False
    # v1 queue messages (the old invented contract) derived Dynamics ids from the handoffId alone;
    # a message written before an upgrade keeps that derivation, so a retry meets its own row.
    legacy_ids: bool = False


def join(handoff_id: str, event: HandoffEvent, enrichment: Enrichment) -> Handoff:
    """The event's summary when it has one, else the session's, else a plain sentence: a rep never
    sees a blank subject."""
    return Handoff(
        handoff_id=handoff_id,
        session_id=event.conversation_id,
        channel=enrichment.channel,
        summary=event.summary or enrichment.summary or FALLBACK_SUMMARY,
        customer=enrichment.customer,
        language=event.language or enrichment.language,
        reason=event.reason,
        contact_reason=event.contact_reason,
        sentiment=event.user_sentiment,
        transcript=tuple(enrichment.transcript),
        transcript_truncated=enrichment.transcriptTruncated,
    )
