"""Once-only keys for what the bridge tells a customer: one Table Storage row per (session, key),
in a table of its own beside the status table (`<status table>notices`).

`claim` is a conditional insert made BEFORE the send: whoever inserts first sends, a redelivery
finds the row and sends nothing. A crash between the insert and the send loses that one notice:
the bridge errs towards at most once, since a missed "we are closed" is better than two.
Every failure is StoreUnavailable; callers then send nothing (the same direction).
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from shared.platform.process import shared
from shared.platform.settings import Settings
from shared.platform.status_store import (
    StoreProfile,
    StoreUnavailable,
    create_if_absent,
    decode_key,
    encode_key,
    make_table_client,
    table_name,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from azure.data.tables import TableClient

SUFFIX = "notices"


def ledger_table_name(settings: Settings) -> str:
    return (table_name(settings) + SUFFIX)[:63]


def ledger_client() -> TableClient:
    """The process's client (shared/platform/process.py)."""
    return shared(
        ("ledger",), lambda s: make_table_client(s.storage, ledger_table_name(s), StoreProfile.WORKER)
    )


def _call(action: str, operation: Callable[[TableClient], Any]) -> Any:
    from azure.core.exceptions import AzureError, ResourceExistsError, ResourceNotFoundError

    try:
        client = ledger_client()
        try:
            return operation(client)
        except ResourceNotFoundError:
            with contextlib.suppress(ResourceExistsError):
                client.create_table()
            return operation(client)
    except StoreUnavailable:
        raise
    except (AzureError, ValueError, OSError) as exc:
        raise StoreUnavailable(f"{type(exc).__name__} on ledger {action}") from exc


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def claim(session_id: str, key: str, **fields: Any) -> bool:
    """Insert the key's row if absent. True: this caller owns it (and sends). Raises StoreUnavailable."""

    entity = {
        "PartitionKey": encode_key(session_id),
        "RowKey": encode_key(key),
        "claimedAt": now_iso(),
        **{name: value for name, value in fields.items() if value is not None},
    }

    return bool(_call("claim", lambda client: create_if_absent(client, entity)))


def read(session_id: str, key: str) -> dict[str, Any] | None:
    from azure.core.exceptions import ResourceNotFoundError

    def get(client: TableClient) -> dict[str, Any] | None:
        try:
            return dict(client.get_entity(encode_key(session_id), encode_key(key)))
        except ResourceNotFoundError:
            return None

    row: dict[str, Any] | None = _call("read", get)
    return row


def update(session_id: str, key: str, **fields: Any) -> None:
    from azure.data.tables import UpdateMode

    entity = {
        "PartitionKey": encode_key(session_id),
        "RowKey": encode_key(key),
        "updatedAt": now_iso(),
        **{name: value for name, value in fields.items() if value is not None},
    }
    _call("update", lambda client: client.upsert_entity(entity, mode=UpdateMode.MERGE))


def release(session_id: str, key: str) -> None:
    """Give a claim back (a send that surely did not happen), so the next message may carry it."""
    _call("release", lambda client: client.delete_entity(encode_key(session_id), encode_key(key)))


def session_entries(session_id: str) -> list[dict[str, Any]]:
    """Every key of a session, oldest first, for the status API."""

    def query(client: TableClient) -> list[dict[str, Any]]:
        found = client.query_entities("PartitionKey eq @pk", parameters={"pk": encode_key(session_id)})
        return [dict(entity) for entity in found]

    rows: list[dict[str, Any]] = _call("query", query)
    entries = []
    for row in rows:
        entry = {k: v for k, v in row.items() if k not in ("PartitionKey", "RowKey")}
        entry["key"] = decode_key(str(row.get("RowKey", "")))
        entries.append(entry)
    return sorted(entries, key=lambda entry: str(entry.get("claimedAt") or ""))
