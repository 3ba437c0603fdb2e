"""The queue message between ingress and the worker (DESIGN section 3), schema version 1.

A storage queue message holds 64 KiB of base64, so the JSON must stay under 48 KiB. A handoff is
never refused for its size: the oldest transcript lines go first, then metadata, and as a last
resort the summary is cut to what the live work item can show anyway.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.opencx.webhook import Handoff

MESSAGE_LIMIT_BYTES = 48 * 1024
# Ingress leaves headroom for the attempt history the worker appends on each retry.
INGRESS_BUDGET_BYTES = 44 * 1024
# A re-enqueued message, history included, still fits the queue's limit with a margin.
RETRY_BUDGET_BYTES = MESSAGE_LIMIT_BYTES - 1024
# A dead-letter record embeds the message plus its own fields; this leaves them room.
DEADLETTER_EMBED_BYTES = 40 * 1024
HISTORY_KEPT = 10
SUMMARY_FALLBACK_CHARS = 2_000


class AttemptRecord(BaseModel):
    """One failed delivery attempt, kept so a dead-letter record shows the whole story."""

    attempt: int
    at: datetime
    outcome: str
    status: int | None = None
    code: str | None = None
    message: Annotated[str | None, Field(max_length=300)] = None


class HandoffMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    v: Literal[1] = 1
    handoffId: Annotated[str, Field(min_length=1, max_length=256)]
    attempt: Annotated[int, Field(ge=0)] = 0
    receivedAt: datetime
    firstAttemptAt: datetime | None = None
    traceparent: str | None = None
    handoff: Handoff
    history: list[AttemptRecord] = Field(default_factory=list)

    def to_json(self) -> str:
        return self.model_dump_json(exclude_none=True)

    def size(self) -> int:
        return len(self.to_json().encode("utf-8"))

    def next_attempt(self, record: AttemptRecord, first_attempt_at: datetime) -> HandoffMessage:
        """The message to re-enqueue after a transient failure."""
        history = [*self.history, record][-HISTORY_KEPT:]
        following = self.model_copy(
            update={
                "attempt": self.attempt + 1,
                "firstAttemptAt": self.firstAttemptAt or first_attempt_at,
                "history": history,
            }
        )
        return fit_to_budget(following, RETRY_BUDGET_BYTES)


def _json_size(model: BaseModel) -> int:
    return len(model.model_dump_json(exclude_none=True).encode("utf-8"))


def _keep_newest_lines(message: HandoffMessage, budget: int) -> HandoffMessage:
    """Drop the oldest transcript lines until the message fits, computing sizes once per line."""
    lines = message.handoff.transcript
    bare = message.model_copy(
        update={"handoff": message.handoff.model_copy(update={"transcript": [], "transcriptTruncated": True})}
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
            "handoff": bare.handoff.model_copy(update={"transcript": newest, "transcriptTruncated": True})
        }
    )


def fit_to_budget(message: HandoffMessage, budget: int = INGRESS_BUDGET_BYTES) -> HandoffMessage:
    """Trim the message until its JSON fits `budget` bytes. Never raises for size."""
    if message.size() <= budget:
        return message
    message = _keep_newest_lines(message, budget)
    if message.size() <= budget:
        return message
    handoff = message.handoff.model_copy(update={"metadata": {}, "metadataTruncated": True})
    message = message.model_copy(update={"handoff": handoff})
    if message.size() <= budget:
        return message
    handoff = message.handoff.model_copy(
        update={"summary": message.handoff.summary[:SUMMARY_FALLBACK_CHARS], "summaryTruncated": True}
    )
    return message.model_copy(update={"handoff": handoff})


def build_message(
    handoff_id: str, handoff: Handoff, received_at: datetime, traceparent: str | None
) -> HandoffMessage:
    """The first queue message of a handoff, trimmed to the ingress budget."""
    message = HandoffMessage(
        handoffId=handoff_id, receivedAt=received_at, traceparent=traceparent, handoff=handoff
    )
    return fit_to_budget(message)


def parse_message(raw: str | bytes) -> HandoffMessage:
    """Decode a queue message body. Raises pydantic.ValidationError when it is not a v1 message."""
    return HandoffMessage.model_validate_json(raw)
