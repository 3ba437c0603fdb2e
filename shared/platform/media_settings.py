"""The settings for files crossing the bridge (docs/messaging.md, "Pictures and files"):
MEDIA_MAX_BYTES, MEDIA_ALLOWED_HOSTS, MEDIA_ALLOWED_TYPES and MEDIA_TIMEOUT_SECONDS, validated
with the rest so a bad host or type is refused at load, naming the setting.

Hosts and types given here WIDEN the defaults (shared/media/policy.py derives the hosts from the
Dataverse, Messaging API and OpenCX URLs); nothing here can narrow them below what the bridge's own
services need.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from shared.platform import setting_values as read
from shared.platform.limits import MMS_MAX_TOTAL_BYTES

DEFAULT_MAX_BYTES = MMS_MAX_TOTAL_BYTES  # what one SMS (MMS) message carries in all
DEFAULT_TIMEOUT_SECONDS = 20.0
CEILING = 100 * 1024 * 1024  # MEDIA_MAX_BYTES at most
DEFAULT_TYPES = ("image/*", "application/pdf", "text/plain")
_HOST = re.compile(r"^(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*(:[0-9]{1,5})?$")
_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]*/(\*|[a-z0-9][a-z0-9!#$&^_.+-]*)$")


@dataclass(frozen=True)
class MediaSettings:
    max_bytes: int = DEFAULT_MAX_BYTES  # 0: no file crosses; each becomes a text notice
    extra_hosts: tuple[str, ...] = ()
    extra_types: tuple[str, ...] = ()
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS


def _items(raw: str | None) -> list[str]:
    return [item.strip().lower() for item in (raw or "").replace(";", ",").split(",") if item.strip()]


def _valid_host(host: str) -> bool:
    """`host`, `host:port` (1-65535) or `*.domain.tld` (https on 443: a wildcard takes no port)."""
    if not _HOST.match(host):
        return False
    name, _, port = host.partition(":")
    if name.startswith("*."):
        return not port and name.count(".") >= 2
    return not port or 0 < int(port) < 65536


def _hosts(raw: str | None, problems: dict[str, str]) -> tuple[str, ...]:
    hosts = _items(raw)
    bad = [host for host in hosts if not _valid_host(host)]
    if bad:
        problems["MEDIA_ALLOWED_HOSTS"] = (
            "comma-separated host names (host, host:port or *.domain.tld), not " + ", ".join(bad[:3])
        )
    return tuple(hosts)


def _types(raw: str | None, problems: dict[str, str]) -> tuple[str, ...]:
    types = _items(raw)
    bad = [kind for kind in types if not _TYPE.match(kind) or kind.startswith("*")]
    if bad:
        problems["MEDIA_ALLOWED_TYPES"] = (
            "comma-separated MIME types (type/subtype or type/*), not " + ", ".join(bad[:3])
        )
    return tuple(types)


def load_media(env: Mapping[str, str], problems: dict[str, str]) -> MediaSettings:
    return MediaSettings(
        max_bytes=int(
            read.number(
                env, "MEDIA_MAX_BYTES", problems, kind=int, default=DEFAULT_MAX_BYTES, low=0, high=CEILING
            )
        ),
        extra_hosts=_hosts(env.get("MEDIA_ALLOWED_HOSTS"), problems),
        extra_types=_types(env.get("MEDIA_ALLOWED_TYPES"), problems),
        timeout_seconds=read.number(
            env,
            "MEDIA_TIMEOUT_SECONDS",
            problems,
            kind=float,
            default=DEFAULT_TIMEOUT_SECONDS,
            low=1,
            high=120,
        ),
    )
