"""What the webhook's bearer tokens say, kept for the go-live check (devtools/golive).

Microsoft documents neither the audience nor the issuer of the token it sends with each webhook
activity. The webhook records the identifiers of the LAST token it saw (issuer, audience, app id,
tenant: never the token) in the messaging table, row PartitionKey "golive", RowKey
"webhook-token"; the go-live check starts a test conversation, waits for that row and prints the
exact MESSAGING_TENANT_ID / MESSAGING_WEBHOOK_AUDIENCE values to use.

Two calls for the webhook, both best-effort (they never raise, never slow a delivery by more than
one table write, and write at most once per conversation per process):
- `record_claims(claims, conversation_id)` after `WebhookTokenValidator` accepted the token;
- `record_rejection(headers, reason, conversation_id)` after it refused one. The refused token's
  claims are read WITHOUT verifying its signature and stored marked `verified=False`: anyone may
  post a token, so the check shows them only for its own test conversation and says they are
  unverified. Without this, a wrong audience setting would leave the check nothing to compare.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared.messaging.token import TokenClaims, bearer_token
from shared.platform.settings import Settings, get_settings
from shared.platform.status_store import StoreProfile, make_table_client, now_iso

PARTITION = "golive"
ROW = "webhook-token"
MAX_FIELD_CHARS = 300

_lock = threading.Lock()
_written: set[tuple[str | None, bool]] = set()  # (conversation id, verified) already written here


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


def _should_write(conversation_id: str | None, verified: bool) -> bool:
    key = (conversation_id, verified)
    with _lock:
        if conversation_id is not None and key in _written:
            return False
        _written.add(key)
        if len(_written) > 1000:  # a long-lived worker: forget, a rewrite costs one write
            _written.clear()
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
    """Call after a token was accepted. Writes at most once per conversation per process."""
    if not _should_write(conversation_id, True):
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
    if not token or not _should_write(conversation_id, False):
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
    """Delete the row (the go-live check leaves nothing behind). True when it is gone."""
    from azure.core.exceptions import AzureError, ResourceNotFoundError

    client = _table(settings or get_settings())
    try:
        client.delete_entity(PARTITION, ROW)
    except ResourceNotFoundError:
        return True
    except (AzureError, OSError):
        return False
    finally:
        client.close()
    return True


def forget_written() -> None:
    """Tests: let this process write again for conversations it already recorded."""
    with _lock:
        _written.clear()
