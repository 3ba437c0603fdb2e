"""The messaging table: OpenCX session <-> Dynamics conversation, and a per-conversation outbox.

Storage queues keep no order, so order lives here (docs/messaging.md, "Order and once"). Layout of
MESSAGING_TABLE (keys percent-encoded like the status table's):

| PartitionKey      | RowKey                 | what                                                   |
|-------------------|------------------------|--------------------------------------------------------|
| `s|<session>`     | `map`                  | the session's current conversation (`conversationId`, `handoffId`, `state`) |
| `c|<conversation>`| `map`                  | the conversation's session, message counts each way    |
| `c|<conversation>`| `seq|<dir>`            | the next sequence number of a direction (ETag-guarded) |
| `c|<conversation>`| `dedup|<dir>|<sha256>` | an activity or event already appended, and its seq     |
| `c|<conversation>`| `e|<dir>|<seq:010d>`   | one outbox entry: pending, sent or dead                |
| `c|<conversation>`| `lock|<dir>`           | who drains the direction now, until when               |

`<dir>` is `c` (rep -> customer, sent to OpenCX) or `r` (customer -> rep, sent to the Messaging API).
An append is ONE entity-group transaction (counter update with its ETag, dedup row create, entry
create): a redelivery fails on the dedup row and changes nothing; two concurrent appends cannot
take the same number. Every failure is `MappingUnavailable`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from shared.platform.settings import Settings, get_settings
from shared.platform.status_store import StoreProfile, encode_key, make_table_client, now_iso

if TYPE_CHECKING:
    from azure.data.tables import TableClient

LOCK_SECONDS = 120.0  # far longer than a drain's budget plus one upstream call
APPEND_TRIES = 20


class Direction(StrEnum):
    TO_CUSTOMER = "c"  # the rep's words, relayed to the OpenCX session
    TO_REP = "r"  # the customer's words, relayed to the Dynamics conversation


class EntryState(StrEnum):
    PENDING = "pending"
    SENDING = "sending"  # claimed by a drain (ETag-guarded) just before its send
    SENT = "sent"
    DEAD = "dead"  # dead-lettered; the replay tool can make it pending again


class MappingUnavailable(Exception):
    """The table could not be read or written. The caller decides: queue instead, or retry later."""


@dataclass(frozen=True)
class Mapping:
    session_id: str
    conversation_id: str
    handoff_id: str | None = None
    channel: str | None = None
    state: str = "open"
    created_at: str | None = None
    to_customer: int = 0
    to_rep: int = 0
    last_history_id: str | None = None
    last_forwarded_at: str | None = None  # the OpenCX timestamp of the last customer text forwarded


@dataclass(frozen=True)
class Entry:
    """One message or end event waiting to be relayed in its direction's order."""

    conversation_id: str
    direction: Direction
    seq: int
    kind: str  # message | end
    text: str | None = None
    sender_name: str | None = None
    sender_id: str | None = None
    attachments: list[dict[str, Any]] = field(default_factory=list)
    state: EntryState = EntryState.PENDING
    attempts: int = 0
    received_at: str | None = None
    traceparent: str | None = None
    event_at: str | None = None  # the source event's own timestamp (customer messages)
    claimed_at: float | None = None
    etag: str | None = None

    def fields(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "text": self.text,
            "senderName": self.sender_name,
            "senderId": self.sender_id,
            "attachments": json.dumps(self.attachments) if self.attachments else None,
            "state": self.state.value,
            "attempts": self.attempts,
            "receivedAt": self.received_at,
            "traceparent": self.traceparent,
            "eventAt": self.event_at,
        }


@dataclass(frozen=True)
class Appended:
    seq: int
    duplicate: bool


@dataclass(frozen=True)
class Lock:
    conversation_id: str
    direction: Direction
    holder: str
    etag: str


class Busy(Exception):
    """Another drain holds the direction. `backoff` True: it waits on purpose, with a drain queued."""

    def __init__(self, until: float, backoff: bool) -> None:
        super().__init__("busy")
        self.until = until
        self.backoff = backoff


def session_pk(session_id: str) -> str:
    return "s|" + encode_key(session_id)


def conversation_pk(conversation_id: str) -> str:
    return "c|" + encode_key(conversation_id)


def entry_rk(direction: Direction, seq: int) -> str:
    return f"e|{direction.value}|{seq:010d}"


def dedup_rk(direction: Direction, key: str) -> str:
    return f"dedup|{direction.value}|" + hashlib.sha256(key.encode()).hexdigest()


@lru_cache(maxsize=8)
def _client(table: str) -> TableClient:
    return make_table_client(get_settings().storage, table, StoreProfile.WORKER)


def reset() -> None:
    """Forget pooled clients (tests change settings)."""
    _client.cache_clear()


def _table(settings: Settings | None = None) -> TableClient:
    return _client((settings or get_settings()).messaging_table)


def _call(action: str, operation: Any, settings: Settings | None = None) -> Any:
    from azure.core.exceptions import AzureError, ResourceExistsError, ResourceNotFoundError

    try:
        client = _table(settings)
        try:
            return operation(client)
        except ResourceNotFoundError as exc:
            if "TableNotFound" not in str(getattr(exc, "error_code", "")) + str(exc):
                raise
            with contextlib.suppress(ResourceExistsError):
                client.create_table()
            return operation(client)
    except (MappingUnavailable, Busy, Claimed):
        raise
    except (AzureError, ValueError, OSError) as exc:
        raise MappingUnavailable(f"{type(exc).__name__} on {action}") from exc


def _get(client: TableClient, pk: str, rk: str) -> dict[str, Any] | None:
    from azure.core.exceptions import ResourceNotFoundError

    try:
        entity = client.get_entity(pk, rk)
    except ResourceNotFoundError as exc:
        if "TableNotFound" in str(getattr(exc, "error_code", "")) + str(exc):
            raise
        return None
    row = dict(entity)
    row["_etag"] = entity.metadata.get("etag")
    return row


# ---------------------------------------------------------------------------- the mapping


def _mapping(row: dict[str, Any], session_id: str | None = None) -> Mapping:
    return Mapping(
        session_id=str(row.get("sessionId") or session_id or ""),
        conversation_id=str(row.get("conversationId") or ""),
        handoff_id=row.get("handoffId"),
        channel=row.get("channel"),
        state=str(row.get("state") or "open"),
        created_at=row.get("createdAt"),
        to_customer=int(row.get("toCustomer") or 0),
        to_rep=int(row.get("toRep") or 0),
        last_history_id=row.get("lastHistoryId"),
        last_forwarded_at=row.get("lastForwardedAt"),
    )


def session_mapping(session_id: str, settings: Settings | None = None) -> Mapping | None:
    """The session's current conversation (open or closed), or None."""
    row = _call("get_session", lambda c: _get(c, session_pk(session_id), "map"), settings)
    return _mapping(row, session_id) if row and row.get("conversationId") else None


def conversation_mapping(conversation_id: str, settings: Settings | None = None) -> Mapping | None:
    row = _call("get_conversation", lambda c: _get(c, conversation_pk(conversation_id), "map"), settings)
    if not row or not row.get("sessionId"):
        return None
    return _mapping({**row, "conversationId": conversation_id})


def record_mapping(
    session_id: str,
    conversation_id: str,
    handoff_id: str,
    channel: str | None,
    settings: Settings | None = None,
) -> None:
    """Both directions of the mapping, merged (counts and cursors already there are kept)."""
    from azure.data.tables import UpdateMode

    now = now_iso()
    common = {"handoffId": handoff_id, "channel": channel, "state": "open", "updatedAt": now}

    def write(client: TableClient) -> None:
        existing = _get(client, conversation_pk(conversation_id), "map")
        created = (existing or {}).get("createdAt") or now
        client.upsert_entity(
            {
                "PartitionKey": conversation_pk(conversation_id),
                "RowKey": "map",
                "sessionId": session_id,
                "createdAt": created,
                **{k: v for k, v in common.items() if v is not None},
            },
            mode=UpdateMode.MERGE,
        )
        client.upsert_entity(
            {
                "PartitionKey": session_pk(session_id),
                "RowKey": "map",
                "conversationId": conversation_id,
                "createdAt": created,
                **{k: v for k, v in common.items() if v is not None},
            },
            mode=UpdateMode.MERGE,
        )

    _call("record_mapping", write, settings)


def mark_closed(mapping: Mapping, by: str, settings: Settings | None = None) -> None:
    """The conversation is over: a later handoff of the session starts a new one."""
    from azure.data.tables import UpdateMode

    fields = {"state": "closed", "closedBy": by, "closedAt": now_iso()}

    def write(client: TableClient) -> None:
        pk = conversation_pk(mapping.conversation_id)
        client.upsert_entity({"PartitionKey": pk, "RowKey": "map", **fields}, mode=UpdateMode.MERGE)
        current = _get(client, session_pk(mapping.session_id), "map")
        if current and current.get("conversationId") == mapping.conversation_id:
            client.upsert_entity(
                {"PartitionKey": session_pk(mapping.session_id), "RowKey": "map", **fields},
                mode=UpdateMode.MERGE,
            )

    _call("mark_closed", write, settings)


def record_progress(
    conversation_id: str, direction: Direction, count: int, settings: Settings | None = None, **extra: Any
) -> None:
    """The relayed count of one direction (only its drain, which holds the lock, writes it)."""
    from azure.data.tables import UpdateMode

    name = "toCustomer" if direction is Direction.TO_CUSTOMER else "toRep"
    entity = {"PartitionKey": conversation_pk(conversation_id), "RowKey": "map", name: count, **extra}
    _call("record_progress", lambda c: c.upsert_entity(entity, mode=UpdateMode.MERGE), settings)


# ---------------------------------------------------------------------------- the outbox


def append(entry: Entry, dedup_key: str, settings: Settings | None = None) -> Appended:
    """Give the entry the direction's next sequence number, once per dedup key (see module doc)."""
    from azure.core import MatchConditions
    from azure.data.tables import TableTransactionError, UpdateMode

    pk = conversation_pk(entry.conversation_id)
    counter_rk = f"seq|{entry.direction.value}"
    marker = dedup_rk(entry.direction, dedup_key)

    def attempt(client: TableClient) -> Appended | None:
        counter = _get(client, pk, counter_rk)
        seq = int(counter["next"]) if counter else 1
        counter_entity = {"PartitionKey": pk, "RowKey": counter_rk, "next": seq + 1}
        counter_op: Any = (
            ("update", counter_entity, {"mode": UpdateMode.REPLACE, "etag": counter["_etag"],
                                        "match_condition": MatchConditions.IfNotModified})
            if counter
            else ("create", counter_entity)
        )  # fmt: skip
        row = {k: v for k, v in entry.fields().items() if v is not None}
        operations = [
            counter_op,
            ("create", {"PartitionKey": pk, "RowKey": marker, "seq": seq, "at": now_iso()}),
            ("create", {"PartitionKey": pk, "RowKey": entry_rk(entry.direction, seq), **row}),
        ]
        try:
            client.submit_transaction(operations)
        except TableTransactionError as exc:
            seen = _get(client, pk, marker)
            if seen is not None:
                return Appended(int(seen["seq"]), duplicate=True)
            if exc.status_code in (409, 412):
                return None  # another append took this number: read the counter again
            raise
        return Appended(seq, duplicate=False)

    def run(client: TableClient) -> Appended:
        for _ in range(APPEND_TRIES):
            done = attempt(client)
            if done is not None:
                return done
            time.sleep(secrets.randbelow(20) / 1000)
        raise MappingUnavailable("append kept conflicting")

    result: Appended = _call("append", run, settings)
    return result


def _entry(conversation_id: str, row: dict[str, Any]) -> Entry:
    _, direction, seq = str(row["RowKey"]).split("|")
    attachments = json.loads(row["attachments"]) if row.get("attachments") else []
    return Entry(
        conversation_id=conversation_id,
        direction=Direction(direction),
        seq=int(seq),
        kind=str(row.get("kind") or "message"),
        text=row.get("text"),
        sender_name=row.get("senderName"),
        sender_id=row.get("senderId"),
        attachments=attachments,
        state=EntryState(str(row.get("state") or "pending")),
        attempts=int(row.get("attempts") or 0),
        received_at=row.get("receivedAt"),
        traceparent=row.get("traceparent"),
        event_at=row.get("eventAt"),
        claimed_at=float(row["claimedAt"]) if row.get("claimedAt") is not None else None,
        etag=row.get("_etag"),
    )


def entries(
    conversation_id: str,
    direction: Direction,
    state: EntryState | None = EntryState.PENDING,
    settings: Settings | None = None,
) -> list[Entry]:
    """A direction's entries in sequence order (the RowKey order), optionally of one state."""
    pk = conversation_pk(conversation_id)
    low, high = f"e|{direction.value}|", f"e|{direction.value}|~"
    query = "PartitionKey eq @pk and RowKey gt @low and RowKey lt @high"
    parameters: dict[str, Any] = {"pk": pk, "low": low, "high": high}
    if state is EntryState.PENDING:  # a claimed entry is still to be sent until marked sent
        query += " and (state eq @state or state eq @claimed )"  # the SDK reads a parameter up to a space
        parameters.update(state=state.value, claimed=EntryState.SENDING.value)
    elif state is not None:
        query += " and state eq @state"
        parameters["state"] = state.value

    def read(client: TableClient) -> list[Entry]:
        found = []
        for entity in client.query_entities(query, parameters=parameters):
            row = dict(entity)
            row["_etag"] = entity.metadata.get("etag")
            found.append(_entry(conversation_id, row))
        return sorted(found, key=lambda item: item.seq)

    result: list[Entry] = _call("entries", read, settings)
    return result


def get_entry(
    conversation_id: str, direction: Direction, seq: int, settings: Settings | None = None
) -> Entry | None:
    row = _call(
        "get_entry", lambda c: _get(c, conversation_pk(conversation_id), entry_rk(direction, seq)), settings
    )
    return _entry(conversation_id, row) if row else None


def update_entry(entry: Entry, settings: Settings | None = None, **fields: Any) -> None:
    """Merge state changes into an entry (the drain holds the lock, so no ETag is needed)."""
    from azure.data.tables import UpdateMode

    entity = {
        "PartitionKey": conversation_pk(entry.conversation_id),
        "RowKey": entry_rk(entry.direction, entry.seq),
        **{k: (v.value if isinstance(v, StrEnum) else v) for k, v in fields.items()},
    }
    _call("update_entry", lambda c: c.upsert_entity(entity, mode=UpdateMode.MERGE), settings)


class Claimed(Exception):
    """Another drain changed the entry since we read it: stop, it is being handled."""


def claim(entry: Entry, settings: Settings | None = None) -> Entry:
    """Mark the entry `sending` if nobody changed it since it was read (ETag): with the lock this
    makes a double send need two drains AND a lost lock AND the same ETag, which cannot happen."""
    from azure.core import MatchConditions
    from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError
    from azure.data.tables import UpdateMode

    now = time.time()
    entity = {
        "PartitionKey": conversation_pk(entry.conversation_id),
        "RowKey": entry_rk(entry.direction, entry.seq),
        "state": EntryState.SENDING.value,
        "claimedAt": now,
    }

    def write(client: TableClient) -> Entry:
        try:
            answer = client.update_entity(
                entity, mode=UpdateMode.MERGE, etag=entry.etag, match_condition=MatchConditions.IfNotModified
            )
        except (ResourceModifiedError, ResourceNotFoundError):
            raise Claimed() from None
        return Entry(**{**entry.__dict__, "state": EntryState.SENDING, "claimed_at": now,
                        "etag": answer.get("etag")})  # fmt: skip

    try:
        result: Entry = _call("claim", write, settings)
    except MappingUnavailable as exc:
        if isinstance(exc.__cause__, Claimed):
            raise Claimed() from None
        raise
    return result


# ---------------------------------------------------------------------------- the drain lock


def acquire(
    conversation_id: str,
    direction: Direction,
    holder: str | None = None,
    settings: Settings | None = None,
) -> Lock:
    """Take the direction's lock, or raise Busy. A holder id given back by a backoff re-takes its own lock."""
    from azure.core import MatchConditions
    from azure.core.exceptions import ResourceExistsError, ResourceModifiedError
    from azure.data.tables import UpdateMode

    pk, rk = conversation_pk(conversation_id), f"lock|{direction.value}"
    token = holder or secrets.token_hex(8)

    def take(client: TableClient) -> Lock:
        now = time.time()
        entity = {"PartitionKey": pk, "RowKey": rk, "holder": token, "until": now + LOCK_SECONDS,
                  "mode": "running"}  # fmt: skip
        current = _get(client, pk, rk)
        try:
            if current is None:
                created = client.create_entity(entity)
                return Lock(conversation_id, direction, token, str(created.get("etag")))
            mine = holder is not None and current.get("holder") == holder
            if not mine and float(current.get("until") or 0) > now:
                raise Busy(float(current["until"]), current.get("mode") == "backoff")
            updated = client.update_entity(
                entity,
                mode=UpdateMode.REPLACE,
                etag=current["_etag"],
                match_condition=MatchConditions.IfNotModified,
            )
            return Lock(conversation_id, direction, token, str(updated.get("etag")))
        except (ResourceExistsError, ResourceModifiedError):
            raise Busy(now + LOCK_SECONDS, False) from None

    result: Lock = _call("acquire", take, settings)
    return result


def release(lock: Lock, settings: Settings | None = None, backoff_until: float | None = None) -> None:
    """Free the lock, or keep it as a backoff until `backoff_until` (a drain is queued for then)."""
    from azure.core import MatchConditions
    from azure.data.tables import UpdateMode

    pk, rk = conversation_pk(lock.conversation_id), f"lock|{lock.direction.value}"

    def free(client: TableClient) -> None:
        if backoff_until is None:
            client.delete_entity(pk, rk, etag=lock.etag, match_condition=MatchConditions.IfNotModified)
            return
        entity = {"PartitionKey": pk, "RowKey": rk, "holder": lock.holder, "until": backoff_until,
                  "mode": "backoff"}  # fmt: skip
        client.update_entity(
            entity, mode=UpdateMode.REPLACE, etag=lock.etag, match_condition=MatchConditions.IfNotModified
        )

    with contextlib.suppress(MappingUnavailable):  # it expires by itself within LOCK_SECONDS
        _call("release", free, settings)


def now_utc() -> datetime:
    return datetime.now(UTC)


def with_message_counts(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Status rows of mode messaging with their conversation's state and message counts each way
    (`messaging: {conversationId, state, messagesToCustomer, messagesToRep}`); other rows as they are.
    The table is an aid here: unreadable, the rows go out without counts."""
    from shared.platform.settings import DeliveryMode

    settings = get_settings()
    if settings.delivery_mode is not DeliveryMode.MESSAGING:
        return rows
    shown = []
    for row in rows:
        conversation_id = row.get("dynamics365_chat_id")
        link = None
        if conversation_id and not row.get("dynamics365_incident_id"):
            with contextlib.suppress(MappingUnavailable):
                link = conversation_mapping(str(conversation_id), settings)
        if link is not None:
            row = {
                **row,
                "messaging": {
                    "conversationId": link.conversation_id,
                    "state": link.state,
                    "messagesToCustomer": link.to_customer,
                    "messagesToRep": link.to_rep,
                },
            }
        shown.append(row)
    return shown
