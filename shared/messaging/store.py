"""The messaging table as a small repository: rows in, rows out, every storage failure one type.

Layout of MESSAGING_TABLE (keys percent-encoded like the status table's); the modules that own
each row kind are named:

| PartitionKey      | RowKey                 | what                                          | module       |
|-------------------|------------------------|-----------------------------------------------|--------------|
| `s|<session>`     | `map`                  | the session's current conversation            | links.py     |
| `c|<conversation>`| `map`                  | the conversation's session, counts, cursors   | links.py     |
| `c|<conversation>`| `dedup|<dir>|<sha256>` | an activity or event already appended         | outbox.py    |
| `c|<conversation>`| `e|<dir>|<seq:020d>`   | one outbox entry: pending, sent, dead, moved  | outbox.py    |
| `c|<conversation>`| `lock|<dir>`           | who drains the direction now, until when      | lease.py     |

The table is created on first need (Azure deploys it; Azurite starts empty).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

from shared.platform.status_store import encode_key

if TYPE_CHECKING:
    from azure.data.tables import TableClient

T = TypeVar("T")
Row = dict[str, Any]


class StoreUnavailable(Exception):
    """The table could not be read or written. The caller decides: queue instead, or retry later."""


class Conflict(Exception):
    """A conditional write lost: the row exists already, or changed since it was read."""


def session_pk(session_id: str) -> str:
    return "s|" + encode_key(session_id)


def conversation_pk(conversation_id: str) -> str:
    return "c|" + encode_key(conversation_id)


class MessagingStore:
    """One pooled TableClient; every method raises StoreUnavailable or Conflict, nothing else."""

    def __init__(self, client: TableClient) -> None:
        self.client = client

    def _run(self, action: str, operation: Callable[[TableClient], T]) -> T:
        from azure.core.exceptions import (
            AzureError,
            ResourceExistsError,
            ResourceModifiedError,
            ResourceNotFoundError,
        )
        from azure.data.tables import TableTransactionError

        try:
            try:
                return operation(self.client)
            except ResourceNotFoundError as exc:
                if "TableNotFound" not in f"{getattr(exc, 'error_code', '')}{exc}":
                    raise
                with contextlib.suppress(ResourceExistsError):
                    self.client.create_table()
                return operation(self.client)
        except (ResourceExistsError, ResourceModifiedError) as exc:
            raise Conflict(action) from exc
        except TableTransactionError as exc:
            if exc.status_code in (409, 412):
                raise Conflict(action) from exc
            raise StoreUnavailable(f"{type(exc).__name__} on {action}") from exc
        except ResourceNotFoundError as exc:
            raise Conflict(action) from exc  # a conditional update of a row that is gone
        except (AzureError, ValueError, OSError) as exc:
            raise StoreUnavailable(f"{type(exc).__name__} on {action}") from exc

    def get(self, pk: str, rk: str) -> Row | None:
        """The row with its ETag under `_etag`, or None."""
        from azure.core.exceptions import ResourceNotFoundError

        def read(client: TableClient) -> Row | None:
            try:
                entity = client.get_entity(pk, rk)
            except ResourceNotFoundError as exc:
                if "TableNotFound" in f"{getattr(exc, 'error_code', '')}{exc}":
                    raise
                return None
            return _row(entity)

        return self._run("get", read)

    def merge(self, row: Row) -> None:
        """Upsert, merging into what is there."""
        from azure.data.tables import UpdateMode

        self._run("merge", lambda c: c.upsert_entity(_clean(row), mode=UpdateMode.MERGE))

    def create(self, row: Row) -> str:
        """Insert; Conflict when the row exists. Returns the new ETag."""
        return str(self._run("create", lambda c: c.create_entity(_clean(row))).get("etag"))

    def update_if(self, row: Row, etag: str, *, replace: bool = False) -> str:
        """Update only if unchanged since `etag`; Conflict otherwise. Returns the new ETag."""
        from azure.core import MatchConditions
        from azure.data.tables import UpdateMode

        mode = UpdateMode.REPLACE if replace else UpdateMode.MERGE

        def write(client: TableClient) -> Any:
            return client.update_entity(
                _clean(row), mode=mode, etag=etag, match_condition=MatchConditions.IfNotModified
            )

        return str(self._run("update_if", write).get("etag"))

    def delete(self, pk: str, rk: str, etag: str | None = None) -> None:
        from azure.core import MatchConditions

        def remove(client: TableClient) -> None:
            if etag is None:
                client.delete_entity(pk, rk)
            else:
                client.delete_entity(pk, rk, etag=etag, match_condition=MatchConditions.IfNotModified)

        self._run("delete", remove)

    def transact(self, operations: Iterable[tuple[Any, ...]]) -> None:
        """One entity-group transaction (one partition): all or nothing; Conflict on 409/412."""
        ops = [(op[0], _clean(op[1]), *op[2:]) for op in operations]
        self._run("transact", lambda c: c.submit_transaction(ops))

    def query(self, flt: str, parameters: dict[str, Any], *, limit: int | None = None) -> list[Row]:
        def read(client: TableClient) -> list[Row]:
            rows: list[Row] = []
            for entity in client.query_entities(flt, parameters=parameters, results_per_page=limit):
                rows.append(_row(entity))
                if limit is not None and len(rows) >= limit:
                    break
            return rows

        return self._run("query", read)

    def close(self) -> None:
        self.client.close()


def _row(entity: Any) -> Row:
    row = dict(entity)
    row["_etag"] = entity.metadata.get("etag")
    return row


def _clean(row: Row) -> Row:
    """Without our `_etag` and without None values (the table stores no nulls)."""
    return {k: v for k, v in row.items() if v is not None and not k.startswith("_")}
