"""Dead-letter records: what failed, why, and what an operator should do about it.

Every queue's dead letters go through `dead_letter`: to `<queue>-deadletter` (`<HANDOFF_QUEUE>-deadletter`,
`<MESSAGING_QUEUE>-deadletter`) with no expiry, a raw message cut to fit the queue. Each keeps the
original message so the replay tool can re-drive it once the cause is fixed; replays are safe because
creation is idempotent on the handoffId.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, Field

from shared.platform.limits import DEAD_LETTER_RAW_MAX_BYTES
from shared.platform.masking import scrub_text
from shared.platform.queues import NEVER_EXPIRES, QueueProfile, queue_client, send
from shared.platform.settings import deadletter_queue_of


class DeadLetterReason(StrEnum):
    INVALID_MESSAGE = "invalid_message"
    PERMANENT_ERROR = "permanent_error"
    ATTEMPTS_EXHAUSTED = "attempts_exhausted"
    TOO_OLD = "too_old"
    OPENCX_SESSION_NOT_FOUND = "opencx_session_not_found"
    OPENCX_UNAUTHORIZED = "opencx_unauthorized"
    OPENCX_FORBIDDEN = "opencx_forbidden"
    OPENCX_REFUSED = "opencx_refused"


_DATAVERSE_ACTIONS = {
    400: "Dataverse refused the row as invalid. Read errorCode; a customisation may require a field "
    "(INCIDENT_EXTRA_FIELDS can supply it), then replay.",
    401: "The managed identity has no Dataverse application user (or the token audience is wrong). "
    "Register it as an application user, then replay.",
    403: "The application user's security role lacks a privilege on msdyn_ocliveworkitem, incident, "
    "contact, queue or msdyn_liveworkstream (see docs/deploy.md). Fix the role, then replay.",
    404: "A bound row does not exist: the workstream (DEFAULT_QUEUE_ID / WORKSTREAM_ID_<CHANNEL>), "
    "INCIDENT_OWNER_ID or INCIDENT_QUEUE_ID. Fix the setting, then replay.",
}
_OPENCX_ACTIONS = {
    DeadLetterReason.OPENCX_SESSION_NOT_FOUND: "OpenCX has no session with this conversation_id: the event "
    "came from another workspace (check OPENCX_API_URL and the key's organisation) or the session was deleted.",
    DeadLetterReason.OPENCX_UNAUTHORIZED: "OpenCX refused OPENCX_API_KEY (401): the key is wrong or revoked. "
    "Put a valid key in Key Vault, then replay.",
    DeadLetterReason.OPENCX_FORBIDDEN: "OpenCX refused the key's scope (403): give the key chat-sessions:read "
    "(and chat-sessions:write in mode messaging), then replay.",
    DeadLetterReason.OPENCX_REFUSED: "OpenCX refused the request as invalid. Read errorMessage, then replay.",
}


def operator_action(reason: DeadLetterReason, status: int | None, target: str | None = None) -> str:
    if reason is DeadLetterReason.INVALID_MESSAGE:
        return "The queue message is not a handoff message (v1 or v2). It cannot be replayed as is; find its sender."
    if reason in _OPENCX_ACTIONS:
        return _OPENCX_ACTIONS[reason]
    upstream = "OpenCX" if target == "opencx" else "Dataverse"
    if reason is DeadLetterReason.ATTEMPTS_EXHAUSTED:
        return (
            f"{upstream} kept failing transiently (last status {status or 'no answer'}). Check its health "
            "and API limits, then replay."
        )
    if reason is DeadLetterReason.TOO_OLD:
        return (
            f"{upstream} kept throttling (429) until the handoff was older than HANDOFF_MAX_AGE_SECONDS. "
            "Check the API limits and the load, then replay."
        )
    return _DATAVERSE_ACTIONS.get(
        status or 0, f"Dataverse answered {status}. Read errorCode, fix the cause, then replay."
    )


class DeadLetterRecord(BaseModel):
    v: Literal[1] = 1
    reason: DeadLetterReason
    action: str
    handoffId: str | None = None
    sessionId: str | None = None
    target: str | None = None  # the upstream whose answer decided: opencx or dataverse
    lastStatus: int | None = None
    errorCode: str | None = None
    errorMessage: str | None = None
    attempts: int
    firstAttemptAt: datetime | None = None
    lastAttemptAt: datetime
    deadLetteredAt: datetime = Field(default_factory=lambda: datetime.now(UTC))
    message: dict[str, Any] | None = None
    rawMessage: str | None = None


def make_record(
    reason: DeadLetterReason,
    *,
    status: int | None,
    error_code: str | None,
    error_message: str | None,
    target: str | None = None,
    **fields: Any,
) -> DeadLetterRecord:
    return DeadLetterRecord(
        reason=reason,
        action=operator_action(reason, status, target),
        target=target,
        lastStatus=status,
        errorCode=error_code,
        errorMessage=scrub_text(error_message)[:500] if error_message else None,
        **fields,
    )


def fit_json_text(text: str, limit: int = DEAD_LETTER_RAW_MAX_BYTES) -> str:
    """The longest prefix of `text` whose JSON-escaped UTF-8 form (as it sits in the record) is at
    most `limit` bytes. Cut by characters, never inside one; escapes (\\n, \\u0000) and multi-byte
    characters count at their real size, so the record stays within the queue's limit."""
    size = len(json.dumps(text).encode("utf-8"))
    while size > limit:
        text = text[: max(0, len(text) * limit // size - 16)]
        size = len(json.dumps(text).encode("utf-8"))
    return text


def dead_letter(record: DeadLetterRecord, work_queue: str) -> None:
    """Write the record to `<work_queue>-deadletter` with no expiry, its raw message bounded.
    Raises QueueUnavailable, so the original is kept."""
    if record.rawMessage is not None:
        record = record.model_copy(update={"rawMessage": fit_json_text(record.rawMessage)})
    client = queue_client(deadletter_queue_of(work_queue), QueueProfile.WORKER)
    send(client, record.model_dump_json(exclude_none=True), time_to_live=NEVER_EXPIRES)
