"""Dynamics' representative availability calls, read into one typed answer.

`CCaaS_GetRepresentativeAvailabilityBeforeConversation` (`{"ApiVersion": "1.0", "LiveWorkStreamId",
"CustomContextItems": "<a JSON string>"}`) and `CCaaS_GetRepresentativeAvailabilityForConversation`
(`ConversationId` instead of the workstream): contact-center/extend/api/
ccaas-get-representative-availability-before-conversation.md and ...-conversation.md; the answer's
fields are in contact-center/includes/cc-availability-response.md, whose table is camelCase while
its sample is PascalCase, so keys are read case-blind. The caller needs the Omnichannel administrator
role (contact-center/extend/representative-availability-overview.md).

The call is an aid, never a gate: its own short timeout, no inline retry, no token renewal retry,
and every error (400, 401, 404, 405 "API not allowed", 429, 500, a timeout, an unreadable answer)
is `known=False` with the reason kept for status and the metric.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shared.dynamics.dataverse import DataverseClient
from shared.platform.credentials import shared_credential
from shared.platform.http import HttpResult
from shared.platform.process import shared
from shared.platform.settings import Settings

BEFORE = "CCaaS_GetRepresentativeAvailabilityBeforeConversation"
FOR_CONVERSATION = "CCaaS_GetRepresentativeAvailabilityForConversation"
API_VERSION = "1.0"
TEXT_DATATYPE = 192350000  # "datatype can only be Text = 192350000 or Integer = 192350001"
# The statuses whose fix is the caller's role (overview page: "Omnichannel administrator role").
ROLE_STATUSES = frozenset({401, 403, 405})


@dataclass(frozen=True)
class Availability:
    """What Dynamics said, or why nothing is known. Times are UTC; `next_opening` is None during
    hours (the docs' `0001-01-01`)."""

    known: bool
    reason: str | None = None  # unknown: http_405, http_429, timeout, unreadable ...
    status: int | None = None
    queue_open: bool | None = None
    next_opening: datetime | None = None
    position: int | None = None
    average_wait_seconds: float | None = None
    agent_available: bool | None = None
    experts_available: int | None = None
    queue_id: str | None = None
    next_transition: datetime | None = None

    @property
    def outcome(self) -> str:
        if not self.known:
            return "unknown"
        return "open" if self.queue_open else "closed"

    def status_fields(self) -> dict[str, object]:
        """What the status row records of the answer used (no customer data in it)."""
        fields: dict[str, object] = {"availability": self.outcome}
        if not self.known:
            fields["availabilityReason"] = self.reason
            return fields
        fields.update(
            queueOpen=self.queue_open,
            nextOpening=self.next_opening.isoformat() if self.next_opening else None,
            positionInQueue=self.position,
            averageWaitSeconds=self.average_wait_seconds,
            expertsAvailable=self.experts_available,
            availabilityQueueId=self.queue_id,
        )
        return {key: value for key, value in fields.items() if value is not None}


def unknown(reason: str, status: int | None = None) -> Availability:
    return Availability(known=False, reason=reason, status=status)


class AvailabilityClient(DataverseClient):
    """The Dataverse client with the concierge's bound: one try, no renewal after a 401."""

    def on_unauthorized(self) -> bool:
        return False


def availability_client() -> AvailabilityClient:
    """The process's client (shared/platform/process.py)."""
    return shared(("availability",), _build)


def _build(settings: Settings) -> AvailabilityClient:
    bound = settings.concierge.timeout_seconds
    return AvailabilityClient(
        settings.dataverse_url,
        # The process's credential and its cached token: no token request of its own on the hot path.
        lambda: shared_credential(settings.azure_client_id),
        read_timeout=bound,
        connect_timeout=min(bound, 3.05),
        inline_retry_pauses=(),
        pool_size=16,
    )


def _folded(body: Mapping[str, Any]) -> dict[str, Any]:
    return {str(key).lower(): value for key, value in body.items()}


def _instant(value: Any) -> datetime | None:
    """A UTC instant; None for absent, unreadable, `0001-01-01` ("during operating hours") and the
    sample's `9999-12-31` (no transition)."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.year <= 1 or parsed.year >= 9999:
        return None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _flag(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def parse_answer(body: Mapping[str, Any]) -> Availability:
    """The 200 answer, keys case-blind. Without IsQueueAvailable nothing is known."""
    folded = _folded(body)
    queue_open = _flag(folded.get("isqueueavailable"))
    if queue_open is None:
        return unknown("unreadable", 200)
    position = _number(folded.get("positioninqueue"))
    wait = _number(folded.get("averagewaittimeinseconds"))
    if wait is None and (minutes := _number(folded.get("averagewaittime"))) is not None:
        wait = minutes * 60  # the table's `averageWaitTime`, in minutes
    experts = _number(folded.get("numberofexpertsavailableinqueue"))
    next_transition = _instant(folded.get("nexttransitiontime"))
    next_opening = _instant(folded.get("starttimeofnextoperatinghour"))
    if not queue_open and next_opening is None:
        next_opening = next_transition  # "when the queue is operational again if it's outside hours"
    queue_id = folded.get("queueid")
    return Availability(
        known=True,
        status=200,
        queue_open=queue_open,
        next_opening=None if queue_open else next_opening,
        position=int(position) if position and position > 0 else None,
        average_wait_seconds=wait if wait and wait > 0 else None,
        agent_available=_flag(folded.get("isagentavailable")),
        experts_available=int(experts) if experts is not None and experts >= 0 else None,
        queue_id=str(queue_id) if queue_id else None,
        next_transition=next_transition,
    )


def read_result(result: HttpResult) -> Availability:
    if result.status is None:
        return unknown(str(result.transport or "transport"))
    if result.status != 200:
        return unknown(f"http_{result.status}", result.status)
    return parse_answer(result.body)


def custom_context_items(pairs: Mapping[str, str | None]) -> str:
    """`CustomContextItems`: a JSON string of `{name: {value, isDisplayable, datatype}}`."""
    items = {
        name: {"value": value, "isDisplayable": True, "datatype": TEXT_DATATYPE}
        for name, value in pairs.items()
        if value
    }
    return json.dumps(items, separators=(",", ":"))


def before_conversation(
    client: DataverseClient, workstream_id: str, context: Mapping[str, str | None]
) -> Availability:
    """Availability for a conversation about to start on `workstream_id`, routed with `context`."""
    body = {
        "ApiVersion": API_VERSION,
        "LiveWorkStreamId": workstream_id,
        "CustomContextItems": custom_context_items(context),
    }
    return read_result(client.post(BEFORE, "availability_before", body, retry_drops=False))


def for_conversation(
    client: DataverseClient, conversation_id: str, context: Mapping[str, str | None] | None = None
) -> Availability:
    """Availability (position, wait) for a conversation already in a queue."""
    body: dict[str, Any] = {"ApiVersion": API_VERSION, "ConversationId": conversation_id}
    if context:
        body["CustomContextItems"] = custom_context_items(context)
    return read_result(client.post(FOR_CONVERSATION, "availability_for", body, retry_drops=False))
