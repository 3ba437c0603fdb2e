"""What the webhook's bearer tokens say, kept for the go-live check (ops/golive).

Microsoft documents neither the audience nor the issuer of the token it sends with each webhook
activity. The webhook records the identifiers of the LAST token it saw (issuer, audience, app id,
tenant: never the token) in the messaging table, row PartitionKey "golive", RowKey
"webhook-token"; the go-live check starts a test conversation, waits for that row and prints the
exact MESSAGING_TENANT_ID / MESSAGING_WEBHOOK_AUDIENCE values to use.

Nothing is recorded unless a go-live check ARMED the probe (`arm`, row "webhook-token-armed": an
"armed until" time, then the test conversation's id once it exists): an unauthenticated caller
must not be able to make the webhook write rows with claims it chooses. The webhook reads that
row at most once per ARM_CACHE_SECONDS per process (a flood costs no reads), records only the
armed conversation once it is named, and at most MAX_RECORDS_PER_ARM rows per arming per process.
The check pauses ARM_CACHE_SECONDS after arming, so a webhook that read "not armed" just before
has read again by the time its test conversation exists.

Two calls for the webhook, both best-effort (they never raise, never slow a delivery by more than
one table read and one write, and write at most once per conversation per process):
- `record_claims(claims, conversation_id)` after `WebhookTokenValidator` accepted the token;
- `record_rejection(headers, reason, conversation_id)` after it refused one. The refused token's
  claims are read WITHOUT verifying its signature and stored marked `verified=False`: anyone may
  post a token, so the check shows them only for its own test conversation and says they are
  unverified. Without this, a wrong audience setting would leave the check nothing to compare.
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.messaging.token import TokenClaims, bearer_token
from shared.platform.settings import Settings, get_settings
from shared.platform.status_store import StoreProfile, make_table_client, now_iso

PARTITION = "golive"
ROW = "webhook-token"
ARM_ROW = "webhook-token-armed"
MAX_FIELD_CHARS = 300
ARM_CACHE_SECONDS = 2.0  # a flood of 1,000 posts a second costs one read every 2 s
MAX_RECORDS_PER_ARM = 20


@dataclass(frozen=True)
class Armed:
    """A go-live check is waiting for a token: until when, for which conversation (once known)."""

    arm_id: str
    until: datetime
    conversation_id: str | None


class Memory:
    """What this process remembers between deliveries: which conversations it recorded, the last
    read of the armed row, and each arming's spent budget. One per process (`memory`); a test
    gives the module a fresh one."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.lock = threading.Lock()
        self.written: set[tuple[str | None, bool]] = set()  # (conversation id, verified) written here
        self.arm_cache: dict[str, tuple[float, Armed | None]] = {}  # table -> (read at, what it said)
        self.spent: dict[str, int] = {}  # arm id -> rows this process wrote for it


memory = Memory()


@dataclass(frozen=True)
class RecordedClaims:
    """One token's identifiers as the webhook saw them."""

    issuer: str | None
    audience: str | None
    app_id: str | None
    tenant_id: str | None
    verified: bool
    reason: str | None  # why the webhook refused it (token.py's vocabulary); None when accepted
    conversation_id: str | None
    recorded_at: str | None


def _clip(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return str(value)[:MAX_FIELD_CHARS]


def _table(settings: Settings) -> Any:
    return make_table_client(settings.storage, settings.messaging_table, StoreProfile.WORKER)


def arm(
    settings: Settings, seconds: float, conversation_id: str | None = None, arm_id: str | None = None
) -> str:
    """Let the webhook record tokens for `seconds` (for `conversation_id` only, once given). Returns
    the arming's id; pass it back to name the conversation without a new budget. Raises AzureError."""
    from azure.core.exceptions import ResourceExistsError
    from azure.data.tables import UpdateMode

    arm_id = arm_id or uuid.uuid4().hex
    until = datetime.now(UTC) + timedelta(seconds=seconds)
    client = _table(settings)
    try:
        with contextlib.suppress(ResourceExistsError):
            client.create_table()
        entity = {
            "PartitionKey": PARTITION,
            "RowKey": ARM_ROW,
            "armId": arm_id,
            "armedUntil": until.isoformat(),
        }
        if conversation_id:
            entity["conversationId"] = conversation_id
        client.upsert_entity(entity, mode=UpdateMode.REPLACE)
    finally:
        client.close()
    return arm_id


def _read_armed(settings: Settings) -> Armed | None:
    from azure.core.exceptions import AzureError

    client = _table(settings)
    try:
        entity = client.get_entity(PARTITION, ARM_ROW)
        return Armed(
            arm_id=str(entity["armId"]),
            until=datetime.fromisoformat(str(entity["armedUntil"])),
            conversation_id=entity.get("conversationId") or None,
        )
    except (AzureError, OSError, KeyError, ValueError):  # no row, no table, storage down: not armed
        return None
    finally:
        client.close()


def _armed_for(settings: Settings, conversation_id: str | None) -> Armed | None:
    """The arming that covers this conversation now, or None (at most one read per cache period)."""
    key = f"{settings.storage}|{settings.messaging_table}"
    now = memory.clock()
    with memory.lock:
        cached = memory.arm_cache.get(key)
    if cached is None or now - cached[0] >= ARM_CACHE_SECONDS:
        cached = (now, _read_armed(settings))
        with memory.lock:
            memory.arm_cache[key] = cached
    armed = cached[1]
    if armed is None or armed.until <= datetime.now(UTC):
        return None
    if armed.conversation_id is not None and armed.conversation_id != conversation_id:
        return None
    return armed


def _spend(armed: Armed) -> bool:
    """One record of the arming's budget; False when it is spent."""
    with memory.lock:
        spent = memory.spent.get(armed.arm_id, 0)
        if spent >= MAX_RECORDS_PER_ARM:
            return False
        memory.spent[armed.arm_id] = spent + 1
        return True


def _should_write(conversation_id: str | None, verified: bool) -> bool:
    key = (conversation_id, verified)
    with memory.lock:
        if conversation_id is not None and key in memory.written:
            return False
        memory.written.add(key)
        if len(memory.written) > 1000:  # a long-lived worker: forget, a rewrite costs one write
            memory.written.clear()
        return True


def _write(entity: dict[str, Any], settings: Settings | None) -> None:
    from azure.core.exceptions import AzureError, ResourceExistsError

    settings = settings or get_settings()
    client = _table(settings)
    try:
        with contextlib.suppress(ResourceExistsError):
            client.create_table()
        client.upsert_entity({"PartitionKey": PARTITION, "RowKey": ROW, **entity})
    except (AzureError, OSError, ValueError):
        pass  # diagnostics must never fail a delivery
    finally:
        client.close()


def record_claims(
    claims: TokenClaims, conversation_id: str | None = None, *, settings: Settings | None = None
) -> None:
    """Call after a token was accepted. Writes only while armed, once per conversation per process."""
    settings = settings or get_settings()
    armed = _armed_for(settings, conversation_id)
    if armed is None or not _should_write(conversation_id, True) or not _spend(armed):
        return
    _write(
        {
            "issuer": _clip(claims.issuer),
            "audience": _clip(claims.audience),
            "appId": _clip(claims.app_id),
            "tenantId": _clip(claims.tenant_id),
            "verified": True,
            "reason": None,
            "conversationId": _clip(conversation_id),
            "recordedAt": now_iso(),
        },
        settings,
    )


def record_rejection(
    headers: Mapping[str, str],
    reason: str,
    conversation_id: str | None = None,
    *,
    settings: Settings | None = None,
) -> None:
    """Call after a token was refused: its claims, unverified, so the check can name the right setting."""
    token = bearer_token(headers)
    if not token:
        return
    settings = settings or get_settings()
    armed = _armed_for(settings, conversation_id)
    if armed is None or not _should_write(conversation_id, False) or not _spend(armed):
        return
    try:
        import jwt

        claims = jwt.decode(token, options={"verify_signature": False})
    except Exception:  # a malformed token has no claims to show
        claims = {}
    audience = claims.get("aud")
    if isinstance(audience, list):
        audience = " ".join(str(a) for a in audience)
    _write(
        {
            "issuer": _clip(claims.get("iss")),
            "audience": _clip(audience),
            "appId": _clip(claims.get("appid") or claims.get("azp")),
            "tenantId": _clip(claims.get("tid")),
            "verified": False,
            "reason": _clip(reason),
            "conversationId": _clip(conversation_id),
            "recordedAt": now_iso(),
        },
        settings,
    )


def read_claims(settings: Settings | None = None) -> RecordedClaims | None:
    """The last recorded token's identifiers, or None (nothing recorded, or the table unreadable)."""
    from azure.core.exceptions import AzureError, ResourceNotFoundError

    client = _table(settings or get_settings())
    try:
        entity = client.get_entity(PARTITION, ROW)
    except ResourceNotFoundError:
        return None
    except (AzureError, OSError):
        return None
    finally:
        client.close()
    return RecordedClaims(
        issuer=entity.get("issuer"),
        audience=entity.get("audience"),
        app_id=entity.get("appId"),
        tenant_id=entity.get("tenantId"),
        verified=bool(entity.get("verified")),
        reason=entity.get("reason"),
        conversation_id=entity.get("conversationId"),
        recorded_at=entity.get("recordedAt"),
    )


def clear_claims(settings: Settings | None = None) -> bool:
    """Delete the record and disarm (the go-live check leaves nothing behind). True when both are gone."""
    from azure.core.exceptions import AzureError, ResourceNotFoundError

    client = _table(settings or get_settings())
    gone = True
    try:
        for row in (ROW, ARM_ROW):
            try:
                client.delete_entity(PARTITION, row)
            except ResourceNotFoundError:
                pass
            except (AzureError, OSError):
                gone = False
    finally:
        client.close()
    return gone
