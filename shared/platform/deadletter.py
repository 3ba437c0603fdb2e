"""Dead-letter records: what failed, why, and what an operator should do about it.

They go to `<HANDOFF_QUEUE>-deadletter` with no expiry. Each keeps the original message so the
replay tool can re-drive it once the cause is fixed; replays are safe because creation is
idempotent on the handoffId.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, Field

from shared.platform.masking import scrub_text
from shared.platform.queue_message import AttemptRecord
from shared.platform.queues import NEVER_EXPIRES, QueueProfile, queue_client, send
from shared.platform.settings import Settings


class DeadLetterReason(StrEnum):
    INVALID_MESSAGE = "invalid_message"
    PERMANENT_ERROR = "permanent_error"
    ATTEMPTS_EXHAUSTED = "attempts_exhausted"


_ACTIONS = {
    400: "Dataverse refused the work item as invalid. Read errorMessage; a customisation may require a field.",
    401: "The managed identity has no Dataverse application user (or the token audience is wrong). "
    "Register it as an application user, then replay.",
    403: "The application user's security role lacks privileges on msdyn_ocliveworkitem, "
    "msdyn_ocliveworkitemcontextitem, contact or msdyn_liveworkstream. Fix the role, then replay.",
    404: "DEFAULT_QUEUE_ID does not name an existing workstream (msdyn_liveworkstream). Fix the setting, then replay.",
}


def operator_action(reason: DeadLetterReason, status: int | None) -> str:
    if reason is DeadLetterReason.INVALID_MESSAGE:
        return "The queue message is not a v1 handoff message. It cannot be replayed as is; find its sender."
    if reason is DeadLetterReason.ATTEMPTS_EXHAUSTED:
        return (
            f"Dataverse kept failing transiently (last status {status or 'no answer'}). Check the environment's "
            "health and API limits, then replay."
        )
    return _ACTIONS.get(
        status or 0, f"Dataverse answered {status}. Read errorMessage, fix the cause, then replay."
    )


class DeadLetterRecord(BaseModel):
    v: Literal[1] = 1
    reason: DeadLetterReason
    action: str
    handoffId: str | None = None
    sessionId: str | None = None
    lastStatus: int | None = None
    errorCode: str | None = None
    errorMessage: str | None = None
    attempts: int
    firstAttemptAt: datetime | None = None
    lastAttemptAt: datetime
    deadLetteredAt: datetime = Field(default_factory=lambda: datetime.now(UTC))
    history: list[AttemptRecord] = Field(default_factory=list)
    message: dict[str, Any] | None = None
    rawMessage: str | None = None


def make_record(
    reason: DeadLetterReason,
    *,
    status: int | None,
    error_code: str | None,
    error_message: str | None,
    **fields: Any,
) -> DeadLetterRecord:
    return DeadLetterRecord(
        reason=reason,
        action=operator_action(reason, status),
        lastStatus=status,
        errorCode=error_code,
        errorMessage=scrub_text(error_message)[:500] if error_message else None,
        **fields,
    )


def dead_letter(record: DeadLetterRecord, settings: Settings) -> None:
    """Write the record with no expiry. Raises QueueUnavailable, so the original is kept."""
    client = queue_client(settings.deadletter_queue, QueueProfile.WORKER)
    send(client, record.model_dump_json(exclude_none=True), time_to_live=NEVER_EXPIRES)
