"""Reading one raw setting: each function returns the value (or a default) and records a named
problem instead of raising, so settings.py can report every bad setting at once. Never echoes a
secret's value in a problem."""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import re
import uuid
from collections.abc import Mapping
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

_TABLE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]{2,62}$")
_QUEUE_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9]|-(?!-))+[a-z0-9]$")
DEADLETTER_SUFFIX = "-deadletter"  # the longest suffix a work queue gets


def is_loopback(host: str) -> bool:
    """localhost or a loopback address: the only hosts plain http is allowed for."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def root_url(name: str, raw: str | None, problems: dict[str, str], *, example: str, default: str = "") -> str:
    """An https service root (plain http only on loopback), without a trailing slash."""
    value = (raw or "").strip() or default
    if not value:
        problems[name] = f"missing (e.g. {example})"
        return ""
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        problems[name] = f"must be an absolute https URL such as {example}"
    elif parts.scheme == "http" and not is_loopback(parts.hostname):
        problems[name] = "must use https (plain http is allowed only for loopback hosts)"
    elif parts.query or parts.fragment:
        problems[name] = "must not carry a query or a fragment"
    return value.rstrip("/")


def dataverse_url(raw: str | None, problems: dict[str, str]) -> str:
    value = root_url("DATAVERSE_URL", raw, problems, example="https://contoso.crm.dynamics.com")
    if value and "DATAVERSE_URL" not in problems and urlsplit(value).path not in ("", "/"):
        problems["DATAVERSE_URL"] = "must be the environment root, without a path such as /api/data"
    return value


def guid(name: str, raw: str | None, problems: dict[str, str], required: bool) -> str | None:
    if not raw:
        if required:
            problems[name] = "missing (a GUID)"
        return None
    try:
        return str(uuid.UUID(raw.strip()))
    except ValueError:
        problems[name] = "must be a GUID"
        return None


def webhook_secrets(raw: str | None, problems: dict[str, str]) -> tuple[str, ...]:
    """Optional: OpenCX documents no signature. When set, every delivery must be signed."""
    name = "OPENCX_WEBHOOK_SECRET"
    if not raw or not raw.strip():
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


def required_text(name: str, raw: str | None, problems: dict[str, str], hint: str) -> str:
    value = (raw or "").strip()
    if not value:
        problems[name] = f"missing ({hint})"
    elif not value.isascii() or not value.isprintable() or any(char.isspace() for char in value):
        problems[name] = "must be printable ASCII without spaces (a header value)"
    return value


def optional_text(name: str, raw: str | None, problems: dict[str, str], max_length: int = 200) -> str | None:
    value = (raw or "").strip()
    if not value:
        return None
    if len(value) > max_length or any(ord(char) < 0x20 for char in value):
        problems[name] = f"must be at most {max_length} printable characters"
    return value


def choice(
    name: str, raw: str | None, problems: dict[str, str], enum: type[StrEnum], default: StrEnum
) -> Any:
    value = (raw or "").strip().lower()
    if not value:
        return default
    try:
        return enum(value)
    except ValueError:
        problems[name] = "must be one of " + ", ".join(member.value for member in enum)
        return default


def flag(name: str, raw: str | None, problems: dict[str, str], default: bool) -> bool:
    value = (raw or "").strip().lower()
    if not value:
        return default
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    problems[name] = "must be true or false"
    return default


def json_object(name: str, raw: str | None, problems: dict[str, str]) -> dict[str, object]:
    """A JSON object of extra Dataverse columns. A bad value is named, its content never echoed."""
    if not raw or not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        problems[name] = "must be a JSON object (it is not valid JSON)"
        return {}
    if not isinstance(value, dict) or not all(isinstance(key, str) and key for key in value):
        problems[name] = "must be a JSON object of column names to values"
        return {}
    return value


def queue_name(setting: str, raw: str | None, problems: dict[str, str], default: str) -> str:
    name = (raw or default).strip()
    longest = name + DEADLETTER_SUFFIX
    if not _QUEUE_NAME.match(name) or len(longest) > 63:
        problems[setting] = (
            "must be a storage queue name (lowercase letters, digits, single hyphens) short enough "
            "that '<name>-deadletter' stays within 63 characters"
        )
    return name


def bounded_number(
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


def table_name(setting: str, raw: str | None, problems: dict[str, str]) -> str | None:
    if raw is None or not raw.strip():
        return None
    if not _TABLE_NAME.match(raw.strip()):
        problems[setting] = "must be a table name: a letter, then 2-62 letters or digits"
    return raw.strip()


def number(env: Mapping[str, str], name: str, problems: dict[str, str], **bounds: Any) -> float:
    return bounded_number(name, env.get(name), problems, **bounds)
