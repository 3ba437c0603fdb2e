"""The customer's wait in mode messaging, until a rep accepts (issue 20, docs/concierge.md).

Dynamics tells the webhook what happens to a conversation waiting in a queue
(`api-conversation-webhook.md`, "Event activity names"): `OutOfOperatingHoursDueToNonWorkingHours`,
`OutOfOperatingHoursDueToHoliday`, `TransferToQueueFailed`, and, when a rep takes it,
`AgentAccepted` / `AgentAssigned`. With CONCIERGE on, each of the first three becomes one short
message to the customer (once per conversation, in their language, one SMS segment), and the
reconciliation timer refreshes the customer's place in line with
`CCaaS_GetRepresentativeAvailabilityForConversation` (`ccaas-get-representative-availability-conversation.md`)
at most every CONCIERGE_REFRESH_SECONDS. The customer hears of it only when the place improved by a
meaningful step, at most MAX_POSITION_UPDATES times, and never once a rep has accepted.

The events travel through the conversation's outbox toward the customer (kind `notice`), so they
keep their order with the rep's messages and survive a crash like any entry; the notice itself is
once-only by the concierge's ledger (at most once: docs/concierge.md).
"""

from __future__ import annotations

import logging
import math

from shared.concierge.notices import notice_key, send_notice
from shared.concierge.wording import language_of, local_time, wait_phrase
from shared.dynamics.availability import Availability, availability_client, for_conversation
from shared.messaging.deps import RelayDeps
from shared.messaging.links import Link
from shared.platform import telemetry
from shared.platform.log import get_logger, log_event
from shared.platform.times import instant, iso_at

logger = get_logger("waiting")

ACCEPTED_EVENTS = frozenset({"agentaccepted", "agentassigned"})
NOTICE_EVENTS = {
    "outofoperatinghoursduetononworkinghours": "out_of_hours",
    "outofoperatinghoursduetoholiday": "holiday",
    "transfertoqueuefailed": "transfer_failed",
}
WAITING_EVENTS = ACCEPTED_EVENTS | frozenset(NOTICE_EVENTS)
MAX_POSITION_UPDATES = 3


def is_waiting_event(event_name: str | None) -> bool:
    return bool(event_name) and str(event_name).lower() in WAITING_EVENTS


def _language(link: Link) -> str | None:
    context = (link.create_context or {}).get("conversationcontext") or {}
    value = (
        (context.get("language") or {}).get("value") if isinstance(context.get("language"), dict) else None
    )
    return str(value) if value else None


def _write_back(link: Link) -> dict[str, str]:
    """The Dynamics id on the OpenCX session, with the first message the bridge sends there."""
    return {"dynamics365_chat_id": link.conversation_id}


def on_event(deps: RelayDeps, event_name: str, link: Link) -> str:
    """What a waiting event did: `accepted`, the notice's outcome, or `ignored`."""
    name = event_name.lower()
    if name in ACCEPTED_EVENTS:
        if not link.accepted_at:
            deps.links.note(link.conversation_id, acceptedAt=iso_at(deps.clock()))
        return "accepted"
    template = NOTICE_EVENTS.get(name)
    if template is None or link.accepted_at or not deps.settings.concierge.enabled:
        return "ignored"
    language = language_of(_language(link), deps.settings.concierge.templates)
    values: dict[str, str | None] = {}
    if template != "transfer_failed":
        answer = for_conversation(availability_client(), link.conversation_id)
        if answer.known and answer.next_opening is not None:
            opens, zone = local_time(answer.next_opening, deps.settings.concierge.zone, language)
            values = {"opens": opens, "zone": zone}
    result = send_notice(
        link.session_id, template, values, language, key=notice_key(link.conversation_id, template),
        custom_data=_write_back(link), settings=deps.settings, opencx=deps.opencx,
    )  # fmt: skip
    log_event(logger, "waiting.notice", conversationId=link.conversation_id, eventName=event_name,
              outcome=result.outcome)  # fmt: skip
    return result.outcome


def meaningful_step(told: int, now: int) -> bool:
    """Whether the place in line improved enough to be worth a message: by at least two places and a
    quarter of the line, or to first in line."""
    if now >= told:
        return False
    return now == 1 or told - now >= max(2, math.ceil(told / 4))


def refresh(deps: RelayDeps, link: Link) -> str:
    """One look at the customer's place in line, when due; a message when it improved enough."""
    settings = deps.settings.concierge
    if not settings.enabled or link.accepted_at or link.position_updates >= MAX_POSITION_UPDATES:
        return "not_waiting"
    now = deps.clock()
    last = instant(link.position_checked_at) or instant(link.created_at) or 0.0
    if now - last < settings.refresh_seconds:
        return "not_due"
    answer = for_conversation(availability_client(), link.conversation_id)
    fields: dict[str, object] = {"positionCheckedAt": iso_at(now)}
    outcome = _tell(deps, link, answer, fields)
    deps.links.note(link.conversation_id, **fields)
    telemetry.count("concierge.position_refreshes", outcome=outcome)
    return outcome


def _tell(deps: RelayDeps, link: Link, answer: Availability, fields: dict[str, object]) -> str:
    if not answer.known or not answer.position:
        return "unknown"
    position = answer.position
    if link.position_told is None:
        fields["positionTold"] = position  # the first figure is the baseline: no promise made from it
        return "baseline"
    if not meaningful_step(link.position_told, position):
        return "no_news"
    language = language_of(_language(link), deps.settings.concierge.templates)
    values = {"position": str(position), "wait": wait_phrase(answer.average_wait_seconds, language)}
    number = link.position_updates + 1
    result = send_notice(
        link.session_id, "position_update", values, language,
        key=notice_key(link.conversation_id, f"position_update_{number}"), custom_data=_write_back(link),
        settings=deps.settings, opencx=deps.opencx,
    )  # fmt: skip
    fields.update(positionTold=position, positionUpdates=number)
    log_event(logger, "waiting.position", logging.INFO, conversationId=link.conversation_id,
              position=position, outcome=result.outcome)  # fmt: skip
    return "told" if result.outcome == "sent" else result.outcome
