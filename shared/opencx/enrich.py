"""Fetch what a handoff event lacks: the session, then its history page by page (contract section 4).

Two requests when the history fits one page. What was fetched is returned even when a later page
fails, so the retry goes on from there instead of asking OpenCX again for what it already told us.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.opencx.client import OpenCXClient
from shared.opencx.history import order_key
from shared.opencx.session import Enrichment, enrichment_from_session, next_cursor, transcript_lines
from shared.platform.failure import Failure, Upstream
from shared.platform.http import HttpResult

# The queue message must stay under 48 KiB: the transcript it carries is bounded here first.
TRANSCRIPT_LINES_MAX = 200


@dataclass(frozen=True)
class Fetched:
    enrichment: Enrichment | None
    failure: Failure | None = None  # what stopped the fetch, when something did
    failed_operation: str | None = None


def _failure(answer: HttpResult) -> Failure:
    """A 404 means the session does not exist (any more): gone, not merely refused."""
    return Failure.of(Upstream.OPENCX, answer, gone=answer.status == 404)


def fetch(client: OpenCXClient, conversation_id: str, known: Enrichment | None, max_pages: int) -> Fetched:
    """Complete `known` (None: nothing fetched yet). Never raises for an upstream failure."""
    enrichment = known
    if enrichment is None:
        answer = client.get_session(conversation_id)
        if not answer.ok:
            return Fetched(None, _failure(answer), "get_session")
        enrichment = enrichment_from_session(answer.body)
    while not enrichment.historyComplete:
        if enrichment.pagesRead >= max_pages:
            # The ceiling (HISTORY_MAX_PAGES): what is left unread is marked truncated. OpenCX does not
            # document the page order, so the lines are ordered by time below, whatever it is.
            enrichment = enrichment.model_copy(update={"historyComplete": True, "transcriptTruncated": True})
            break
        answer = client.get_history(conversation_id, enrichment.nextCursor)
        if not answer.ok:
            return Fetched(enrichment, _failure(answer), "list_history")
        cursor = next_cursor(answer.body)
        # Ordered by time before the cut, so the newest lines are the ones kept in either page order.
        lines = sorted([*enrichment.transcript, *transcript_lines(answer.body)], key=order_key)
        truncated = enrichment.transcriptTruncated or len(lines) > TRANSCRIPT_LINES_MAX
        enrichment = enrichment.model_copy(
            update={
                "transcript": lines[-TRANSCRIPT_LINES_MAX:],
                "transcriptTruncated": truncated,
                "nextCursor": cursor,
                "historyComplete": cursor is None or cursor == enrichment.nextCursor,
                "pagesRead": enrichment.pagesRead + 1,
            }
        )
    return Fetched(enrichment.model_copy(update={"nextCursor": None}))
