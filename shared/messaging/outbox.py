"""A conversation's outbox: each direction's entries in arrival order, once each.

Storage queues keep no order, so order lives here (docs/messaging.md, "Order and once"). An entry's
`seq` is its arrival time in microseconds (bumped by one on the rare tie), so appends never contend
for a counter: ten activities for one conversation at once cost ten independent writes. An append
is ONE entity-group transaction (the dedup row and the entry): a redelivery fails on the dedup row
and changes nothing.

Once, without ids (docs/messaging.md, "Redeliveries"): Microsoft's webhook activities carry no `id`
(`api-conversation-webhook.md`), and Microsoft repeats a delivery only when our answer did not come
within 10 s, three times at most. So a key that is a hash of the body (`sha256:`) is a redelivery
only within DEDUP_WINDOW_SECONDS of its first sighting; after that the same body is a new message
(a rep who types "ok" twice). A key that is an id (`id:`, `mid:`, `moved:`) holds until the row is
purged (RETENTION_SECONDS). Dedup rows are purged by the reconciliation sweep.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from shared.messaging.store import Conflict, MessagingStore, Row, StoreUnavailable, conversation_pk
from shared.platform.times import instant

DEDUP_WINDOW_SECONDS = 60.0  # > Microsoft's 3 tries x 10 s timeout, with room for clock skew
RETENTION_SECONDS = 86_400.0  # an id-keyed dedup row, and a finished conversation's rows
APPEND_TRIES = 20
HASH_PREFIX = "sha256:"


class Direction(StrEnum):
    TO_CUSTOMER = "c"  # the rep's words, relayed to the OpenCX session
    TO_REP = "r"  # the customer's words, relayed to the Dynamics conversation


class EntryState(StrEnum):
    PENDING = "pending"
    SENDING = "sending"  # claimed by a drain (ETag-guarded) just before its send
    SENT = "sent"
    DEAD = "dead"  # dead-lettered; the replay tool can make it pending again
    MOVED = "moved"  # re-appended to the conversation that continues this one


class EntryKind(StrEnum):
    MESSAGE = "message"
    END = "end"
    NOTICE = "notice"  # a waiting event (shared/messaging/waiting.py); `text` holds its name


@dataclass(frozen=True)
class Entry:
    """One message or end event waiting to be relayed in its direction's order."""

    conversation_id: str
    direction: Direction
    kind: EntryKind = EntryKind.MESSAGE
    text: str | None = None
    sender_name: str | None = None
    sender_id: str | None = None
    attachments: list[dict[str, Any]] = field(default_factory=list)
    received_at: str | None = None
    traceparent: str | None = None
    event_at: str | None = None  # the source event's own time (customer messages)
    message_id: str | None = None  # the Messaging API's id: of a rep message, or of what we sent
    recovered: bool = False  # found lost by the reconciliation, not delivered by the webhook
    twin: bool = False  # marked sent without sending: a second copy of a message the customer has
    forwarded_ids: tuple[str, ...] = ()  # ids of the history messages a text-less entry sent
    files_line: str | None = None  # the history line whose files went with this entry's words

    @property
    def sent_ids(self) -> set[str]:
        """Every Messaging API id this entry's sends got back: the bridge's own words there."""
        return {i for i in (self.message_id, *self.forwarded_ids) if i}

    seq: int = 0
    state: EntryState = EntryState.PENDING
    attempts: int = 0
    claimed_at: float | None = None
    etag: str | None = None

    def fields(self) -> dict[str, Any]:
        """The entry's content as it travels (table row, queue message)."""
        return {
            "kind": self.kind.value,
            "text": self.text,
            "senderName": self.sender_name,
            "senderId": self.sender_id,
            "attachments": json.dumps(self.attachments) if self.attachments else None,
            "receivedAt": self.received_at,
            "traceparent": self.traceparent,
            "eventAt": self.event_at,
            "messageId": self.message_id,
            "recovered": True if self.recovered else None,
        }

    @classmethod
    def from_fields(cls, conversation_id: str, direction: Direction, fields: dict[str, Any]) -> Entry:
        attachments = fields.get("attachments")
        return cls(
            conversation_id=conversation_id,
            direction=direction,
            kind=_kind(fields.get("kind")),
            text=fields.get("text"),
            sender_name=fields.get("senderName"),
            sender_id=fields.get("senderId"),
            attachments=json.loads(attachments) if isinstance(attachments, str) else list(attachments or []),
            received_at=fields.get("receivedAt"),
            traceparent=fields.get("traceparent"),
            event_at=fields.get("eventAt"),
            message_id=fields.get("messageId"),
            recovered=bool(fields.get("recovered")),
        )


@dataclass(frozen=True)
class Appended:
    seq: int
    duplicate: bool


def _kind(value: object) -> EntryKind:
    try:
        return EntryKind(str(value))
    except ValueError:
        return EntryKind.MESSAGE


def entry_rk(direction: Direction, seq: int) -> str:
    return f"e|{direction.value}|{seq:020d}"


def dedup_rk(direction: Direction, key: str) -> str:
    return f"dedup|{direction.value}|" + hashlib.sha256(key.encode()).hexdigest()


def seq_for(received_at: str | None, now: float) -> int:
    """Arrival time in microseconds: the order entries are sent in."""
    at = instant(received_at)
    return int((at if at is not None else now) * 1_000_000)


class Outbox:
    def __init__(self, store: MessagingStore, clock: Callable[[], float]) -> None:
        self.store = store
        self.clock = clock

    def append(self, entry: Entry, dedup_key: str) -> Appended:
        """Record the entry once per dedup key (see the module doc). Raises StoreUnavailable."""
        pk = conversation_pk(entry.conversation_id)
        marker = dedup_rk(entry.direction, dedup_key)
        seq = seq_for(entry.received_at, self.clock())
        content = {k: v for k, v in entry.fields().items() if v is not None}
        for _ in range(APPEND_TRIES):
            now = self.clock()
            seen = self.store.get(pk, marker)
            if seen is not None and now <= float(seen.get("until") or 0):
                return Appended(int(seen.get("seq") or 0), duplicate=True)
            dedup_row = {"PartitionKey": pk, "RowKey": marker, "seq": str(seq), "at": now,
                         "until": now + dedup_window(dedup_key)}  # fmt: skip
            dedup_op: tuple[Any, ...] = (
                ("update", dedup_row, {"mode": _replace_mode(), "etag": seen["_etag"],
                                       "match_condition": _if_not_modified()})
                if seen is not None
                else ("create", dedup_row)
            )  # fmt: skip
            row = {"PartitionKey": pk, "RowKey": entry_rk(entry.direction, seq),
                   "state": EntryState.PENDING.value, "attempts": 0, **content}  # fmt: skip
            try:
                self.store.transact([dedup_op, ("create", row)])
            except Conflict:
                # Either the dedup row appeared (a concurrent redelivery: the loop sees it) or the
                # entry's microsecond is taken (a tie: the next one is tried).
                seq += 1
                continue
            return Appended(seq, duplicate=False)
        raise StoreUnavailable("append kept conflicting")

    def entries(
        self, conversation_id: str, direction: Direction, states: tuple[EntryState, ...] | None = None
    ) -> list[Entry]:
        """A direction's entries in order, optionally only those in `states`."""
        query = "PartitionKey eq @pk and RowKey gt @low and RowKey lt @high"
        parameters: dict[str, Any] = {
            "pk": conversation_pk(conversation_id),
            "low": f"e|{direction.value}|",
            "high": f"e|{direction.value}|~",
        }
        if states:
            names = [f"s{i}" for i in range(len(states))]
            # The SDK reads a parameter name up to a space or a parenthesis: keep them apart.
            query += " and (" + "or ".join(f"state eq @{name} " for name in names) + ")"
            parameters.update({name: state.value for name, state in zip(names, states, strict=True)})
        rows = self.store.query(query, parameters)
        return sorted((_entry(conversation_id, row) for row in rows), key=lambda e: e.seq)

    def pending(self, conversation_id: str, direction: Direction) -> list[Entry]:
        """What is still to be sent: pending, and claimed but not marked sent."""
        return self.entries(conversation_id, direction, (EntryState.PENDING, EntryState.SENDING))

    def get(self, conversation_id: str, direction: Direction, seq: int) -> Entry | None:
        row = self.store.get(conversation_pk(conversation_id), entry_rk(direction, seq))
        return _entry(conversation_id, row) if row else None

    def update(self, entry: Entry, **fields: Any) -> None:
        """Merge state changes (the drain holds the lease, so no ETag is needed)."""
        self.store.merge(
            {
                "PartitionKey": conversation_pk(entry.conversation_id),
                "RowKey": entry_rk(entry.direction, entry.seq),
                **{k: (v.value if isinstance(v, StrEnum) else v) for k, v in fields.items()},
            }
        )

    def claim(self, entry: Entry) -> Entry:
        """Mark the entry `sending` if nobody changed it since it was read (ETag): with the lease this
        makes a double send need two drains AND a lost lease AND the same ETag. Raises Conflict."""
        now = self.clock()
        row = {"PartitionKey": conversation_pk(entry.conversation_id), "RowKey": entry_rk(entry.direction, entry.seq),
               "state": EntryState.SENDING.value, "claimedAt": now}  # fmt: skip
        etag = self.store.update_if(row, entry.etag or "*")
        return replace(entry, state=EntryState.SENDING, claimed_at=now, etag=etag)

    def purge(self, conversation_id: str) -> int:
        """Delete dedup rows that can no longer match (hash rows past the window, id rows past the
        retention). Returns how many."""
        now = self.clock()
        pk = conversation_pk(conversation_id)
        rows = self.store.query(
            "PartitionKey eq @pk and RowKey gt @low and RowKey lt @high",
            {"pk": pk, "low": "dedup|", "high": "dedup|~"},
        )
        stale = [row for row in rows if now > float(row.get("until") or 0)]
        for row in stale:
            self.store.delete(pk, str(row["RowKey"]))
        return len(stale)


def dedup_window(dedup_key: str) -> float:
    """How long a dedup key stands for "already seen"."""
    return DEDUP_WINDOW_SECONDS if dedup_key.startswith(HASH_PREFIX) else RETENTION_SECONDS


def _replace_mode() -> Any:
    from azure.data.tables import UpdateMode

    return UpdateMode.REPLACE


def _if_not_modified() -> Any:
    from azure.core import MatchConditions

    return MatchConditions.IfNotModified


def _entry(conversation_id: str, row: Row) -> Entry:
    _, direction, seq = str(row["RowKey"]).split("|")
    base = Entry.from_fields(conversation_id, Direction(direction), row)
    return replace(
        base,
        seq=int(seq),
        state=EntryState(str(row.get("state") or "pending")),
        attempts=int(row.get("attempts") or 0),
        claimed_at=float(row["claimedAt"]) if row.get("claimedAt") is not None else None,
        twin=bool(row.get("twin")),
        forwarded_ids=tuple(i for i in str(row.get("forwardedIds") or "").split(",") if i),
        files_line=row.get("filesLine"),
        etag=row.get("_etag"),
    )
