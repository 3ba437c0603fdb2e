"""OpenCX session <-> Dynamics conversation: which conversation a session talks to now, and what the
relay knows of each conversation (counts, cursors, how it ended).

States of a conversation's link:
- `open`: the relay carries messages both ways. A conversation Dynamics ended silently (a timeout,
  a waiting state: nothing announces it) stays `open` here until the next customer message meets
  404 and the relay continues in a new conversation (continuation.py).
- `closed`: a real end (the rep's or a supervisor's end event, or OpenCX's own close). The OpenCX
  session is closed only then.
- `replaced`: the session moved on to another conversation (`replacedBy`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from shared.messaging.outbox import RETENTION_SECONDS, Direction
from shared.messaging.store import MessagingStore, Row, conversation_pk, session_pk
from shared.platform.times import iso_at

# After a conversation ends its dedup rows are purged once, when every one has expired (the longest
# window an id holds, outbox.RETENTION_SECONDS); PURGED marks it done (the table cannot unset a column).
PURGE_AFTER_END_SECONDS = RETENTION_SECONDS + 60.0
PURGED = 1.0e18
# A table string property holds 64 KiB (32K UTF-16 characters): the create context stays well under.
CONTEXT_MAX_CHARS = 30_000


class LinkState(StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    REPLACED = "replaced"


@dataclass(frozen=True)
class Link:
    session_id: str
    conversation_id: str
    handoff_id: str | None = None
    channel: str | None = None
    state: LinkState = LinkState.OPEN
    created_at: str | None = None
    to_customer: int = 0
    to_rep: int = 0
    last_history_id: str | None = None
    last_forwarded_at: str | None = None  # OpenCX time of the last customer message forwarded
    start_message_id: str | None = None
    reconciled_until: str | None = None  # Messaging API messages up to here were checked
    reconciled_at: str | None = None
    reconcile_gone: bool = False
    create_context: dict[str, Any] | None = None  # customercontext + conversationcontext, to continue
    end_reconcile: str | None = None  # what the last look before closing met
    replaced_by: str | None = None
    lost_found_at: str | None = None  # when the last look found rep messages the webhook lost
    accepted_at: str | None = None  # when a rep accepted (AgentAccepted / AgentAssigned): no more waiting
    position_checked_at: str | None = None
    position_told: int | None = None  # the place in line the customer last heard (or the baseline)
    position_updates: int = 0
    files_to_customer: int = 0
    files_to_rep: int = 0
    files_refused: int = 0  # files that did not cross, each told to the other side as a text
    last_file_refusal: str | None = None

    @property
    def open(self) -> bool:
        return self.state is LinkState.OPEN


def _state(value: object) -> LinkState:
    try:
        return LinkState(str(value or "open"))
    except ValueError:
        return LinkState.OPEN


def _link(row: Row, session_id: str | None = None, conversation_id: str | None = None) -> Link:
    context = row.get("createContext")
    return Link(
        session_id=str(row.get("sessionId") or session_id or ""),
        conversation_id=str(conversation_id or row.get("conversationId") or ""),
        handoff_id=row.get("handoffId"),
        channel=row.get("channel"),
        state=_state(row.get("state")),
        created_at=row.get("createdAt"),
        to_customer=int(row.get("toCustomer") or 0),
        to_rep=int(row.get("toRep") or 0),
        last_history_id=row.get("lastHistoryId"),
        last_forwarded_at=row.get("lastForwardedAt"),
        start_message_id=row.get("startMessageId"),
        reconciled_until=row.get("reconciledUntil"),
        reconciled_at=row.get("reconciledAt"),
        reconcile_gone=bool(row.get("reconcileGone")),
        create_context=json.loads(context) if isinstance(context, str) and context else None,
        end_reconcile=row.get("endReconcile"),
        replaced_by=row.get("replacedBy"),
        lost_found_at=row.get("lostFoundAt"),
        accepted_at=row.get("acceptedAt"),
        position_checked_at=row.get("positionCheckedAt"),
        position_told=int(row["positionTold"]) if row.get("positionTold") is not None else None,
        position_updates=int(row.get("positionUpdates") or 0),
        files_to_customer=int(row.get("filesToCustomer") or 0),
        files_to_rep=int(row.get("filesToRep") or 0),
        files_refused=int(row.get("filesRefused") or 0),
        last_file_refusal=row.get("lastFileRefusal"),
    )


def fit_context(context: dict[str, Any]) -> str:
    """The create context as JSON that fits a table property: context entries dropped from the end."""
    customer = context.get("customercontext") or {}
    entries = list((context.get("conversationcontext") or {}).items())
    while True:
        text = json.dumps(
            {"customercontext": customer, "conversationcontext": dict(entries)}, ensure_ascii=False
        )
        if len(text) <= CONTEXT_MAX_CHARS or not entries:
            return text  # customercontext alone is at most six 200-character fields
        entries.pop()


class Links:
    def __init__(self, store: MessagingStore) -> None:
        self.store = store

    def by_session(self, session_id: str) -> Link | None:
        """The session's current conversation, or None."""
        row = self.store.get(session_pk(session_id), "map")
        if not row or not row.get("conversationId"):
            return None
        conversation_id = str(row["conversationId"])
        conversation = self.store.get(conversation_pk(conversation_id), "map") or {
            **row,
            "sessionId": session_id,
        }
        return _link(conversation, session_id, conversation_id)

    def by_conversation(self, conversation_id: str) -> Link | None:
        row = self.store.get(conversation_pk(conversation_id), "map")
        if not row or not row.get("sessionId"):
            return None
        return _link(row, conversation_id=conversation_id)

    def record(
        self,
        session_id: str,
        conversation_id: str,
        handoff_id: str,
        channel: str | None,
        *,
        now: float,
        context: dict[str, Any] | None = None,
        start_message_id: str | None = None,
        continued_from: str | None = None,
    ) -> None:
        """The session talks to this conversation from now on (counts and cursors already there are
        kept); the conversation it talked to before, if another, is marked replaced."""
        previous = self.store.get(session_pk(session_id), "map")
        existing = self.store.get(conversation_pk(conversation_id), "map")
        created = (existing or {}).get("createdAt") or iso_at(now)
        common = {"handoffId": handoff_id, "channel": channel, "state": LinkState.OPEN.value,
                  "updatedAt": iso_at(now), "createdAt": created}  # fmt: skip
        self.store.merge(
            {
                "PartitionKey": conversation_pk(conversation_id),
                "RowKey": "map",
                "sessionId": session_id,
                "createContext": fit_context(context) if context else None,
                "startMessageId": start_message_id,
                "continuedFrom": continued_from,
                **common,
            }
        )
        self.store.merge(
            {
                "PartitionKey": session_pk(session_id),
                "RowKey": "map",
                "conversationId": conversation_id,
                **common,
            }
        )
        old = str((previous or {}).get("conversationId") or "")
        if old and old != conversation_id:
            self.store.merge(
                {"PartitionKey": conversation_pk(old), "RowKey": "map", "state": LinkState.REPLACED.value,
                 "replacedBy": conversation_id, "closedAt": iso_at(now), "purgeAfter": now + PURGE_AFTER_END_SECONDS}
            )  # fmt: skip

    def close(self, link: Link, by: str, *, now: float) -> None:
        """A real end: a later handoff of the session starts a new conversation."""
        fields = {"state": LinkState.CLOSED.value, "closedBy": by, "closedAt": iso_at(now)}
        self.store.merge(
            {"PartitionKey": conversation_pk(link.conversation_id), "RowKey": "map", **fields,
             "purgeAfter": now + PURGE_AFTER_END_SECONDS}
        )  # fmt: skip
        current = self.store.get(session_pk(link.session_id), "map")
        if current and current.get("conversationId") == link.conversation_id:
            self.store.merge({"PartitionKey": session_pk(link.session_id), "RowKey": "map", **fields})

    def note(self, conversation_id: str, **fields: Any) -> None:
        """Merge facts about a conversation (cursors, reconciliation, what the end met)."""
        self.store.merge({"PartitionKey": conversation_pk(conversation_id), "RowKey": "map", **fields})

    def record_count(self, conversation_id: str, direction: Direction, count: int, **extra: Any) -> None:
        """The relayed count of one direction (only its drain, which holds the lease, writes it)."""
        name = "toCustomer" if direction is Direction.TO_CUSTOMER else "toRep"
        self.note(conversation_id, **{name: count, **extra})

    def due_for_purge(self, now: float, limit: int) -> list[str]:
        """Conversations that ended (closed or replaced) long enough ago that every dedup row they
        hold has expired: the sweep purges them once (`purged`)."""
        rows = self.store.query(
            "PartitionKey ge @low and PartitionKey lt @high and RowKey eq @map and purgeAfter lt @now",
            {"low": "c|", "high": "c}", "map": "map", "now": now},
            limit=limit,
        )
        return [_conversation_of(row) for row in rows]

    def purged(self, conversation_id: str) -> None:
        self.note(conversation_id, purgeAfter=PURGED)

    def open_conversations(self, limit: int) -> list[Link]:
        """Conversations the relay still carries, for the reconciliation sweep."""
        rows = self.store.query(
            "PartitionKey ge @low and PartitionKey lt @high and RowKey eq @map and state eq @open",
            {"low": "c|", "high": "c}", "map": "map", "open": LinkState.OPEN.value},
            limit=limit,
        )
        return [_link(row, conversation_id=_conversation_of(row)) for row in rows if row.get("sessionId")]


def _conversation_of(row: Row) -> str:
    from shared.platform.status_store import decode_key

    return decode_key(str(row["PartitionKey"])[2:])
