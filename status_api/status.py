"""GET /api/handoffs/{sessionId}: every handoff of a session, newest first, with its outcome.

The first thing support looks at when "the live work item never appears". Rows hold ids,
statuses and scrubbed errors only, so the answer carries no customer data.
"""

from __future__ import annotations

import logging

import azure.functions as func

from shared.opencx.webhook import CONVERSATION_ID_MAX
from shared.platform.log import get_logger, log_event
from shared.platform.problem import json_response, problem
from shared.platform.status_store import StoreProfile, StoreUnavailable, session_rows

logger = get_logger("status_api")


def handle_status(req: func.HttpRequest) -> func.HttpResponse:
    """200 with the session's handoffs, 404 when none is known, 503 when the table is down."""
    session_id = (req.route_params or {}).get("sessionId", "")
    if not session_id or len(session_id) > CONVERSATION_ID_MAX:
        return problem(400, "Invalid sessionId", f"sessionId must be 1-{CONVERSATION_ID_MAX} characters.")
    try:
        rows = session_rows(session_id, StoreProfile.WORKER)
    except StoreUnavailable as exc:
        log_event(logger, "status_store.unavailable", logging.WARNING, sessionId=session_id, error=str(exc))
        return problem(
            503,
            "Status store unavailable",
            "The handoff table could not be read. Retry shortly.",
            headers={"Retry-After": "5"},
        )
    if not rows:
        return problem(
            404,
            "No handoffs for this session",
            "No handoff with this sessionId reached the bridge (or it was refused before queueing).",
            kind="not-found",
        )
    from shared.platform.settings import DeliveryMode, get_settings

    if get_settings().delivery_mode is DeliveryMode.MESSAGING:  # counts each way, how it ended
        from shared.messaging.deps import process_deps
        from shared.messaging.status_view import with_message_counts

        rows = with_message_counts(rows, process_deps())
    answer: dict[str, object] = {"sessionId": session_id, "count": len(rows), "handoffs": rows}
    if get_settings().concierge.enabled:  # what the customer was told (docs/concierge.md)
        from shared.concierge.status_view import concierge_view

        answer.update(concierge_view(session_id))
    return json_response(200, answer)
