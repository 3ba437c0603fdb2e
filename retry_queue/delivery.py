"""Deliver one handoff: enrich from OpenCX, skip a duplicate, create the Dynamics row.

Each step returns a `Step` instead of raising: `Delivered`, or `Failed` with the `Failure` that
stopped it, so the worker decides in one place what a failure means (retry, wait, dead-letter).
Nothing here writes to a queue or the status table.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from shared.concierge.at_handoff import NO_PLAN, Plan, notify, plan_handoff
from shared.dynamics.contact import ContactMatch, find_contact
from shared.dynamics.dataverse import DataverseClient
from shared.dynamics.incident import ENTITY_SET as INCIDENTS
from shared.dynamics.incident import create_incident
from shared.dynamics.incident_files import attach_session_files
from shared.dynamics.rows import get_row, is_open
from shared.dynamics.work_item import ENTITY_SET as WORK_ITEMS
from shared.dynamics.work_item import create_work_item
from shared.media.fetch import FILE_TRIES
from shared.media.policy import policy_for
from shared.opencx.client import OpenCXClient
from shared.opencx.enrich import fetch
from shared.opencx.handoff import Handoff, join
from shared.opencx.handoff_message import HandoffMessage
from shared.platform.failure import Failure, Upstream
from shared.platform.log import get_logger, log_event
from shared.platform.settings import DeliveryMode, Settings
from shared.platform.status_store import Status, StoreProfile, StoreUnavailable, session_rows

logger = get_logger("delivery")


@dataclass(frozen=True)
class Delivered:
    """The handoff has its row (or conversation): which upstream holds it and the ids to record."""

    upstream: Upstream
    operation: str
    fields: dict[str, object] = field(default_factory=dict)  # what the status row records
    status: Status = Status.CREATED
    new_row: bool = True  # False: an earlier attempt had created it
    answer_status: int | None = None  # the HTTP status of the answer that decided, for the log


@dataclass(frozen=True)
class Failed:
    """The delivery stopped at `operation` with `failure`; the worker decides what that means."""

    operation: str
    failure: Failure


Step = Delivered | Failed


def enrich(
    message: HandoffMessage, client: OpenCXClient, settings: Settings
) -> tuple[HandoffMessage, Failed | None]:
    """The message with what OpenCX told us (kept even when a later page failed), and the failure."""
    enrichment = message.enrichment
    if enrichment is not None and enrichment.historyComplete:
        return message, None
    fetched = fetch(client, message.event.conversation_id, enrichment, settings.history_max_pages)
    message = message.model_copy(update={"enrichment": fetched.enrichment})
    if fetched.failure is not None:
        return message, Failed(fetched.failed_operation or "opencx", fetched.failure)
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
) -> tuple[str | None, Failed | None]:
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
        failure = Failure.of(Upstream.DATAVERSE, answer, gone=answer.status == 404)
        if failure.retryable:
            return None, Failed("get_earlier_row", failure)
        # Gone (deleted: the customer gets a new one), or unreadable (a privilege): creating beats
        # losing the handoff.
        return None, None
    return None, None


def _contact(handoff: Handoff, client: DataverseClient) -> tuple[ContactMatch, Failed | None]:
    contact = find_contact(client, handoff.customer)
    failure = contact.failure
    if failure is None:
        return contact, None
    if failure.retryable:
        return contact, Failed("contact_lookup", failure)
    # Refused for good (e.g. no read privilege on contact): a customer must not wait for that.
    log_event(
        logger, "contact.lookup_failed", logging.WARNING,
        handoffId=handoff.handoff_id, status=failure.status, errorCode=failure.code,
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
        return Failed(created.operation, created.failure)
    fields: dict[str, object] = {"dynamics365_chat_id": created.conversation_id, "deliveryMode": "messaging"}
    return Delivered(
        Upstream.MESSAGING, created.operation, fields, new_row=created.new,
        answer_status=created.response.status if created.response else None,
    )  # fmt: skip


def to_dynamics(
    handoff: Handoff, client: DataverseClient, settings: Settings, plan: Plan = NO_PLAN,
    opencx: OpenCXClient | None = None, attempt: int = 0,
) -> Step:  # fmt: skip
    """A live work item for sms, whatsapp and web; an incident for every other channel, and for a
    live chat the concierge found out of hours with AFTER_HOURS=incident. An incident gets its
    session's files as notes (`opencx`: the credential an OpenCX media URL may need)."""
    if _messaging_live_chat(handoff, settings) and not plan.incident_instead:
        return to_conversation(handoff, settings)
    contact, failure = _contact(handoff, client)
    if failure is not None:
        return failure
    if handoff.channel in ("sms", "whatsapp", "web") and not plan.incident_instead:
        created, contact = create_work_item(
            client, handoff, settings.workstream_for(handoff.channel), contact
        )
        if created.failure is not None:
            return Failed("create_work_item", created.failure)
        fields: dict[str, object] = {
            "dynamics365_chat_id": created.row_id,
            "contactLinkage": contact.linkage.value,
        }
        return Delivered(
            Upstream.DATAVERSE, "create_work_item", fields, new_row=not created.existed,
            answer_status=created.response.status,
        )  # fmt: skip
    outcome = create_incident(client, handoff, contact, settings)
    if outcome.failure is not None:
        return Failed(outcome.operation, outcome.failure)
    assert outcome.incident_id is not None
    files = attach_session_files(
        client,
        outcome.incident_id,
        handoff.transcript,
        policy_for(settings),
        opencx.file_credential() if opencx else None,
        patient=attempt + 1 < FILE_TRIES,
    )
    if files.failure is not None:
        return Failed("attach_files", files.failure)
    fields = {
        "dynamics365_incident_id": outcome.incident_id,
        "ticketnumber": outcome.ticket_number,
        "contactLinkage": outcome.contact.linkage.value,
        **files.status_fields(),
    }
    return Delivered(
        Upstream.DATAVERSE, "create_incident", fields, new_row=not outcome.existed,
        answer_status=outcome.response.status if outcome.response else None,
    )  # fmt: skip


def deliver(
    message: HandoffMessage, opencx: OpenCXClient, dataverse: DataverseClient, settings: Settings
) -> tuple[HandoffMessage, Step]:
    """The whole delivery. Returns the message as enriched, so a retry carries what was fetched."""
    message, failure = enrich(message, opencx, settings)
    if failure is not None:
        return message, failure
    handoff = handoff_of(message)
    plan: Plan | None = None  # the concierge's: bounded (CONCIERGE_TIMEOUT_SECONDS), never failing
    if _messaging_live_chat(handoff, settings):
        plan = plan_handoff(handoff, settings)
        if not plan.incident_instead:  # the mapping table is its dedup
            return message, told(to_conversation(handoff, settings), handoff, plan, opencx, settings)
    if not message.dedupPassed:
        duplicate_of, failure = open_duplicate(handoff, dataverse, settings, datetime.now(UTC))
        if failure is not None:
            return message, failure
        if duplicate_of:
            return message, Delivered(
                Upstream.DATAVERSE, "dedup_window", {"duplicate_of": duplicate_of},
                status=Status.DUPLICATE, new_row=False,
            )  # fmt: skip
        # Decided once: a retry after a create that may have committed must not call its own
        # handoff a duplicate of a row that appeared meanwhile.
        message = message.model_copy(update={"dedupPassed": True})
    if plan is None:  # after the dedup window: a duplicate asks Dynamics nothing
        plan = plan_handoff(handoff, settings)
    return message, told(
        to_dynamics(handoff, dataverse, settings, plan, opencx, message.attempt),
        handoff,
        plan,
        opencx,
        settings,
    )


def told(step: Step, handoff: Handoff, plan: Plan, opencx: OpenCXClient, settings: Settings) -> Step:
    """Once the record exists, the concierge's notice (once, never failing the step), and what it
    used and sent in the status fields."""
    if not isinstance(step, Delivered) or plan.availability is None:
        return step
    return replace(step, fields={**step.fields, **notify(handoff, plan, step.fields, settings, opencx)})
