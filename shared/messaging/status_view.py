"""Status rows of mode messaging with their conversation's state and message counts each way."""

from __future__ import annotations

import contextlib
from typing import Any

from shared.messaging.deps import RelayDeps
from shared.messaging.links import Link
from shared.messaging.store import StoreUnavailable


def with_message_counts(rows: list[dict[str, Any]], deps: RelayDeps) -> list[dict[str, Any]]:
    """`messaging: {conversationId, state, messagesToCustomer, messagesToRep, endReconcile}` on rows
    with a conversation; other rows as they are. The table is an aid here: unreadable, the rows go
    out without counts."""
    shown = []
    for row in rows:
        conversation_id = row.get("dynamics365_chat_id")
        link = None
        if conversation_id and not row.get("dynamics365_incident_id"):
            with contextlib.suppress(StoreUnavailable):
                link = deps.links.by_conversation(str(conversation_id))
        if link is not None:
            row = {
                **row,
                "messaging": {
                    "conversationId": link.conversation_id,
                    "state": link.state.value,
                    "messagesToCustomer": link.to_customer,
                    "messagesToRep": link.to_rep,
                    **({"endReconcile": link.end_reconcile} if link.end_reconcile else {}),
                    **({"continuedBy": link.replaced_by} if link.replaced_by else {}),
                    **_files(link),
                },
            }
        shown.append(row)
    return shown


def _files(link: Link) -> dict[str, Any]:
    """What crossed as files and what did not (a refused file reached the other side as a text)."""
    if not (link.files_to_customer or link.files_to_rep or link.files_refused):
        return {}
    files: dict[str, Any] = {"toCustomer": link.files_to_customer, "toRep": link.files_to_rep,
                             "refused": link.files_refused}  # fmt: skip
    if link.last_file_refusal:
        files["lastRefusal"] = link.last_file_refusal
    return {"files": files}
