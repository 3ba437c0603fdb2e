"""The handoff status store: one Table Storage row per handoff, so support can answer "what
happened to session X?" with one call, and ingress can spot a redelivered webhook-id.

The store is an aid, never a gate: every failure surfaces as StoreUnavailable, which callers log
and ignore. Ingress uses tight timeouts and no retries, so a table outage costs it at most a
couple of seconds. azure-data-tables is imported on first use.
"""

from __future__ import annotations

import contextlib
import re
from datetime import UTC, datetime
from enum import Enum, StrEnum
from typing import TYPE_CHECKING, Any

from shared.platform.credentials import shared_credential
from shared.platform.masking import scrub_text
from shared.platform.process import shared
from shared.platform.settings import Settings, StorageConnection

if TYPE_CHECKING:
    from azure.data.tables import TableClient

DEFAULT_TABLE = "handoffs"
# PartitionKey / RowKey may not hold these; percent-encode them (and % itself) so any id fits.
_KEY_FORBIDDEN = re.compile(r"[/\\#?%\x00-\x1f\x7f-\x9f]")
ERROR_MESSAGE_MAX = 300


class Status(StrEnum):
    ACCEPTED = "accepted"
    RETRYING = "retrying"
    THROTTLED = "throttled"
    CREATED = "created"
    DUPLICATE = "duplicate"  # an open row for this conversation already exists: see duplicate_of
    DEAD_LETTERED = "dead_lettered"


class StoreProfile(Enum):
    """(connect timeout s, read timeout s, retries): ingress must stay fast whatever the table does."""

    INGRESS = (0.75, 1.0, 0)  # a lookup plus a write stay under ~3.5 s worst case
    WORKER = (2.0, 5.0, 1)


class StoreUnavailable(Exception):
    """The table could not be read or written. Log it and carry on."""


def table_name(settings: Settings) -> str:
    """`handoffs` by default. A bridge on another queue gets its own table, so two bridges sharing
    one storage account (or parallel tests) never read each other's rows."""
    if settings.status_table:
        return settings.status_table
    if settings.handoff_queue == "handoffs":
        return DEFAULT_TABLE
    name = re.sub(r"[^A-Za-z0-9]", "", settings.handoff_queue)
    name = name if name[:1].isalpha() else "t" + name
    return name if len(name) >= 3 else name + "status"  # table names take 3-63 characters


def encode_key(value: str) -> str:
    return _KEY_FORBIDDEN.sub(lambda match: f"%{ord(match.group(0)):02X}", value)


def decode_key(value: str) -> str:
    return re.sub(r"%([0-9A-F]{2})", lambda match: chr(int(match.group(1), 16)), value)


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def make_table_client(storage: StorageConnection, name: str, profile: StoreProfile) -> TableClient:
    """A TableClient on the host's storage account with the profile's bounds."""
    from azure.data.tables import TableClient

    connect_timeout, read_timeout, retries = profile.value
    options: dict[str, Any] = {
        "connection_timeout": connect_timeout,
        "read_timeout": read_timeout,
        "retry_total": retries,
        "retry_backoff_factor": 0.2,
    }
    if storage.connection_string:
        connection_string = storage.connection_string

        def build(**extra: Any) -> TableClient:
            return TableClient.from_connection_string(connection_string, name, **options, **extra)
    else:
        if not storage.table_service_uri:
            raise StoreUnavailable(
                "no table service URI: set AzureWebJobsStorage__tableServiceUri or __accountName"
            )
        service_uri, credential = storage.table_service_uri, shared_credential(storage.client_id)

        def build(**extra: Any) -> TableClient:
            return TableClient(service_uri, name, credential=credential, **options, **extra)

    # The transport needs the endpoint (for NO_PROXY): a first client, never used, tells it.
    from shared.platform.sdk_transport import sdk_http_options

    return build(**sdk_http_options(build().url, connect_timeout, read_timeout))


def create_if_absent(client: TableClient, entity: dict[str, Any]) -> bool:
    """Insert the row; False when it exists already (the one writer that creates it wins)."""
    from azure.core.exceptions import ResourceExistsError

    try:
        client.create_entity(entity)
    except ResourceExistsError:
        return False
    return True


def _create_table(client: TableClient) -> None:
    """Azure deploys the table; Azurite starts empty. Created on first need, like the queues."""
    from azure.core.exceptions import ResourceExistsError

    with contextlib.suppress(ResourceExistsError):
        client.create_table()


def table_client(profile: StoreProfile) -> TableClient:
    """One pooled client per profile per process."""
    return shared(("status-table", profile), lambda s: make_table_client(s.storage, table_name(s), profile))


def _call(profile: StoreProfile, action: str, operation: Any) -> Any:
    from azure.core.exceptions import AzureError, ResourceNotFoundError

    try:
        client = table_client(profile)
        try:
            return operation(client)
        except ResourceNotFoundError:
            # No table yet (a fresh Azurite, a deleted table): create it and try once more.
            _create_table(client)
            return operation(client)
    except StoreUnavailable:
        raise
    except (AzureError, ValueError, OSError) as exc:
        raise StoreUnavailable(f"{type(exc).__name__} on {action}") from exc


def _clean(fields: dict[str, Any]) -> dict[str, Any]:
    cleaned: dict[str, Any] = {}
    for key, value in fields.items():
        if value is None:
            continue
        if key == "lastErrorMessage":
            value = scrub_text(str(value))[:ERROR_MESSAGE_MAX]
        cleaned[key] = value
    return cleaned


def get_row(
    session_id: str, handoff_id: str, profile: StoreProfile = StoreProfile.INGRESS
) -> dict[str, Any] | None:
    """The row of one handoff, or None. Raises StoreUnavailable."""
    from azure.core.exceptions import ResourceNotFoundError

    def read(client: TableClient) -> dict[str, Any] | None:
        try:
            return dict(client.get_entity(encode_key(session_id), encode_key(handoff_id)))
        except ResourceNotFoundError:
            return None

    row: dict[str, Any] | None = _call(profile, "get", read)
    return row


def record_accepted(
    session_id: str, handoff_id: str, received_at: str, profile: StoreProfile = StoreProfile.INGRESS
) -> bool:
    """Create the row if absent; never overwrite a status the worker already wrote. True if created."""

    now = now_iso()
    entity = {
        "PartitionKey": encode_key(session_id),
        "RowKey": encode_key(handoff_id),
        "status": Status.ACCEPTED.value,
        "attempts": 0,
        "receivedAt": received_at,
        "updatedAt": now,
    }

    return bool(_call(profile, "create", lambda client: create_if_absent(client, entity)))


def record_status(
    session_id: str,
    handoff_id: str,
    status: Status,
    profile: StoreProfile = StoreProfile.WORKER,
    /,
    **fields: Any,
) -> None:
    """Merge the worker's view into the row (creating it if ingress could not)."""
    from azure.data.tables import UpdateMode

    entity = {
        "PartitionKey": encode_key(session_id),
        "RowKey": encode_key(handoff_id),
        "status": status.value,
        "updatedAt": now_iso(),
        **_clean(fields),
    }
    _call(profile, "upsert", lambda client: client.upsert_entity(entity, mode=UpdateMode.MERGE))


_PUBLIC_FIELDS = (
    "status",
    "dynamics365_chat_id",
    "dynamics365_incident_id",
    "ticketnumber",
    "duplicate_of",
    "channel",
    "contactLinkage",
    "attempts",
    "throttled",
    "lastErrorTarget",
    "lastErrorStatus",
    "lastErrorCode",
    "lastErrorMessage",
    "deadLetterReason",
    "availability",
    "availabilityReason",
    "queueOpen",
    "nextOpening",
    "positionInQueue",
    "averageWaitSeconds",
    "expertsAvailable",
    "afterHours",
    "notice",
    "noticeOutcome",
    "receivedAt",
    "createdAt",
    "updatedAt",
)


def public_view(entity: dict[str, Any]) -> dict[str, Any]:
    """What the status API shows of a row: ids, status and outcome, never customer data."""
    view: dict[str, Any] = {
        "handoffId": decode_key(str(entity.get("RowKey", ""))),
        "sessionId": decode_key(str(entity.get("PartitionKey", ""))),
    }
    for key in _PUBLIC_FIELDS:
        value = entity.get(key)
        if key == "lastErrorMessage" and value:
            value = scrub_text(str(value))
        view[key] = value
    return view


def session_rows(session_id: str, profile: StoreProfile = StoreProfile.WORKER) -> list[dict[str, Any]]:
    """Every handoff of a session, newest first (by receivedAt, then updatedAt)."""

    def query(client: TableClient) -> list[dict[str, Any]]:
        entities = client.query_entities("PartitionKey eq @pk", parameters={"pk": encode_key(session_id)})
        return [public_view(dict(entity)) for entity in entities]

    rows = _call(profile, "query", query)
    return sorted(
        rows, key=lambda row: (row.get("receivedAt") or "", row.get("updatedAt") or ""), reverse=True
    )


def probe(profile: StoreProfile = StoreProfile.INGRESS) -> str:
    """Reach the table (creating it if missing); for the health check. Raises StoreUnavailable."""

    def read_one(client: TableClient) -> str:
        next(iter(client.list_entities(results_per_page=1).by_page()), None)
        return client.table_name

    return str(_call(profile, "probe", read_one))
