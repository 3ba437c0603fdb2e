"""Which file URLs the bridge may fetch, and which files it may pass on (docs/messaging.md,
"Pictures and files").

A URL is fetched only when it came from an authenticated source (a validated Microsoft activity, the
OpenCX API: the callers' job) AND this policy allows it: https, or plain http to a loopback host
(the simulators); a host on the allow-list, matched with its port, so being on loopback allows no
host by itself. The list is derived from the services the bridge already trusts (the Dataverse org,
the Messaging API, the OpenCX API) plus MEDIA_ALLOWED_HOSTS. A `*.domain` entry allows that
domain's subdomains over https on port 443.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass

from urllib3.exceptions import LocationParseError
from urllib3.util import parse_url

from shared.platform.media_settings import DEFAULT_TYPES
from shared.platform.setting_values import is_loopback
from shared.platform.settings import Settings

_DEFAULT_PORTS = {"https": 443, "http": 80}
HOST_NOT_ALLOWED = "its host is not allowed"
_NAMED_ONLY = frozenset({"image/svg+xml"})  # not covered by image/*


# What a host may be: a DNS name (letters, digits, hyphens, dots, no trailing dot), an IPv4 address,
# or a bracketed IPv6 address. Anything else (a backslash, a space, an encoded character) is refused:
# two URL parsers could read such a host two ways, and the one that connects must be the one checked.
_HOST = re.compile(
    r"^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*|\[[0-9a-f:.]+\])$"
)
_UNSAFE = re.compile(r"[\x00-\x20\x7f\\]")


def origin_of(url: str) -> tuple[str, str, int] | str:
    """(scheme, host, port) as urllib3, which connects, reads the URL; or why it cannot be used."""
    authority = url.partition("//")[2].partition("/")[0].partition("?")[0]
    if _UNSAFE.search(url) or "%" in authority:
        return "its link is not valid"
    try:
        parts = parse_url(url)
    except LocationParseError:
        return "its link is not valid"
    scheme, host = (parts.scheme or "").lower(), (parts.host or "").lower()
    if scheme not in _DEFAULT_PORTS or not host:
        return "its link is not https"
    if parts.auth:
        return "its link carries credentials"
    if not _HOST.match(host):
        return "its link is not valid"
    return scheme, host, parts.port or _DEFAULT_PORTS[scheme]


@dataclass(frozen=True)
class MediaPolicy:
    hosts: frozenset[str]  # "host:port", lower case
    domains: tuple[str, ...]  # ".example.com" suffixes, https on 443 only
    types: tuple[str, ...]  # "type/subtype" or "type/*"
    max_bytes: int
    timeout_seconds: float
    named: frozenset[str] = frozenset()  # "host:port" of MEDIA_ALLOWED_HOSTS' plain entries (no wildcard)

    def url_refusal(self, url: str) -> str | None:
        """Why this URL may not be fetched nor passed on, or None when it may."""
        origin = origin_of(url)
        if isinstance(origin, str):
            return origin
        scheme, host, port = origin
        if scheme == "http" and not is_loopback(host.strip("[]")):
            return "its link is not https"
        if f"{host}:{port}" in self.hosts:
            return None
        if scheme == "https" and port == 443 and any(host.endswith(d) for d in self.domains):
            return None
        return HOST_NOT_ALLOWED

    def same_origin(self, first: str, second: str) -> bool:
        """A redirect is followed only to the same scheme, host and port."""
        a, b = origin_of(first), origin_of(second)
        return not isinstance(a, str) and a == b

    def allows_type(self, content_type: str | None) -> bool:
        """SVG is an image that can carry script: passed on only when a setting names it."""
        kind = (content_type or "").split(";")[0].strip().lower()
        if kind in _NAMED_ONLY and kind not in self.types:
            return False
        return bool(kind) and any(fnmatch.fnmatchcase(kind, pattern) for pattern in self.types)


def _host_port(url: str) -> str | None:
    origin = origin_of(url)
    return None if isinstance(origin, str) else f"{origin[1]}:{origin[2]}"


def _entry(value: str) -> str:
    return value if ":" in value else f"{value}:443"


def policy_for(settings: Settings) -> MediaPolicy:
    """The policy the settings give: the trusted services' own hosts plus MEDIA_ALLOWED_HOSTS."""
    own = [settings.dataverse_url, settings.opencx_api_url, settings.messaging.api_url]
    hosts = {host for host in (_host_port(url) for url in own if url) if host}
    domains: list[str] = []
    named: set[str] = set()
    for extra in settings.media.extra_hosts:
        if extra.startswith("*."):
            domains.append(extra[1:])
        else:
            named.add(_entry(extra))
    hosts |= named
    return MediaPolicy(
        hosts=frozenset(hosts),
        domains=tuple(domains),
        types=tuple(dict.fromkeys((*DEFAULT_TYPES, *settings.media.extra_types))),
        max_bytes=settings.media.max_bytes,
        timeout_seconds=settings.media.timeout_seconds,
        named=frozenset(named),
    )
