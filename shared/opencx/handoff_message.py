"""The handoff message between ingress and the worker (contract section 3), schema version 2.

A domain message (the OpenCX event and its enrichment), so it lives with OpenCX's models, not in
shared/platform, which imports nothing above it (pyproject.toml's import-linter contracts).

It carries the event and, once the worker has read it, the enrichment, so a retry never asks
OpenCX again. A storage queue message holds 64 KiB of base64, so the JSON stays under 48 KiB: the
oldest transcript lines go first, then the summary is cut to what Dynamics can show anyway. A
handoff is never refused for its size. Messages queued as v1 before an upgrade are still read
(shared/opencx/legacy_message.py).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.opencx.session import Enrichment
from shared.opencx.webhook import HandoffEvent

MESSAGE_LIMIT_BYTES = 48 * 1024
# Ingress leaves headroom for the enrichment and attempt history the worker adds.
INGRESS_BUDGET_BYTES = 24 * 1024
RETRY_BUDGET_BYTES = MESSAGE_LIMIT_BYTES - 1024
# A dead-letter record embeds the message plus its own fields; this leaves them room.
DEADLETTER_EMBED_BYTES = 40 * 1024
HISTORY_KEPT = 10
SUMMARY_FALLBACK_CHARS = 2_000
LAST_RESORT_CHARS = 200


class AttemptRecord(BaseModel):
    """One failed delivery attempt, kept so a dead-letter record shows the whole story."""

    attempt: int
    at: datetime
    outcome: str
    target: str | None = None  # an Upstream value: opencx, dataverse or messaging
    status: int | None = None
    code: str | None = None
    message: Annotated[str | None, Field(max_length=300)] = None


class HandoffMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    v: Literal[2] = 2
    handoffId: Annotated[str, Field(min_length=1, max_length=256)]
    event: HandoffEvent
    attempt: Annotated[int, Field(ge=0)] = 0  # transient failures so far: bounded by attempts
    throttled: Annotated[int, Field(ge=0)] = 0  # 429 waits so far: bounded by the handoff's age
    receivedAt: datetime
    firstAttemptAt: datetime | None = None
    traceparent: str | None = None
    history: list[AttemptRecord] = Field(default_factory=list)
    enrichment: Enrichment | None = None
    legacyIds: bool = False  # read from a v1 message: Dynamics ids keep the v1 derivation
    dedupPassed: bool = False  # the dedup window was checked and found no open row: not again

    def to_json(self) -> str:
        return self.model_dump_json(exclude_none=True)

    def size(self) -> int:
        return len(self.to_json().encode("utf-8"))

    def next_attempt(self, record: AttemptRecord, *, throttled: bool) -> HandoffMessage:
        """The message to re-enqueue after a transient failure or a 429."""
        following = self.model_copy(
            update={
                "attempt": self.attempt + (0 if throttled else 1),
                "throttled": self.throttled + (1 if throttled else 0),
                "history": [*self.history, record][-HISTORY_KEPT:],
            }
        )
        return fit_to_budget(following, RETRY_BUDGET_BYTES)


def _json_size(model: BaseModel) -> int:
    return len(model.model_dump_json(exclude_none=True).encode("utf-8"))


def _keep_newest_lines(message: HandoffMessage, enrichment: Enrichment, budget: int) -> HandoffMessage:
    """Drop the oldest transcript lines until the message fits, computing sizes once per line."""
    lines = enrichment.transcript
    bare = message.model_copy(
        update={"enrichment": enrichment.model_copy(update={"transcript": [], "transcriptTruncated": True})}
    )
    room = budget - bare.size()
    kept = 0
    for line in reversed(lines):
        cost = _json_size(line) + (1 if kept else 0)
        if cost > room:
            break
        room -= cost
        kept += 1
    newest = lines[len(lines) - kept :] if kept else []
    return bare.model_copy(
        update={
            "enrichment": enrichment.model_copy(update={"transcript": newest, "transcriptTruncated": True})
        }
    )


def _cut_texts(message: HandoffMessage, limit: int) -> HandoffMessage:
    """Every long free text cut to `limit` characters, the attempt history dropped."""
    event = message.event
    event = event.model_copy(
        update={
            "summary": event.summary[:limit] if event.summary else event.summary,
            "message": event.message[:limit] if event.message else event.message,
            "summaryTruncated": event.summaryTruncated or len(event.summary or "") > limit,
        }
    )
    enrichment = message.enrichment
    if enrichment is not None and enrichment.summary:
        enrichment = enrichment.model_copy(update={"summary": enrichment.summary[:limit]})
    return message.model_copy(update={"event": event, "enrichment": enrichment, "history": []})


def fit_to_budget(message: HandoffMessage, budget: int = INGRESS_BUDGET_BYTES) -> HandoffMessage:
    """Trim the message until its JSON fits `budget` bytes. Never raises for size, and the result
    always fits: the oldest transcript lines go first, then long texts are cut (2,000 characters:
    what Dynamics shows anyway), and as a last resort the transcript goes and texts are cut to 200."""
    if message.size() <= budget:
        return message
    if message.enrichment is not None and message.enrichment.transcript:
        message = _keep_newest_lines(message, message.enrichment, budget)
        if message.size() <= budget:
            return message
    for limit in (SUMMARY_FALLBACK_CHARS, LAST_RESORT_CHARS):
        message = _cut_texts(message, limit)
        if message.size() > budget and message.enrichment is not None and message.enrichment.transcript:
            message = _keep_newest_lines(message, message.enrichment, budget)
        if message.size() <= budget:
            return message
    return message


def build_message(
    handoff_id: str, event: HandoffEvent, received_at: datetime, traceparent: str | None
) -> HandoffMessage:
    """The first queue message of a handoff, trimmed to the ingress budget."""
    message = HandoffMessage(
        handoffId=handoff_id, event=event, receivedAt=received_at, traceparent=traceparent
    )
    return fit_to_budget(message)


def parse_message(raw: str | bytes) -> HandoffMessage:
    """Decode a queue message body, v2 or v1. Raises pydantic.ValidationError when it is neither."""
    try:
        decoded: Any = json.loads(raw)
    except ValueError:
        decoded = None
    version = decoded.get("v") if isinstance(decoded, dict) else None
    if version == 1:
        # Only a queue written before an upgrade holds v1: its models load when one arrives.
        from shared.opencx.legacy_message import upgrade

        return HandoffMessage(**upgrade(raw))
    legacy = isinstance(decoded, dict) and decoded.get("legacyIds") is True
    return HandoffMessage.model_validate_json(raw, context={"legacy_ids": legacy})


__all__ = [
    "DEADLETTER_EMBED_BYTES",
    "AttemptRecord",
    "HandoffMessage",
    "ValidationError",
    "build_message",
    "fit_to_budget",
    "parse_message",
]
