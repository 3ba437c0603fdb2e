"""App settings (DESIGN section 6), read once per process and validated all at once.

A misconfigured Function App must say everything that is wrong in one message, naming settings but
never echoing a secret's value.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import os
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import lru_cache
from urllib.parse import urlsplit

STORAGE_SETTING = "AzureWebJobsStorage"
_TABLE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]{2,62}$")
_QUEUE_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9]|-(?!-))+[a-z0-9]$")
_DEADLETTER_SUFFIX = "-deadletter"
_POISON_SUFFIX = "-poison"


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

    connection_string: str | None = None
    queue_service_uri: str | None = None
    table_service_uri: str | None = None
    client_id: str | None = None

    @property
    def uses_identity(self) -> bool:
        return self.connection_string is None


@dataclass(frozen=True)
class Settings:
    """Validated settings. `repr` hides the webhook secrets."""

    dataverse_url: str
    default_queue_id: str
    webhook_secrets: tuple[str, ...]
    storage: StorageConnection
    handoff_queue: str = "handoffs"
    max_attempts: int = 10
    azure_client_id: str | None = None
    dataverse_timeout: float = 15.0
    status_table: str | None = None
    # Set when only the webhook secret is wrong: ingress must refuse (503) but the worker, which
    # never needs it, must keep delivering what was already accepted.
    webhook_secret_problem: str | None = None

    @property
    def deadletter_queue(self) -> str:
        return self.handoff_queue + _DEADLETTER_SUFFIX

    @property
    def poison_queue(self) -> str:
        return self.handoff_queue + _POISON_SUFFIX

    @property
    def dataverse_api(self) -> str:
        return f"{self.dataverse_url}/api/data/v9.2/"

    def __repr__(self) -> str:
        return (
            f"Settings(dataverse_url={self.dataverse_url!r}, default_queue_id={self.default_queue_id!r}, "
            f"webhook_secrets=<{len(self.webhook_secrets)} hidden>, handoff_queue={self.handoff_queue!r}, "
            f"max_attempts={self.max_attempts})"
        )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _dataverse_url(raw: str | None, problems: dict[str, str]) -> str:
    if not raw:
        problems["DATAVERSE_URL"] = "missing (e.g. https://contoso.crm.dynamics.com)"
        return ""
    parts = urlsplit(raw.strip())
    if parts.scheme not in ("https", "http") or not parts.hostname:
        problems["DATAVERSE_URL"] = "must be an absolute https URL such as https://contoso.crm.dynamics.com"
    elif parts.scheme == "http" and not _is_loopback(parts.hostname):
        problems["DATAVERSE_URL"] = "must use https (plain http is allowed only for loopback hosts)"
    elif parts.path not in ("", "/") or parts.query or parts.fragment:
        problems["DATAVERSE_URL"] = "must be the environment root, without a path such as /api/data"
    return raw.strip().rstrip("/")


def _guid(name: str, raw: str | None, problems: dict[str, str], required: bool) -> str | None:
    if not raw:
        if required:
            problems[name] = "missing (a GUID)"
        return None
    try:
        return str(uuid.UUID(raw.strip()))
    except ValueError:
        problems[name] = "must be a GUID"
        return None


def _webhook_secrets(raw: str | None, problems: dict[str, str]) -> tuple[str, ...]:
    name = "OPENCX_WEBHOOK_SECRET"
    if not raw or not raw.strip():
        problems[name] = "missing (one or more whsec_<base64> secrets separated by spaces)"
        return ()
    secrets = tuple(raw.split())
    for position, secret in enumerate(secrets, start=1):
        if not secret.startswith("whsec_"):
            problems[name] = f"secret #{position} must start with whsec_"
            break
        try:
            key = base64.b64decode(secret.removeprefix("whsec_"), validate=True)
        except (binascii.Error, ValueError):
            problems[name] = f"secret #{position} is not valid base64 after whsec_"
            break
        if len(key) < 16:
            problems[name] = f"secret #{position} is shorter than 16 bytes"
            break
    return secrets


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


def _queue_name(raw: str | None, problems: dict[str, str]) -> str:
    name = (raw or "handoffs").strip()
    longest = name + _DEADLETTER_SUFFIX
    if not _QUEUE_NAME.match(name) or len(longest) > 63:
        problems["HANDOFF_QUEUE"] = (
            "must be a storage queue name (lowercase letters, digits, single hyphens) short enough "
            "that '<name>-deadletter' stays within 63 characters"
        )
    return name


def _bounded_number(
    name: str,
    raw: str | None,
    problems: dict[str, str],
    *,
    kind: type[int] | type[float],
    default: float,
    low: float,
    high: float,
) -> float:
    """An optional number setting: the default when unset, a named problem when out of bounds."""
    if raw is None or not raw.strip():
        return default
    try:
        value = kind(raw)
    except ValueError:
        problems[name] = "must be a whole number" if kind is int else "must be a number"
        return default
    if not low <= value <= high:
        problems[name] = f"must be between {low:g} and {high:g}"
    return value


def _table_name(raw: str | None, problems: dict[str, str]) -> str | None:
    if raw is None or not raw.strip():
        return None
    if not _TABLE_NAME.match(raw.strip()):
        problems["HANDOFF_STATUS_TABLE"] = "must be a table name: a letter, then 2-62 letters or digits"
    return raw.strip()


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Validate every setting and raise one SettingsError listing all problems.

    A bad webhook secret alone does not raise: it is carried in `webhook_secret_problem`, so the
    queue worker keeps delivering while ingress answers 503 until the secret is fixed.
    """
    env = os.environ if env is None else env
    problems: dict[str, str] = {}
    settings = Settings(
        dataverse_url=_dataverse_url(env.get("DATAVERSE_URL"), problems),
        default_queue_id=_guid("DEFAULT_QUEUE_ID", env.get("DEFAULT_QUEUE_ID"), problems, True) or "",
        webhook_secrets=_webhook_secrets(env.get("OPENCX_WEBHOOK_SECRET"), problems),
        storage=_storage(env, problems),
        handoff_queue=_queue_name(env.get("HANDOFF_QUEUE"), problems),
        max_attempts=int(
            _bounded_number(
                "HANDOFF_MAX_ATTEMPTS",
                env.get("HANDOFF_MAX_ATTEMPTS"),
                problems,
                kind=int,
                default=10,
                low=1,
                high=100,
            )
        ),
        azure_client_id=_guid("AZURE_CLIENT_ID", env.get("AZURE_CLIENT_ID"), problems, False),
        dataverse_timeout=_bounded_number(
            "DATAVERSE_TIMEOUT_SECONDS",
            env.get("DATAVERSE_TIMEOUT_SECONDS"),
            problems,
            kind=float,
            default=15.0,
            low=1,
            high=120,
        ),
        status_table=_table_name(env.get("HANDOFF_STATUS_TABLE"), problems),
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
