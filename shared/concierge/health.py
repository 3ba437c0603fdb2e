"""`/api/health`'s check of the availability call, when CONCIERGE is on: one BeforeConversation
call for each live-chat workstream. 401/403/405 name the missing Omnichannel administrator role
(contact-center/extend/representative-availability-overview.md, "Prerequisites")."""

from __future__ import annotations

from shared.dynamics.availability import ROLE_STATUSES, AvailabilityClient, before_conversation
from shared.dynamics.dataverse import probe_client
from shared.platform.settings import Settings

NAME = "concierge_availability"
FIX_ROLE = (
    "Dynamics refused the representative availability API: give the bridge's application user the "
    "Omnichannel administrator role (Power Platform admin center -> environment -> Application users -> "
    "Edit security roles; docs/deploy.md), or turn CONCIERGE off. Until then handoffs go on without notices."
)
FIX_OTHER = (
    "Check DATAVERSE_URL, the workstream ids and the environment's health; handoffs go on without notices."
)


def availability_check(settings: Settings) -> tuple[bool, str, str | None]:
    """(ok, detail, fix) for the health report."""
    client = probe_client(settings, AvailabilityClient)
    seen: list[str] = []
    try:
        for channel in ("sms", "whatsapp", "web"):
            workstream = settings.workstream_for(channel)
            if workstream in seen:
                continue
            seen.append(workstream)
            answer = before_conversation(client, workstream, {"channel": channel})
            if not answer.known:
                detail = (
                    f"CCaaS_GetRepresentativeAvailabilityBeforeConversation for {workstream}: {answer.reason}"
                )
                return False, detail, FIX_ROLE if answer.status in ROLE_STATUSES else FIX_OTHER
    finally:
        client.close()
    return True, f"availability answered for {len(seen)} workstream(s)", None
