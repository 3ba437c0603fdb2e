"""Deliver one handoff: enrich from OpenCX, skip a duplicate, create the Dynamics row.

Each step returns a `Step` instead of raising, so the worker decides in one place what a failure
means (retry, wait, dead-letter). Nothing here writes to a queue or the status table.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime

from shared.dynamics.contact import ContactMatch, find_contact
from shared.dynamics.dataverse import DataverseClient
from shared.dynamics.incident import ENTITY_SET as INCIDENTS
from shared.dynamics.incident import create_incident
from shared.dynamics.rows import get_row, is_open
from shared.dynamics.work_item import ENTITY_SET as WORK_ITEMS
from shared.dynamics.work_item import create_work_item
from shared.opencx.client import OpenCXClient
from shared.opencx.enrich import fetch
from shared.opencx.handoff import Handoff, join
from shared.opencx.handoff_message import HandoffMessage
from shared.platform.http import HttpResult
from shared.platform.log import get_logger, log_event
from shared.platform.retry_policy import Outcome, classify
from shared.platform.settings import DeliveryMode, Settings
from shared.platform.status_store import Status, StoreProfile, StoreUnavailable, session_rows

logger = get_logger("delivery")


@dataclass(frozen=True)
class Step:
    """Where a delivery ended: its outcome, the upstream and answer that decided it, and the ids."""

    outcome: Outcome
    target: str  # opencx | dataverse
    operation: str
    response: HttpResult
    fields: dict[str, object] = field(default_factory=dict)  # what the status row records on success
    status: Status = Status.CREATED
    new_row: bool = True  # False: an earlier attempt had created it


def _failed(target: str, operation: str, response: HttpResult) -> Step:
    return Step(classify(response.status), target, operation, response)


def enrich(
    message: HandoffMessage, client: OpenCXClient, settings: Settings
) -> tuple[HandoffMessage, Step | None]:
    """The message with what OpenCX told us (kept even when a later page failed), and the failure."""
    enrichment = message.enrichment
    if enrichment is not None and enrichment.historyComplete:
        return message, None
    fetched = fetch(client, message.event.conversation_id, enrichment, settings.history_max_pages)
    message = message.model_copy(update={"enrichment": fetched.enrichment})
    if fetched.failure is not None:
        return message, _failed("opencx", fetched.failed_operation or "opencx", fetched.failure)
    if fetched.enrichment is not None and fetched.enrichment.droppedEmail:
        log_event(
            logger, "opencx.email_dropped", logging.WARNING, handoffId=message.handoffId, reason="invalid"
        )
    return message, None


def handoff_of(message: HandoffMessage) -> Handoff:
    assert message.enrichment is not None
    handoff = join(message.handoffId, message.event, message.enrichment)
    if message.legacyIds:
        from dataclasses import replace

        handoff = replace(handoff, legacy_ids=True)
    return handoff


def open_duplicate(
    handoff: Handoff, client: DataverseClient, settings: Settings, now: datetime
) -> tuple[str | None, Step | None]:
    """The id of a row this conversation got less than HANDOFF_DEDUP_WINDOW_SECONDS ago that is still
    open, else None. A status table that cannot be read does not block the handoff."""
    if settings.dedup_window_seconds <= 0:
        return None, None
    try:
        rows = session_rows(handoff.session_id, StoreProfile.WORKER)
    except StoreUnavailable as exc:
        log_event(
            logger, "status_store.unavailable", logging.WARNING, handoffId=handoff.handoff_id, error=str(exc)
        )
        return None, None
    for row in rows:
        created_at = row.get("createdAt")
        if (
            row.get("handoffId") == handoff.handoff_id
            or row.get("status") != Status.CREATED.value
            or not created_at
        ):
            continue
        age = (now - datetime.fromisoformat(str(created_at))).total_seconds()
        if age > settings.dedup_window_seconds:
            continue
        incident = row.get("dynamics365_incident_id")
        entity_set, row_id = (
            (INCIDENTS, incident) if incident else (WORK_ITEMS, row.get("dynamics365_chat_id"))
        )
        if not row_id:
            continue
        answer = get_row(client, entity_set, str(row_id), "statecode", "get_earlier_row")
        if answer.ok:
            return (str(row_id), None) if is_open(answer) else (None, None)
        if answer.status == 404:
            return None, None  # deleted: the customer gets a new one
        if classify(answer.status) in (Outcome.TRANSIENT, Outcome.THROTTLED):
            return None, _failed("dataverse", "get_earlier_row", answer)
        return None, None  # cannot read it (a privilege): creating beats losing the handoff
    return None, None


def _contact(handoff: Handoff, client: DataverseClient) -> tuple[ContactMatch, Step | None]:
    contact = find_contact(client, handoff.customer)
    if contact.response is None:
        return contact, None
    if classify(contact.response.status) in (Outcome.TRANSIENT, Outcome.THROTTLED):
        return contact, _failed("dataverse", "contact_lookup", contact.response)
    # Refused for good (e.g. no read privilege on contact): a customer must not wait for that.
    log_event(
        logger, "contact.lookup_failed", logging.WARNING,
        handoffId=handoff.handoff_id, status=contact.response.status, errorCode=contact.response.error_code,
    )  # fmt: skip
    return contact, None


def _messaging_live_chat(handoff: Handoff, settings: Settings) -> bool:
    return settings.delivery_mode is DeliveryMode.MESSAGING and handoff.channel in ("sms", "whatsapp", "web")


def to_conversation(handoff: Handoff, settings: Settings) -> Step:
    """Mode messaging: a Messaging API conversation (shared/messaging/conversation.py)."""
    from shared.messaging.conversation import start_conversation
    from shared.messaging.deps import process_deps

    created = start_conversation(handoff, process_deps())
    if created.failure is not None:
        failure = created.failure
        answer = created.response or HttpResult(
            status=failure.status, error_code=failure.code, error_message=failure.message,
            retry_after=failure.retry_after, transport_error=None if failure.status else failure.kind.value,
        )  # fmt: skip
        return Step(failure.outcome, failure.upstream.value, created.operation, answer)
    fields: dict[str, object] = {"dynamics365_chat_id": created.conversation_id, "deliveryMode": "messaging"}
    answer = created.response or HttpResult(status=200)
    return Step(Outcome.SUCCESS, "messaging", created.operation, answer, fields, new_row=created.new)


def to_dynamics(handoff: Handoff, client: DataverseClient, settings: Settings) -> Step:
    """A live work item for sms, whatsapp and web; an incident for every other channel."""
    if _messaging_live_chat(handoff, settings):
        return to_conversation(handoff, settings)
    contact, failure = _contact(handoff, client)
    if failure is not None:
        return failure
    if handoff.channel in ("sms", "whatsapp", "web"):
        created, contact = create_work_item(
            client, handoff, settings.workstream_for(handoff.channel), contact
        )
        if not created.ok:
            return _failed("dataverse", "create_work_item", created.response)
        fields: dict[str, object] = {
            "dynamics365_chat_id": created.row_id,
            "contactLinkage": contact.linkage.value,
        }
        return Step(
            Outcome.SUCCESS,
            "dataverse",
            "create_work_item",
            created.response,
            fields,
            new_row=not created.existed,
        )
    outcome = create_incident(client, handoff, contact, settings)
    if not outcome.response.ok:
        return _failed("dataverse", outcome.operation, outcome.response)
    fields = {
        "dynamics365_incident_id": outcome.incident_id,
        "ticketnumber": outcome.ticket_number,
        "contactLinkage": outcome.contact.linkage.value,
    }
    return Step(
        Outcome.SUCCESS, "dataverse", "create_incident", outcome.response, fields, new_row=not outcome.existed
    )


def deliver(
    message: HandoffMessage, opencx: OpenCXClient, dataverse: DataverseClient, settings: Settings
) -> tuple[HandoffMessage, Step]:
    """The whole delivery. Returns the message as enriched, so a retry carries what was fetched."""
    message, failure = enrich(message, opencx, settings)
    if failure is not None:
        return message, failure
    handoff = handoff_of(message)
    if _messaging_live_chat(handoff, settings):  # the mapping table is its dedup
        return message, to_conversation(handoff, settings)
    if not message.dedupPassed:
        duplicate_of, failure = open_duplicate(handoff, dataverse, settings, datetime.now(UTC))
        if failure is not None:
            return message, failure
        if duplicate_of:
            return message, Step(
                Outcome.SUCCESS, "dataverse", "dedup_window", HttpResult(status=200),
                {"duplicate_of": duplicate_of}, status=Status.DUPLICATE, new_row=False,
            )  # fmt: skip
        # Decided once: a retry after a create that may have committed must not call its own
        # handoff a duplicate of a row that appeared meanwhile.
        message = message.model_copy(update={"dedupPassed": True})
    return message, to_dynamics(handoff, dataverse, settings)
