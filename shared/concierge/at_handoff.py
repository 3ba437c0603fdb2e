"""At handoff, for a live-chat channel with CONCIERGE on: one availability call, decided once, then
at most one notice after the row (or conversation, or incident) exists (docs/concierge.md).

The decision is sticky: the answer used is kept in the ledger under (handoffId, "availability"), so
a redelivery after a crash creates the same kind of record (never a chat AND an incident) and calls
Dynamics no more. Nothing here may fail or delay a handoff beyond CONCIERGE_TIMEOUT_SECONDS: every
error is an `unknown` answer and the handoff goes on exactly as without the concierge.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.concierge import ledger
from shared.concierge.notices import notice_key, send_notice
from shared.concierge.wording import language_of, local_time, wait_phrase
from shared.dynamics.availability import (
    Availability,
    availability_client,
    before_conversation,
    unknown,
)
from shared.dynamics.dataverse import DataverseClient
from shared.dynamics.work_item import context_items
from shared.opencx.client import OpenCXClient
from shared.opencx.handoff import Handoff
from shared.platform import telemetry
from shared.platform.concierge_settings import AfterHours
from shared.platform.log import get_logger, log_event
from shared.platform.settings import Settings
from shared.platform.status_store import StoreUnavailable

logger = get_logger("concierge")
LIVE_CHANNELS = frozenset({"sms", "whatsapp", "web"})
DECISION = "availability"


@dataclass(frozen=True)
class Plan:
    """The answer used (None: the concierge does not apply) and whether an incident replaces the chat."""

    availability: Availability | None = None
    incident_instead: bool = False


NO_PLAN = Plan()


def _context(handoff: Handoff) -> dict[str, str | None]:
    """The work item's own context items (name -> value), so routing rules see the same values."""
    return {str(item["msdyn_name"]): str(item["msdyn_value"]) for item in context_items(handoff)}


def _to_row(answer: Availability) -> dict[str, Any]:
    return {**answer.status_fields(), "answerStatus": answer.status}


def _from_row(row: Mapping[str, Any]) -> Availability:
    if row.get("availability") == "unknown":
        return unknown(str(row.get("availabilityReason") or "unknown"), row.get("answerStatus"))
    opening = row.get("nextOpening")
    wait = row.get("averageWaitSeconds")
    return Availability(
        known=True,
        status=row.get("answerStatus"),
        queue_open=bool(row.get("queueOpen")),
        next_opening=datetime.fromisoformat(str(opening)) if opening else None,
        position=int(row["positionInQueue"]) if row.get("positionInQueue") else None,
        average_wait_seconds=float(wait) if wait else None,
        experts_available=row.get("expertsAvailable"),
        queue_id=row.get("availabilityQueueId"),
    )


def plan_handoff(
    handoff: Handoff,
    settings: Settings,
    client: Callable[[], DataverseClient] = availability_client,
) -> Plan:
    """The availability answer for this handoff: the one already decided, else one bounded call."""
    concierge = settings.concierge
    if not concierge.enabled or handoff.channel not in LIVE_CHANNELS:
        return NO_PLAN
    try:
        earlier = ledger.read(handoff.session_id, notice_key(handoff.handoff_id, DECISION))
        if earlier is not None:
            answer = _from_row(earlier)
        else:
            answer = before_conversation(
                client(), settings.workstream_for(handoff.channel), _context(handoff)
            )
            _count(answer)
            key = notice_key(handoff.handoff_id, DECISION)
            if not ledger.claim(handoff.session_id, key, **_to_row(answer)):
                winner = ledger.read(handoff.session_id, key)  # a concurrent delivery decided first
                answer = _from_row(winner) if winner else answer
    except StoreUnavailable as exc:
        # Without the ledger nothing can be once-only: behave exactly as without the concierge.
        log_event(logger, "concierge.ledger_unavailable", logging.WARNING, error=str(exc))
        answer = unknown("ledger_unavailable")
        _count(answer)
    incident = answer.known and answer.queue_open is False and concierge.after_hours is AfterHours.INCIDENT
    return Plan(answer, incident)


def _count(answer: Availability) -> None:
    telemetry.count("concierge.availability", outcome=answer.outcome, reason=answer.reason or "")
    log_event(
        logger, "concierge.availability", logging.INFO if answer.known else logging.WARNING,
        outcome=answer.outcome, reason=answer.reason, status=answer.status,
    )  # fmt: skip


def write_back_data(fields: Mapping[str, object]) -> dict[str, str]:
    """The Dynamics ids OpenCX's own integration records on the session (`custom_data`)."""
    if fields.get("dynamics365_incident_id"):
        data = {"dynamics365_incident_id": fields["dynamics365_incident_id"]}
        if fields.get("ticketnumber"):
            data["ticketnumber"] = fields["ticketnumber"]
        return {key: str(value) for key, value in data.items()}
    if fields.get("dynamics365_chat_id"):
        return {"dynamics365_chat_id": str(fields["dynamics365_chat_id"])}
    return {}


def notice_for(
    handoff: Handoff, plan: Plan, fields: Mapping[str, object], settings: Settings
) -> tuple[str, dict[str, str | None]] | None:
    """(template, values) of what to tell the customer, or None when nothing useful is known."""
    answer = plan.availability
    if answer is None or not answer.known:
        return None
    language = language_of(handoff.language, settings.concierge.templates)
    if not answer.queue_open:
        opens, zone = (None, None)
        if answer.next_opening is not None:
            opens, zone = local_time(answer.next_opening, settings.concierge.zone, language)
        if plan.incident_instead:
            ticket = fields.get("ticketnumber")
            return "closed_incident", {
                "opens": opens,
                "zone": zone,
                "ticket": str(ticket) if ticket else None,
            }
        return "closed_chat", {"opens": opens, "zone": zone}
    position = str(answer.position) if answer.position else None
    wait = wait_phrase(answer.average_wait_seconds, language)
    if position is None and wait is None:
        return None
    return "queued", {"position": position, "wait": wait}


def notify(
    handoff: Handoff,
    plan: Plan,
    fields: Mapping[str, object],
    settings: Settings,
    opencx: OpenCXClient,
) -> dict[str, object]:
    """Tell the customer once; the status fields of the answer used and of the notice."""
    answer = plan.availability
    if answer is None:
        return {}
    status: dict[str, object] = answer.status_fields()
    if plan.incident_instead:
        status["afterHours"] = "incident"
    try:
        chosen = notice_for(handoff, plan, fields, settings)
        if chosen is None:
            return status
        template, values = chosen
        result = send_notice(
            handoff.session_id, template, values, handoff.language,
            key=notice_key(handoff.handoff_id, template), custom_data=write_back_data(fields),
            settings=settings, opencx=opencx,
        )  # fmt: skip
        status.update(notice=template, noticeOutcome=result.outcome)
    except Exception as exc:
        log_event(logger, "concierge.notice_error", logging.ERROR, error=type(exc).__name__)
        status.update(noticeOutcome="error")
    return status
