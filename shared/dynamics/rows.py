"""Create a row with a client-chosen id, safely repeatable (contract section 5.4).

A 412 on create may mean the row exists, but Microsoft's own duplicate example carries an empty
error code, so the code proves nothing: a GET of that id decides. Present is success; absent is a
transient failure (a `Failure`, not a made-up answer) and the create is tried again later.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared.dynamics.dataverse import DataverseClient, DataverseResponse
from shared.platform.failure import Failure, FailureKind, Upstream


@dataclass(frozen=True)
class Created:
    response: DataverseResponse  # the last real answer: the create's, or the confirming GET's
    row_id: str
    existed: bool = False  # True: an earlier attempt had created it (412 confirmed by GET)
    failure: Failure | None = None  # None: the row exists

    @property
    def ok(self) -> bool:
        return self.failure is None


def answered(response: DataverseResponse, row_id: str, *, existed: bool = False) -> Created:
    """A create (or confirming read) decided by this answer."""
    failure = None if response.ok else Failure.of(Upstream.DATAVERSE, response)
    return Created(response, row_id, existed=existed, failure=failure)


def row_path(entity_set: str, row_id: str) -> str:
    return f"{entity_set}({row_id})"


def get_row(
    client: DataverseClient, entity_set: str, row_id: str, select: str, operation: str
) -> DataverseResponse:
    return client.get(row_path(entity_set, row_id), operation, {"$select": select})


def create_row(
    client: DataverseClient,
    entity_set: str,
    id_column: str,
    payload: dict[str, Any],
    operation: str,
    *,
    select: str | None = None,
) -> Created:
    """POST the row. With `select`, ask for those columns back (`Prefer: return=representation`),
    so a server-generated column such as ticketnumber costs no second request."""
    row_id = str(payload[id_column])
    if select:
        response = client.request(
            "POST", f"{entity_set}?$select={select}", operation,
            json=payload, headers={"Prefer": "return=representation"},
        )  # fmt: skip
    else:
        response = client.post(entity_set, operation, payload)
    if response.status != 412:
        return answered(response, row_id)
    confirm = get_row(client, entity_set, row_id, select or id_column, f"confirm_{operation}")
    if confirm.ok:
        return answered(confirm, row_id, existed=True)
    if confirm.status == 404:
        # The 412 was not "already exists" (a concurrency check, a plugin): retry the create later.
        absent = Failure(
            Upstream.DATAVERSE, FailureKind.TRANSIENT, status=412, code=response.error_code,
            message="412 on create, but the row is absent",
        )  # fmt: skip
        return Created(response, row_id, failure=absent)
    return answered(confirm, row_id)


def is_open(response: DataverseResponse) -> bool:
    """A row is open while its statecode is 0; an absent statecode counts as open."""
    state = response.body.get("statecode")
    return state is None or state == 0
