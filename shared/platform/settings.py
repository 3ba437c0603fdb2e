"""App settings (docs/contract.md section 7), read once per process and validated all at once.

A misconfigured Function App must say everything that is wrong in one message, naming settings but
never echoing a secret's value.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from functools import lru_cache
from urllib.parse import urlsplit

from shared.platform import setting_values as read
from shared.platform.concierge_settings import ConciergeSettings, load_concierge
from shared.platform.media_settings import MediaSettings, load_media
from shared.platform.setting_values import DEADLETTER_SUFFIX

STORAGE_SETTING = "AzureWebJobsStorage"
_POISON_SUFFIX = "-poison"


def deadletter_queue_of(queue: str) -> str:
    """Where a queue's dead letters go: `<queue>-deadletter`, for the handoff and the relay queue alike."""
    return queue + DEADLETTER_SUFFIX


class SettingsError(RuntimeError):
    """Every missing or invalid setting, in one message. Holds names and reasons, never values."""

    def __init__(self, problems: dict[str, str]) -> None:
        self.problems = problems
        listed = "; ".join(f"{name}: {reason}" for name, reason in problems.items())
        super().__init__(f"invalid app settings ({len(problems)}): {listed}")


@dataclass(frozen=True)
class StorageConnection:
    """How the code's own queue and table clients reach the host's storage account.

    Either a connection string (Azurite, local) or identity-based service URIs (Azure), the same
    two forms the Functions host accepts for AzureWebJobsStorage.
    """

    connection_string: str | None = field(default=None, repr=False)
    queue_service_uri: str | None = None
    table_service_uri: str | None = None
    client_id: str | None = None


class DeliveryMode(StrEnum):
    WORK_ITEM = "work_item"
    MESSAGING = "messaging"


class OwnerType(StrEnum):
    USER = "user"
    TEAM = "team"


@dataclass(frozen=True)
class MessagingSettings:
    """Mode `messaging` (contract section 8). Validated only when that mode is chosen."""

    api_url: str = ""
    channel_id: str = ""
    organization_id: str = ""
    token_scope: str = ""
    tenant_id: str = ""
    webhook_audience: tuple[str, ...] = ()
    jwks_url: str | None = None
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    webhook_app_ids: tuple[str, ...] = ()  # the channel's registered app(s): the only callers


@dataclass(frozen=True)
class Settings:
    """Validated settings. Secrets are kept out of `repr`."""

    dataverse_url: str
    default_queue_id: str
    opencx_api_key: str = field(repr=False)
    storage: StorageConnection
    webhook_secrets: tuple[str, ...] = field(default=(), repr=False)
    opencx_api_url: str = "https://api.open.cx"
    opencx_timeout: float = 10.0
    organization_id: str | None = None
    delivery_mode: DeliveryMode = DeliveryMode.WORK_ITEM
    workstreams: dict[str, str] = field(default_factory=dict)  # channel -> workstream id
    incident_priority: int = 2
    incident_owner_id: str | None = None
    incident_owner_type: OwnerType = OwnerType.USER
    incident_queue_id: str | None = None
    incident_extra_fields: dict[str, object] = field(default_factory=dict, repr=False)
    create_missing_contacts: bool = True
    handoff_queue: str = "handoffs"
    max_attempts: int = 10
    max_age_seconds: float = 86_400
    dedup_window_seconds: float = 900
    history_max_pages: int = 20
    azure_client_id: str | None = None
    dataverse_timeout: float = 15.0
    status_table: str | None = None
    opencx_agent_sender: str = "agent"
    messaging: MessagingSettings = field(default_factory=MessagingSettings)
    messaging_queue: str = "messaging"
    messaging_table: str = "messaging"
    messaging_reconcile_seconds: float = 300.0
    concierge: ConciergeSettings = field(default_factory=ConciergeSettings)
    media: MediaSettings = field(default_factory=MediaSettings)
    # Set when only the webhook secret is wrong: ingress must refuse (503) but the worker, which
    # never needs it, must keep delivering what was already accepted.
    webhook_secret_problem: str | None = None

    @property
    def deadletter_queue(self) -> str:
        return deadletter_queue_of(self.handoff_queue)

    @property
    def poison_queue(self) -> str:
        return self.handoff_queue + _POISON_SUFFIX

    def workstream_for(self, channel: str) -> str:
        """The channel's own workstream (one workstream serves one channel), else DEFAULT_QUEUE_ID."""
        return self.workstreams.get(channel) or self.default_queue_id


def _storage(env: Mapping[str, str], problems: dict[str, str]) -> StorageConnection:
    connection_string = env.get(STORAGE_SETTING, "").strip()
    if connection_string:
        fields = dict(part.split("=", 1) for part in connection_string.split(";") if "=" in part)
        if connection_string != "UseDevelopmentStorage=true" and not (
            "AccountName" in fields or "QueueEndpoint" in fields
        ):
            problems[STORAGE_SETTING] = "is not a storage connection string"
        return StorageConnection(connection_string=connection_string)

    prefix = STORAGE_SETTING + "__"
    account = env.get(prefix + "accountName", "").strip()
    queue_uri = env.get(prefix + "queueServiceUri", "").strip()
    table_uri = env.get(prefix + "tableServiceUri", "").strip()
    if account:
        queue_uri = queue_uri or f"https://{account}.queue.core.windows.net"
        table_uri = table_uri or f"https://{account}.table.core.windows.net"
    if not queue_uri:
        problems[STORAGE_SETTING] = (
            "missing: set a connection string, or AzureWebJobsStorage__accountName / "
            "__queueServiceUri with __credential=managedidentity"
        )
        return StorageConnection()
    credential = env.get(prefix + "credential", "managedidentity").strip().lower()
    if credential != "managedidentity":
        problems[prefix + "credential"] = "must be managedidentity for identity-based storage"
    client_id = env.get(prefix + "clientId", "").strip() or None
    return StorageConnection(
        queue_service_uri=queue_uri.rstrip("/"),
        table_service_uri=table_uri.rstrip("/") if table_uri else None,
        client_id=client_id,
    )


def _messaging(env: Mapping[str, str], problems: dict[str, str]) -> MessagingSettings:
    """Required only in mode `messaging`; the caller discards these problems in the other mode."""
    audience = tuple((env.get("MESSAGING_WEBHOOK_AUDIENCE") or "").split())
    if not audience:
        problems["MESSAGING_WEBHOOK_AUDIENCE"] = (
            "missing (the app id or Application ID URI of the webhook's tokens)"
        )
    jwks = (env.get("MESSAGING_JWKS_URL") or "").strip() or None
    if jwks:
        parts = urlsplit(jwks)
        if not (
            parts.scheme == "https" or (parts.scheme == "http" and read.is_loopback(parts.hostname or ""))
        ):
            problems["MESSAGING_JWKS_URL"] = "must be https, or plain http on a loopback host (tests)"
    return MessagingSettings(
        api_url=read.root_url(
            "MESSAGING_API_URL",
            env.get("MESSAGING_API_URL"),
            problems,
            example="https://m-<org id>.<geo>.omnichannelengagementhub.com",
        ),
        channel_id=read.guid("MESSAGING_CHANNEL_ID", env.get("MESSAGING_CHANNEL_ID"), problems, True) or "",
        organization_id=read.guid(
            "MESSAGING_ORGANIZATION_ID", env.get("MESSAGING_ORGANIZATION_ID"), problems, True
        )
        or "",
        token_scope=read.required_text(
            "MESSAGING_TOKEN_SCOPE",
            env.get("MESSAGING_TOKEN_SCOPE"),
            problems,
            "https://<org>-c.<zone>.dynamics.com/.default",
        ),
        tenant_id=read.guid("MESSAGING_TENANT_ID", env.get("MESSAGING_TENANT_ID"), problems, True) or "",
        webhook_audience=audience,
        jwks_url=jwks,
        client_id=read.guid("MESSAGING_CLIENT_ID", env.get("MESSAGING_CLIENT_ID"), problems, False),
        client_secret=(env.get("MESSAGING_CLIENT_SECRET") or "").strip() or None,
        webhook_app_ids=_webhook_app_ids(env, problems),
    )


def _webhook_app_ids(env: Mapping[str, str], problems: dict[str, str]) -> tuple[str, ...]:
    """Only the channel's registered app (`msdyn_appid`) may call the webhook: any app in the
    tenant can get a token for our audience. Several ids (a rotation); default MESSAGING_CLIENT_ID."""
    name = "MESSAGING_WEBHOOK_APP_ID"
    raw = (env.get(name) or "").split() or (env.get("MESSAGING_CLIENT_ID") or "").split()[:1]
    if not raw:
        problems[name] = "missing (the app id of the channel's registration; default MESSAGING_CLIENT_ID)"
    ids = tuple(dict.fromkeys(read.guid(name, value, problems, True) or "" for value in raw))
    return tuple(i for i in ids if i)


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Validate every setting and raise one SettingsError listing all problems.

    A bad webhook secret alone does not raise: it is carried in `webhook_secret_problem`, so the
    queue worker keeps delivering while ingress answers 503 until the secret is fixed.
    """
    env = os.environ if env is None else env
    problems: dict[str, str] = {}
    mode = read.choice(
        "DELIVERY_MODE", env.get("DELIVERY_MODE"), problems, DeliveryMode, DeliveryMode.WORK_ITEM
    )
    messaging_problems: dict[str, str] = {}
    messaging = _messaging(env, messaging_problems)
    if mode is DeliveryMode.MESSAGING:
        problems.update(messaging_problems)
    workstreams = {
        channel: value
        for channel in ("sms", "whatsapp", "web")
        if (
            value := read.guid(
                f"WORKSTREAM_ID_{channel.upper()}",
                env.get(f"WORKSTREAM_ID_{channel.upper()}"),
                problems,
                False,
            )
        )
    }
    settings = Settings(
        dataverse_url=read.dataverse_url(env.get("DATAVERSE_URL"), problems),
        default_queue_id=read.guid("DEFAULT_QUEUE_ID", env.get("DEFAULT_QUEUE_ID"), problems, True) or "",
        opencx_api_key=read.required_text(
            "OPENCX_API_KEY", env.get("OPENCX_API_KEY"), problems, "an OpenCX API key with chat-sessions:read"
        ),
        storage=_storage(env, problems),
        webhook_secrets=read.webhook_secrets(env.get("OPENCX_WEBHOOK_SECRET"), problems),
        opencx_api_url=read.root_url(
            "OPENCX_API_URL",
            env.get("OPENCX_API_URL"),
            problems,
            example="https://api.open.cx",
            default="https://api.open.cx",
        ),
        opencx_timeout=read.number(
            env, "OPENCX_TIMEOUT_SECONDS", problems, kind=float, default=10.0, low=1, high=60
        ),
        organization_id=read.optional_text(
            "OPENCX_ORGANIZATION_ID", env.get("OPENCX_ORGANIZATION_ID"), problems
        ),
        delivery_mode=mode,
        workstreams=workstreams,
        incident_priority=int(
            read.number(env, "INCIDENT_PRIORITY", problems, kind=int, default=2, low=1, high=999_999)
        ),
        incident_owner_id=read.guid("INCIDENT_OWNER_ID", env.get("INCIDENT_OWNER_ID"), problems, False),
        incident_owner_type=read.choice(
            "INCIDENT_OWNER_TYPE", env.get("INCIDENT_OWNER_TYPE"), problems, OwnerType, OwnerType.USER
        ),
        incident_queue_id=read.guid("INCIDENT_QUEUE_ID", env.get("INCIDENT_QUEUE_ID"), problems, False),
        incident_extra_fields=read.json_object(
            "INCIDENT_EXTRA_FIELDS", env.get("INCIDENT_EXTRA_FIELDS"), problems
        ),
        create_missing_contacts=read.flag(
            "CREATE_MISSING_CONTACTS", env.get("CREATE_MISSING_CONTACTS"), problems, True
        ),
        handoff_queue=read.queue_name("HANDOFF_QUEUE", env.get("HANDOFF_QUEUE"), problems, "handoffs"),
        max_attempts=int(
            read.number(env, "HANDOFF_MAX_ATTEMPTS", problems, kind=int, default=10, low=1, high=100)
        ),
        max_age_seconds=read.number(
            env, "HANDOFF_MAX_AGE_SECONDS", problems, kind=int, default=86_400, low=60, high=7 * 86_400
        ),
        dedup_window_seconds=read.number(
            env, "HANDOFF_DEDUP_WINDOW_SECONDS", problems, kind=int, default=900, low=0, high=86_400
        ),
        history_max_pages=int(
            read.number(env, "HISTORY_MAX_PAGES", problems, kind=int, default=20, low=1, high=100)
        ),
        azure_client_id=read.guid("AZURE_CLIENT_ID", env.get("AZURE_CLIENT_ID"), problems, False),
        dataverse_timeout=read.number(
            env, "DATAVERSE_TIMEOUT_SECONDS", problems, kind=float, default=15.0, low=1, high=120
        ),
        status_table=read.table_name("HANDOFF_STATUS_TABLE", env.get("HANDOFF_STATUS_TABLE"), problems),
        opencx_agent_sender=read.optional_text(
            "OPENCX_AGENT_SENDER", env.get("OPENCX_AGENT_SENDER"), problems, 40
        )
        or "agent",
        messaging=messaging,
        messaging_queue=read.queue_name("MESSAGING_QUEUE", env.get("MESSAGING_QUEUE"), problems, "messaging"),
        messaging_table=read.table_name("MESSAGING_TABLE", env.get("MESSAGING_TABLE"), problems)
        or "messaging",
        messaging_reconcile_seconds=read.number(
            env, "MESSAGING_RECONCILE_SECONDS", problems, kind=float, default=300, low=0, high=86_400
        ),
        concierge=load_concierge(env, problems),
        media=load_media(env, problems),
    )
    secret_problem = problems.get("OPENCX_WEBHOOK_SECRET")
    if problems and set(problems) != {"OPENCX_WEBHOOK_SECRET"}:
        raise SettingsError(problems)
    if secret_problem:
        settings = replace(settings, webhook_secret_problem=f"OPENCX_WEBHOOK_SECRET: {secret_problem}")
    return settings


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, validated on first use. Tests call get_settings.cache_clear()."""
    return load_settings()
